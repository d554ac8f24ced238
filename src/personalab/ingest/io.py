"""What the stage reads and writes on disk: its input files, and its outputs written atomically.

Outputs (``data/interim/``): ``events.parquet``, ``sessions.parquet``, ``quarantine.parquet``,
``bot_users.parquet``, ``truth.parquet``, and ``profile.json`` (what the log holds; keys in
:mod:`personalab.ingest.profile`); metrics in ``reports/metrics/ingest.json``; plot data in
``reports/plots/ingest/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from personalab.core.paths import ProjectPaths
from personalab.core.status import StageStatus
from personalab.core.storage import (
    atomic_path,
    write_csv,
    write_json,
    write_metrics,
    write_parquet,
)
from personalab.ingest.messages import QuarantineRateError
from personalab.ingest.params import STAGE, IngestParams
from personalab.ingest.pipeline import IngestResult, run_ingest
from personalab.ingest.report import session_length_histogram
from personalab.ingest.validation import summarise_reasons

#: the profile's file name under data/interim/ (read by the stages after ingest)
PROFILE_FILE = "profile.json"
#: timings in the stage's metrics: logged to its MLflow run, never in the versioned metrics
#: file (a re-run on the same data must write the same bytes)
TIMING_METRICS = ("processing_seconds", "events_per_second")


def input_paths(params: IngestParams, root: Path) -> list[Path]:
    """The data files the stage reads (none for the synthetic source)."""
    if params.source.format == "synthetic":
        return []
    path = Path(params.source.path)
    return [path if path.is_absolute() else root / path]


def run_keeping_quarantine(params: IngestParams, paths: ProjectPaths) -> IngestResult:
    """:func:`run_ingest` on the project; when it stops on ``max_quarantine_rate``, the rejected
    rows are first written to ``data/interim/quarantine.parquet`` (named in the message), so the
    rows the stop refers to can be inspected."""
    try:
        return run_ingest(params, paths.root)
    except QuarantineRateError as err:
        if err.quarantine is None:
            raise
        written = write_parquet(err.quarantine, paths.interim / "quarantine.parquet")
        shown = written.relative_to(paths.root) if written.is_relative_to(paths.root) else written
        raise QuarantineRateError(
            f"{err}; the {len(err.quarantine)} rejected rows (file, row, reason) are in {shown}",
            err.quarantine,
        ) from None


def save_ingest(
    result: IngestResult, paths: ProjectPaths, status: StageStatus | None = None
) -> dict[str, Path]:
    """Write the stage's data, metrics (with the ``status`` record, without the
    :data:`TIMING_METRICS`) and plot data atomically; return what was written."""
    metrics = {k: v for k, v in result.metrics.items() if k not in TIMING_METRICS}
    if status is not None:
        metrics.update(status.metrics())
    out = {
        "events": _copy(result.events_file, paths.interim / "events.parquet"),
        "sessions": write_parquet(result.sessions, paths.interim / "sessions.parquet"),
        "quarantine": write_parquet(result.quarantine, paths.interim / "quarantine.parquet"),
        "bot_users": write_parquet(result.bot_users, paths.interim / "bot_users.parquet"),
        "profile": write_json(result.profile, paths.interim / PROFILE_FILE),
        "truth": write_parquet(
            result.truth if result.truth is not None else _empty_truth(),
            paths.interim / "truth.parquet",
        ),
        "metrics": write_metrics(metrics, paths.metrics_file(STAGE)),
    }
    plots = paths.plots_dir(STAGE)
    daily = result.daily.groupby("date", as_index=False)["events"].sum()
    out["daily_events"] = write_csv(daily, plots / "daily_events.csv")
    out["session_lengths"] = write_csv(
        session_length_histogram(result.sessions), plots / "session_lengths.csv"
    )
    reasons = (
        summarise_reasons(result.quarantine["reason"])
        if len(result.quarantine)
        else pd.Series(dtype="int64")
    )
    out["quarantine_reasons"] = write_csv(
        reasons.rename("rows").rename_axis("reason").reset_index(), plots / "quarantine_reasons.csv"
    )
    return out


def _copy(source: Path, path: Path) -> Path:
    """``source`` copied to ``path`` atomically."""
    with atomic_path(path) as tmp:
        shutil.copyfile(source, tmp)
    return path


def _empty_truth() -> pd.DataFrame:
    """A zero-row truth table: the source has no ground truth."""
    return pd.DataFrame(
        {
            "user_id": pd.Series(dtype="str"),
            "user_type": pd.Series(dtype="str"),
            "is_bot": pd.Series(dtype=bool),
            "base_rate": pd.Series(dtype=float),
            "purchase_prob": pd.Series(dtype=float),
        }
    )
