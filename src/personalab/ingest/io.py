"""What the stage reads and writes on disk: its input files, and its outputs written atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from personalab.core.paths import ProjectPaths
from personalab.core.storage import write_csv, write_metrics, write_parquet
from personalab.ingest.params import STAGE, IngestParams
from personalab.ingest.pipeline import IngestResult
from personalab.ingest.report import daily_event_counts, session_length_histogram
from personalab.ingest.validation import summarise_reasons


def input_paths(params: IngestParams, root: Path) -> list[Path]:
    """The data files the stage reads (none for the synthetic source)."""
    if params.source.format == "synthetic":
        return []
    path = Path(params.source.path)
    return [path if path.is_absolute() else root / path]


def save_ingest(result: IngestResult, paths: ProjectPaths) -> dict[str, Path]:
    """Write the stage's data, metrics and plot data atomically; return what was written."""
    out = {
        "events": write_parquet(result.events, paths.interim / "events.parquet"),
        "sessions": write_parquet(result.sessions, paths.interim / "sessions.parquet"),
        "quarantine": write_parquet(result.quarantine, paths.interim / "quarantine.parquet"),
        "bot_users": write_parquet(result.bot_users, paths.interim / "bot_users.parquet"),
        "truth": write_parquet(
            result.truth if result.truth is not None else _empty_truth(),
            paths.interim / "truth.parquet",
        ),
        "metrics": write_metrics(
            {k: v for k, v in result.metrics.items() if k != "processing_seconds"},
            paths.metrics_file(STAGE),
        ),
    }
    plots = paths.plots_dir(STAGE)
    daily = daily_event_counts(result.events).groupby("date", as_index=False)["events"].sum()
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
