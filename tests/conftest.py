"""Shared fixtures: the project root, a throw-away copy of the project, isolated MLflow."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def project_files(root: Path = ROOT) -> list[str]:
    """Files a fresh clone would have (tracked, or new and not ignored)."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in out.splitlines() if (root / line).is_file()]


def copy_project(dest: Path) -> Path:
    """Copy the project's versioned files (not data, runs or the environment) to ``dest``."""
    for rel in project_files():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)
    return dest


def tool_env(**extra: str) -> dict[str, str]:
    """The environment for running the project's tools in a subprocess."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "PERSONALAB_ROOT")
    }
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    # the kernels papermill starts draw inline (the executed notebooks hold their figures)
    env.pop("MPLBACKEND", None)
    env.update(extra)
    return env


def run_tool(cmd: list[str], root: Path, timeout: float = 900, **env: str) -> str:
    """Run a project tool (dvc, git, python) in ``root``; its output, or a failed test with the
    end of its log."""
    done = subprocess.run(
        cmd, cwd=root, env=tool_env(**env), capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, (
        f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    )
    return done.stdout + done.stderr


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A copy of the project in a temporary folder (no data, no mlflow.db)."""
    return copy_project(tmp_path / "project")


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite store with its tables and nothing else, made once per session: a copy
    opens in about a second, where creating the tables takes several. Its Default experiment
    keeps artifacts beside it (MLflow's default is ``./mlruns`` under the working directory:
    the project folder)."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    folder = tmp_path_factory.mktemp("store")
    SqlAlchemyStore(f"sqlite:///{folder / 'mlflow.db'}", (folder / "mlruns").as_uri())
    return folder / "mlflow.db"


#: Spark set for the tests' small data: their time goes to planning and compiling, not to rows;
#: generated code and adaptive re-planning cost more than they save (the features engine tests:
#: 215 s -> 150 s; Spark Connect on the hand rows: 76 s -> 33 s). A short-lived JVM spends its
#: CPU compiling hot code twice over; the quick compiler alone (C1) and one GC thread cut the
#: ingest engine tests' CPU time from 166 s to 106 s (whole machine, /proc/stat), at no wall time
SMALL_SPARK = {
    "spark.sql.shuffle.partitions": 2,
    "spark.sql.adaptive.enabled": False,
    "spark.sql.codegen.wholeStage": False,
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
}


@pytest.fixture(scope="session")
def spark_engine():
    """One Spark session (one JVM) for the whole test session, in local mode: two cores, few
    shuffle partitions (small data). Tests that take it are marked slow."""
    from personalab.engine import EngineParams, SparkParams, connect

    spark = SparkParams(master="local[2]", config=SMALL_SPARK)
    engine = connect(EngineParams(engine="spark", spark=spark))
    yield engine
    engine.close()


@pytest.fixture
def mlflow_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_store: Path) -> str:
    """Point MLflow at a throw-away SQLite store (a copy of :func:`empty_store`)."""
    import mlflow

    shutil.copy2(empty_store, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # experiments made in it keep artifacts in MLflow's default, ./mlruns: here, not the project
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    yield uri
    if mlflow.active_run():
        mlflow.end_run()


def run_notebook(root: Path, stage: str, *extra: str) -> subprocess.CompletedProcess:
    """Run a stage's notebook with papermill exactly as dvc.yaml does (its kernel attaches the
    executed notebook to the stage's run)."""
    from personalab.core.paths import STAGES

    name = STAGES[stage]
    cmd = [
        "papermill", f"notebooks/{name}.ipynb", f"reports/executed/{name}.ipynb",
        "-f", f"params/{stage}.yaml", "-k", "personalab", "--cwd", ".", "--no-progress-bar", "--engine", "personalab", *extra,
    ]  # fmt: skip
    return subprocess.run(
        cmd, cwd=root, env=tool_env(), capture_output=True, text=True, timeout=600
    )


def update_params(root: Path, stage: str, update: dict) -> dict:
    """Merge ``update`` into params/<stage>.yaml (one level deep) and return the result."""
    import yaml

    path = root / "params" / f"{stage}.yaml"
    params = yaml.safe_load(path.read_text())
    for key, value in update.items():
        params[key] = {**params[key], **value} if isinstance(value, dict) else value
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return params


#: a synthetic log small enough for tests (about 8,000 events), long enough for 2 cut-offs
TINY_SYNTH = {"n_users": 300, "n_items": 150, "n_days": 21, "bot_users": 2}


def stage_runs(root: Path, stage: str) -> tuple:
    """(client, the stage's one parent run, its child runs) in the project's mlflow.db; every
    child must belong to that parent."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name(stage).experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1, [r.info.run_name for r in parents]
    assert {c.data.tags["mlflow.parentRunId"] for c in children} <= {parents[0].info.run_id}
    return client, parents[0], children
