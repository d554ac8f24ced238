"""Every stage is a notebook, a params file and a package of one name; the notebook follows the
house style and the package exposes what the notebooks use, nothing more."""

import __future__

import ast
import importlib
from types import ModuleType

import nbformat
import pytest
import yaml

from personalab.core.paths import STAGES, project_paths

PATHS = project_paths()


def parameters_cell(nb):
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell must be tagged 'parameters'"
    return tagged[0]


def literal_assignments(source: str) -> dict:
    values = {}
    for node in ast.parse(source).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, (
            f"not a plain assignment: {ast.unparse(node)}"
        )
        values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


@pytest.mark.parametrize("stage", list(STAGES))
def test_parameters_cell_equals_params_file(stage):
    nb = nbformat.read(PATHS.notebook(stage), as_version=4)
    in_notebook = literal_assignments(parameters_cell(nb).source)
    in_yaml = yaml.safe_load(PATHS.params_file(stage).read_text())
    assert in_notebook == in_yaml


@pytest.mark.parametrize("stage", list(STAGES))
def test_notebook_is_committed_clean_and_thin(stage):
    nb = nbformat.read(PATHS.notebook(stage), as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "personalab"
    assert nb.cells[0].cell_type == "markdown", "a notebook opens with its purpose"
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert not cell.get("outputs"), "notebooks are committed without outputs"
        assert cell.get("execution_count") is None
        tree = ast.parse(cell.source)
        defs = [
            n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef | ast.Lambda)
        ]
        assert not defs, "no function or class definitions in notebooks: put them in src/personalab"


@pytest.mark.parametrize("stage", list(STAGES))
def test_stage_is_wired_into_dvc(stage):
    dvc = yaml.safe_load((PATHS.root / "dvc.yaml").read_text())["stages"][stage]
    cmd = dvc["cmd"] if isinstance(dvc["cmd"], str) else " ".join(dvc["cmd"])
    notebook = PATHS.notebook(stage).relative_to(PATHS.root).as_posix()
    assert f"papermill {notebook} reports/executed/{PATHS.notebook(stage).name}" in cmd
    assert f"-f params/{stage}.yaml" in cmd and "-k personalab" in cmd and "--cwd ." in cmd
    # kernels on Unix sockets (no TCP port to lose at start); the kernel attaches the executed
    # notebook to the stage's run
    assert "--engine personalab" in cmd
    assert notebook in dvc["deps"]
    assert {f"src/personalab/{stage}", "src/personalab"} & set(dvc["deps"])  # its package
    assert {f"params/{stage}.yaml": None} in dvc["params"]
    assert any(f"reports/metrics/{stage}.json" in m for m in dvc["metrics"])


def names_used_from(package: str) -> set[str]:
    """Attributes of ``package`` read by the notebooks that import it as ``from personalab import``."""
    used = set()
    for stage in STAGES:
        nb = nbformat.read(PATHS.notebook(stage), as_version=4)
        tree = ast.parse("\n".join(c.source for c in nb.cells if c.cell_type == "code"))
        imports = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "personalab"
            for alias in node.names
            if alias.name == package
        }
        used |= {
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in imports
        }
    return used


@pytest.mark.parametrize("stage", list(STAGES))
def test_stage_package_exposes_exactly_what_the_notebooks_use(stage):
    assert (PATHS.root / "src" / "personalab" / stage / "__init__.py").is_file()
    package = importlib.import_module(f"personalab.{stage}")
    public = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_") and not isinstance(value, ModuleType | __future__._Feature)
    }
    assert set(package.__all__) == names_used_from(stage)
    assert public == set(package.__all__), "the package re-exports only what notebooks use"
