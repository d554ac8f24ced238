"""The stage's files: the features table and the segments stage's model metadata it reads,
each stage's executed notebook (for its time) and metrics (for its status), and the metrics
and summary it writes (also when it skips)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from personalab.core.paths import STAGES, upstream
from personalab.core.status import StageStatus, stage_statuses
from personalab.export.params import EXPORTED, STAGE, ExportError
from personalab.export.summary import runs_markdown, summary_markdown

if TYPE_CHECKING:
    from personalab.export.parts import ExportParts
    from personalab.export.stage import Exported


def load_features(paths: Any) -> pd.DataFrame:
    return pd.read_parquet(upstream(paths.processed / "features.parquet", "features", ExportError))


def segmenter_metadata(folder: Path | str) -> tuple[list[str], dict[str, str]]:
    """The segments stage's model's input columns and segment names (from its MLmodel file)."""
    from mlflow.models import Model

    path = upstream(Path(folder) / "MLmodel", "segments", ExportError)
    metadata = Model.load(str(path)).metadata or {}
    missing = [key for key in ("features", "segment_names") if key not in metadata]
    if missing:
        raise ExportError(
            f"{path}: metadata lacks {missing}; re-run the segments stage (dvc repro -f segments)"
        )
    return list(metadata["features"]), dict(metadata["segment_names"])


def stage_times(paths: Any) -> pd.DataFrame:
    """Each stage's latest notebook run: its MLflow run id, start and seconds (papermill's own
    timing of the executed notebook; a notebook still running counts until now)."""
    import nbformat

    now = datetime.now(UTC)
    rows = []
    for stage in STAGES:
        notebook, pointer = paths.executed_notebook(stage), paths.runs / f"{stage}.json"
        if not notebook.is_file():
            continue
        meta = nbformat.read(str(notebook), as_version=4).metadata.get("papermill", {})
        if not meta.get("start_time"):
            continue
        started = datetime.fromisoformat(meta["start_time"])
        seconds = meta.get("duration") or (now - started).total_seconds()
        if pointer.is_file():  # written when a stage's run finished
            run_id = json.loads(pointer.read_text())["run_id"]
        else:  # the notebook still running is this one: its run is the active one
            run_id = "" if meta.get("duration") else _active_run_id()
        rows.append(
            {
                "stage": stage,
                "run_id": run_id,
                "started": started.strftime("%Y-%m-%d %H:%M:%S UTC"),
                "seconds": round(float(seconds), 1),
            }
        )
    return pd.DataFrame(rows, columns=["stage", "run_id", "started", "seconds"])


def _active_run_id() -> str:
    import mlflow

    run = mlflow.active_run()
    return run.info.run_id if run else ""


def save_outputs(
    parts: ExportParts, exported: Exported, metrics: Mapping[str, Any], paths: Any
) -> dict[str, Path]:
    """Write reports/metrics/export.json, then reports/summary.md (which reads every stage's
    metrics file for its status, this one's included) and reports/runs/summary.md (the runs and
    times behind it, not versioned)."""
    from personalab.core.storage import write_metrics, write_text

    written = write_metrics(metrics, paths.metrics_file(STAGE))
    statuses = stage_statuses(paths.reports / "metrics", list(STAGES))
    times = stage_times(paths)
    later = {}
    for stage in ("monitor", "experiment"):
        path = paths.metrics_file(stage)
        later[stage] = json.loads(path.read_text()) if path.is_file() else None
    text = summary_markdown(
        parts,
        exported.folders,
        metrics,
        statuses,
        paths.root,
        later["monitor"],
        later["experiment"],
    )
    return {
        "metrics": written,
        "summary": write_text(text, paths.reports / "summary.md"),
        "runs": write_text(runs_markdown(parts, times), paths.reports / "runs" / "summary.md"),
    }


def save_skipped(status: StageStatus, parts: ExportParts, paths: Any) -> dict[str, Path]:
    """A skipped export's outputs: each model folder marked not exported with its reason, the
    metrics (status, skip reason, notes) and the summary of what every stage did."""
    from personalab.export.stage import Exported, mark_not_exported

    for name in EXPORTED:
        mark_not_exported(paths.models / name, parts.left_out.get(name) or status.skip_reason)
    return save_outputs(parts, Exported({}, {}), status.metrics(), paths)
