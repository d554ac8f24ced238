"""The environment is pinned exactly, and environment.yml (conda) agrees with pyproject.toml."""

import re
import tomllib

import yaml

from tests.conftest import ROOT

PIN = re.compile(
    r"^([A-Za-z0-9_.\-]+)(?:\[[a-z0-9_,\-]+\])?==([^\s;]+)$"
)  # extras are not part of the name


def pins(lines):
    out = {}
    for line in lines:
        match = PIN.match(line.strip())
        assert match, f"not an exact pin: {line!r}"
        out[match.group(1).lower()] = match.group(2)
    return out


def pyproject_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return pins(project["dependencies"] + project["optional-dependencies"]["dev"])


def test_every_direct_dependency_is_pinned_exactly():
    core = {
        "jupyterlab",
        "papermill",
        "pandas",
        "scikit-learn",
        "xgboost-cpu",
        "optuna",
        "mlflow",
        "scikit-surprise",
        "dvc",
    }
    assert core <= set(pyproject_pins())


def test_environment_yml_matches_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict))
    assert pins(pip_section) == pyproject_pins()
    python = next(
        dep for dep in env["dependencies"] if isinstance(dep, str) and dep.startswith("python")
    )
    assert python == "python=3.11"


def test_lock_file_agrees_with_pyproject():
    lock = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            lock.update(pins([line]))
    for name, version in pyproject_pins().items():
        assert lock.get(name) == version, (
            f"requirements.lock has {name}=={lock.get(name)}, pyproject {version}"
        )
