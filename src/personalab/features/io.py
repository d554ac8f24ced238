"""The stage's reads and writes: the ingest stage's events in, the table, metrics and plot data out."""

from __future__ import annotations

from typing import Any

import pandas as pd

from personalab.core.paths import ProjectPaths, upstream
from personalab.core.storage import write_csv, write_metrics, write_parquet
from personalab.features.build import FeaturesError, FeaturesResult
from personalab.features.report import (
    feature_summary_by_label,
    positive_rate_by_cutoff,
    segment_sizes,
)

STAGE = "features"


def load_events(paths: ProjectPaths) -> pd.DataFrame:
    """The ingest stage's canonical events (a clear error when the stage has not run)."""
    return pd.read_parquet(upstream(paths.interim / "events.parquet", "ingest", FeaturesError))


def save_features(result: FeaturesResult, paths: ProjectPaths) -> dict[str, Any]:
    """Write the table, metrics and plot data atomically."""
    names = result.feature_names
    plots = paths.plots_dir(STAGE)
    return {
        "features": write_parquet(result.table, paths.processed / "features.parquet"),
        "metrics": write_metrics(result.metrics, paths.metrics_file(STAGE)),
        "positive_rate": write_csv(
            positive_rate_by_cutoff(result.table), plots / "positive_rate.csv"
        ),
        "segment_sizes": write_csv(segment_sizes(result.table), plots / "segment_sizes.csv"),
        "by_label": write_csv(
            feature_summary_by_label(result.table, names), plots / "feature_by_label.csv"
        ),
    }
