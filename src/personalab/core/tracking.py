"""MLflow tracking for stage runs: the embedded SQLite default, tags, and notebook attachment.

Every stage notebook calls :func:`start_stage_run` right after validating its
parameters and :func:`end_stage_run` in its last cell. When every cell has run, the kernel
renders the executed notebook to HTML and attaches both files to that run
(:func:`attach_executed_notebook`, called by the pipeline's papermill engine,
:mod:`personalab.tools.kernels`; by hand: ``python -m personalab.core.tracking attach <stage>``).
The run id is passed along in ``reports/runs/<stage>.json``, written only when the run finishes.

Run status: in a notebook, a cell that raises ends the stage run FAILED with the tag
``error`` (``Type: message``); a run whose process was killed is marked FAILED by the
next start of any stage (:func:`fail_dead_runs`).

Tracking goes to ``sqlite:///<project>/mlflow.db`` with artifacts under
``<project>/mlartifacts/`` unless ``MLFLOW_TRACKING_URI`` points elsewhere; a copied or moved
project's store is pointed at its own ``mlartifacts/`` when a stage starts
(:func:`personalab.core.experiments.relocate_artifacts`). Nested runs (candidates, trials) and
a stage's choice among them: :mod:`personalab.core.nested_runs`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from personalab.core.experiments import (
    EXPERIMENT_KIND,
    configure_mlflow,
    ensure_experiment,
    relocate_artifacts,
    tracking_uri,
)
from personalab.core.nested_runs import log_child_run, log_choice, numeric_metrics, param_value
from personalab.core.params import StageParams
from personalab.core.paths import STAGES, ProjectPaths, project_paths
from personalab.core.storage import write_json, write_text

#: what stage notebooks and stage packages use from here (experiments and nested runs live in
#: :mod:`personalab.core.experiments` and :mod:`personalab.core.nested_runs`)
__all__ = [
    "EXPERIMENT_KIND",
    "attach_executed_notebook",
    "configure_mlflow",
    "end_skipped_run",
    "end_stage_run",
    "ensure_experiment",
    "log_child_run",
    "log_choice",
    "log_stage_outputs",
    "pinned_requirements",
    "start_stage_run",
    "tracking_uri",
]

#: what ``git_dirty`` looks at: the code, notebooks, params and environment of a run
_CODE_PATHS = ("src", "notebooks", "params", "dvc.yaml", "pyproject.toml", "requirements.lock")
_MAX_ERROR_LENGTH = 500
#: the ``error`` tag of a run whose process went away before it ended
KILLED_ERROR = "did not finish (killed or interrupted)"
#: tags naming the process that runs a stage, so a later start can tell whether it is gone
PID_TAG, HOST_TAG = "personalab.pid", "personalab.host"
#: the stage run this process has open: its id, pointer file and the pointer's content
_open_run: dict[str, Any] = {}


def file_md5(path: Path | str, chunk_size: int = 1 << 20) -> str:
    """MD5 of a file's bytes (the hash DVC records for a file)."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def data_version(inputs: Sequence[Path | str], root: Path) -> dict[str, str]:
    """Tags ``data.<path>`` -> md5 for each existing input file (folders: md5 of their file hashes)."""
    tags: dict[str, str] = {}
    for item in inputs:
        path = Path(item)
        path = path if path.is_absolute() else root / path
        if path.is_file():
            digest = file_md5(path)
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.name != ".gitkeep")
            if not files:
                continue
            listing = "\n".join(f"{p.relative_to(path)} {file_md5(p)}" for p in files)
            digest = hashlib.md5(listing.encode()).hexdigest() + ".dir"
        else:
            continue
        try:
            name = path.resolve().relative_to(root).as_posix()
        except ValueError:
            name = path.as_posix()
        tags[f"data.{name}"] = digest
    return tags


def run_name(stage: str, tags: Mapping[str, str]) -> str:
    """``<stage>-data<hash of its inputs>-<dvc experiment name, else the start time>``, so a run
    list tells apart runs on other data and runs of other experiments."""
    data = "\n".join(f"{k} {v}" for k, v in sorted(tags.items()) if k.startswith("data."))
    parts = [stage]
    if data:
        parts.append("data" + hashlib.md5(data.encode()).hexdigest()[:6])
    parts.append(tags.get("dvc_exp_name") or datetime.now(UTC).strftime("%Y%m%d-%H%M%S"))
    return "-".join(parts)


def git_state(root: Path) -> dict[str, str]:
    """The commit the code came from and whether its code, notebooks or params were modified."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=20, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"git_commit": "unknown"}
    # pipeline outputs versioned in git (metrics, plot data) are rewritten by the run itself
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", *_CODE_PATHS)
    return {
        "git_commit": commit,
        "mlflow.source.git.commit": commit,
        "git_dirty": str(bool(dirty)).lower(),
    }


def start_stage_run(
    stage: str,
    params: StageParams,
    inputs: Sequence[Path | str] = (),
    paths: ProjectPaths | None = None,
) -> str:
    """Open the MLflow run of one stage execution, log its params and tags; return the run id.

    The experiment is named after the stage family. Tags: ``stage``, ``git_commit``,
    ``git_dirty``, ``data.<input>`` (md5 of each input file), ``dvc_exp_name`` when
    run by ``dvc exp run``; ``personalab.pid``/``personalab.host`` name this process.

    A copied or moved project's store is first pointed into its own ``mlartifacts/``
    (:func:`~personalab.core.experiments.relocate_artifacts`); runs of any stage left
    RUNNING by a process that is gone are marked FAILED,
    and ``reports/runs/<stage>.json`` is removed until this run finishes. In IPython, a
    cell that raises from now on ends the run FAILED (see :func:`fail_run_on_error`).
    """
    import mlflow

    paths = paths or project_paths()
    configure_mlflow(paths)
    if moved := relocate_artifacts(paths):  # the project was copied or moved with its store
        counts = ", ".join(f"{n} {column}" for column, n in moved.items())
        print(f"tracking store pointed into this project's {paths.mlartifacts} ({counts})")
    if mlflow.active_run() is not None:  # e.g. the start cell re-run in JupyterLab
        mlflow.end_run(status="KILLED")
    pointer = paths.runs / f"{stage}.json"
    pointer.unlink(missing_ok=True)  # it describes only a finished run
    fail_dead_runs(paths)
    tags = {
        "stage": stage,
        "params_file": paths.params_file(stage).relative_to(paths.root).as_posix(),
        PID_TAG: str(os.getpid()),
        HOST_TAG: socket.gethostname(),
        **git_state(paths.root),
        **data_version(inputs, paths.root),
    }
    if exp_name := os.environ.get("DVC_EXP_NAME"):
        tags["dvc_exp_name"] = exp_name
    run = mlflow.start_run(
        experiment_id=ensure_experiment(stage, paths), run_name=run_name(stage, tags), tags=tags
    )
    flat = {key: param_value(value) for key, value in params.flat().items()}
    mlflow.log_params(flat)
    _open_run.clear()
    _open_run.update(
        run_id=run.info.run_id,
        pointer=pointer,
        record={"run_id": run.info.run_id, "experiment_id": run.info.experiment_id, "stage": stage},
    )
    _watch_cells()
    return run.info.run_id


def log_stage_outputs(
    metrics: Mapping[str, Any] | None = None,
    artifacts: Sequence[Path | str] = (),
    artifact_path: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> None:
    """Log numeric metrics, ``tags`` (what a reviewer filters runs by, such as the served
    model) and files to the active run."""
    import mlflow

    if metrics:
        mlflow.log_metrics(numeric_metrics(metrics))
    if tags:
        mlflow.set_tags(dict(tags))
    for item in artifacts:
        path = Path(item)
        if path.is_dir():
            mlflow.log_artifacts(str(path), artifact_path=artifact_path or path.name)
        elif path.exists():
            mlflow.log_artifact(str(path), artifact_path=artifact_path)


def pinned_requirements(*names: str) -> list[str]:
    """``name==version`` of installed distributions, for a saved model's requirements."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in names]


def end_stage_run(status: str = "FINISHED") -> None:
    """End the active run; a finished stage run gets its ``reports/runs/<stage>.json``."""
    import mlflow

    active = mlflow.active_run()
    mlflow.end_run(status=status)
    if active is not None and active.info.run_id == _open_run.get("run_id"):
        opened = dict(_open_run)
        _open_run.clear()
        if status == "FINISHED":
            write_json(opened["record"], opened["pointer"])


def end_skipped_run(status: Any, artifacts: Sequence[Path | str] = ()) -> None:
    """Close a stage that skipped (:class:`personalab.core.status.StageStatus`): log its status
    and ``artifacts`` (the metrics file, empty outputs), end the run FINISHED (a skip is a result,
    not a failure) and let the notebook's later cells run as nothing."""
    log_stage_outputs(status.metrics(), artifacts=artifacts)
    status.log()
    end_stage_run()
    status.stop_notebook()


def error_message(error: BaseException) -> str:
    """``Type: message`` on one line, at most a few hundred characters (the ``error`` tag)."""
    text = " ".join(f"{type(error).__name__}: {error}".split())
    if len(text) > _MAX_ERROR_LENGTH:
        text = text[: _MAX_ERROR_LENGTH - 1] + "…"
    return text


def fail_run_on_error(result: Any) -> None:
    """IPython ``post_run_cell`` callback: a cell that raised ends the open stage run FAILED
    (and any nested run of it still active), tagged ``error``."""
    import mlflow

    error = result.error_before_exec or result.error_in_exec
    run_id = _open_run.get("run_id")
    active = mlflow.active_run()
    if error is None or run_id is None or active is None:
        return
    if run_id not in (active.info.run_id, active.data.tags.get("mlflow.parentRunId")):
        return  # not this stage's run
    if active.info.run_id != run_id:
        mlflow.end_run(status="FAILED")  # the nested run the error interrupted
    mlflow.set_tag("error", error_message(error))
    mlflow.end_run(status="FAILED")
    _open_run.clear()


def fail_dead_runs(paths: ProjectPaths) -> list[str]:
    """Mark FAILED (tag ``error`` = :data:`KILLED_ERROR`) every RUNNING run of a stage
    experiment whose process is gone, with its nested runs; return their ids.

    A run records its process in ``personalab.pid``/``personalab.host``; one without them
    counts as gone if it started before this process. Runs of another host are left alone.
    """
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri(paths))
    experiments = [e.experiment_id for s in STAGES if (e := client.get_experiment_by_name(s))]
    if not experiments:
        return []
    running = client.search_runs(experiments, filter_string="attributes.status = 'RUNNING'")
    by_id = {run.info.run_id: run for run in running}

    def gone(run: Any) -> bool:
        parent = run.data.tags.get("mlflow.parentRunId")
        if parent is not None:
            return parent not in by_id or gone(by_id[parent])
        return not _process_alive(run)

    dead = [run.info.run_id for run in running if gone(run)]
    for run_id in dead:
        client.set_tag(run_id, "error", KILLED_ERROR)
        client.set_terminated(run_id, status="FAILED")
    return dead


def render_html(notebook: Path | str) -> str:
    """Render an executed notebook to standalone HTML (quietly: nbconvert warns of every figure
    without alternative text, in the output of each stage)."""
    import logging

    import nbformat
    from nbconvert import HTMLExporter

    quiet = logging.getLogger("personalab.html")
    quiet.setLevel(logging.ERROR)
    body, _ = HTMLExporter(log=quiet).from_notebook_node(nbformat.read(str(notebook), as_version=4))
    return body


def attach_executed_notebook(
    stage: str, paths: ProjectPaths | None = None, notebook: Path | str | None = None
) -> Path:
    """Render the stage's executed notebook (``reports/executed/NN_<stage>.ipynb`` unless
    ``notebook`` names another copy) to HTML beside it, and attach both to the stage's run."""
    from mlflow.tracking import MlflowClient

    paths = paths or project_paths()
    notebook = Path(notebook) if notebook else paths.executed_notebook(stage)
    if not notebook.is_file():
        raise FileNotFoundError(f"{notebook}: executed notebook not found (run the stage first)")
    pointer = paths.runs / f"{stage}.json"
    if not pointer.is_file():
        raise FileNotFoundError(f"{pointer}: no MLflow run recorded for stage {stage!r}")
    run_id = json.loads(pointer.read_text())["run_id"]
    html = write_text(render_html(notebook), notebook.with_suffix(".html"))
    client = MlflowClient(tracking_uri=tracking_uri(paths))
    for path in (notebook, html):
        client.log_artifact(run_id, str(path), artifact_path="notebook")
    return html


def _process_alive(run: Any) -> bool:
    """Whether the process that started ``run`` (a top-level stage run) still runs."""
    import psutil

    started_ms = run.info.start_time
    pid, host = run.data.tags.get(PID_TAG), run.data.tags.get(HOST_TAG)
    if pid is None:  # no process recorded: alive only if newer than this process
        return started_ms >= psutil.Process().create_time() * 1000
    if host != socket.gethostname():
        return True  # cannot tell
    try:
        process = psutil.Process(int(pid))
        # a process with the same id started after the run is another one
        return (
            process.status() != psutil.STATUS_ZOMBIE
            and process.create_time() * 1000 <= started_ms + 1000
        )
    except (psutil.Error, ValueError):
        return False


def _watch_cells() -> None:
    """In IPython, end the open stage run FAILED when a cell raises."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and fail_run_on_error not in shell.events.callbacks["post_run_cell"]:
        shell.events.register("post_run_cell", fail_run_on_error)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m personalab.core.tracking")
    sub = parser.add_subparsers(dest="command", required=True)
    attach = sub.add_parser("attach", help="attach a stage's executed notebook (+HTML) to its run")
    attach.add_argument("stage")
    args = parser.parse_args(argv)
    try:
        html = attach_executed_notebook(args.stage)
    except (FileNotFoundError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"attached {html.with_suffix('.ipynb').name} and {html.name} to the {args.stage} run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
