"""The stage's files: the event log it reads and the lists, metrics and plot data it writes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from personalab.core.paths import upstream
from personalab.recommend.comparison import Comparison
from personalab.recommend.params import STAGE, RecommendError
from personalab.recommend.tuning import TuningResult


def load_events(paths: Any) -> pd.DataFrame:
    return pd.read_parquet(upstream(paths.interim / "events.parquet", "ingest", RecommendError))


def save_recommend(
    recommendations: pd.DataFrame,
    comparison: Comparison,
    tuning: TuningResult,
    metrics: Mapping[str, Any],
    serving_folder: Path,
    paths: Any,
) -> dict[str, Path]:
    """Write the recommendations, metrics, comparison and plot data (atomically)."""
    from personalab.core.storage import write_csv, write_metrics, write_parquet

    plots = paths.plots_dir(STAGE)
    metric = metrics["selection_metric"]
    return {
        "model": serving_folder,
        "recommendations": write_parquet(
            recommendations, paths.processed / "recommendations.parquet"
        ),
        "metrics": write_metrics(metrics, paths.metrics_file(STAGE)),
        "comparison": write_csv(comparison.table, paths.reports / STAGE / "comparison.csv"),
        "comparison_plot": write_csv(
            comparison.table[["model", metric, "fit_seconds", "predict_seconds"]],
            plots / "comparison.csv",
        ),
        "tuning": write_csv(
            tuning.trials[["algorithm", "number", "state", "value", "seconds"]],
            plots / "tuning.csv",
        ),
    }
