"""The stage's files: the event log it reads and the lists, metrics and plot data it writes (or,
when it skips, the same outputs empty and marked)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from personalab.core.paths import upstream
from personalab.core.status import StageStatus
from personalab.recommend.comparison import Comparison, empty_table
from personalab.recommend.params import STAGE, RecommendError, RecommendParams
from personalab.recommend.tuning import TRIAL_COLUMNS, TuningResult

#: the columns of data/processed/recommendations.parquet, with their types
RECOMMENDATION_COLUMNS = {
    "user_id": "str",
    "rank": "int64",
    "item_id": "str",
    "score": float,
    "fallback": bool,
}
PLOT_TRIAL_COLUMNS = ["algorithm", "number", "state", "value", "seconds"]
FIGURES = ("tuning", "comparison")


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
        "tuning": write_csv(tuning.trials[PLOT_TRIAL_COLUMNS], plots / "tuning.csv"),
    }


def save_skipped(status: StageStatus, paths: Any, params: RecommendParams) -> dict[str, Path]:
    """The outputs of a skipped stage, empty and marked: the model folder holds only
    ``SKIPPED.json`` (the reason), the recommendations and plot data have their columns and no
    row, the figures folder is empty, the metrics hold the status. Nothing is registered."""
    from personalab.core.status import write_skip_marker
    from personalab.core.storage import write_csv, write_metrics, write_parquet

    folder = paths.candidates / "recommender"
    shutil.rmtree(folder, ignore_errors=True)  # a model of an earlier run must not stay behind
    figures = paths.figures_dir(STAGE)
    figures.mkdir(parents=True, exist_ok=True)
    for name in FIGURES:
        (figures / f"{name}.png").unlink(missing_ok=True)
    table = empty_table(params)
    table.insert(2, "champion", pd.Series(dtype=bool))
    trials = pd.DataFrame({column: pd.Series(dtype=object) for column in TRIAL_COLUMNS})
    plots = paths.plots_dir(STAGE)
    metric = params.selection_metric
    return {
        "model": write_skip_marker(folder, status),
        "recommendations": write_parquet(
            empty_recommendations(), paths.processed / "recommendations.parquet"
        ),
        "metrics": write_metrics(status.metrics(), paths.metrics_file(STAGE)),
        "comparison": write_csv(table, paths.reports / STAGE / "comparison.csv"),
        "comparison_plot": write_csv(
            table[["model", metric, "fit_seconds", "predict_seconds"]], plots / "comparison.csv"
        ),
        "tuning": write_csv(trials[PLOT_TRIAL_COLUMNS], plots / "tuning.csv"),
        "figures": figures,
    }


def empty_recommendations() -> pd.DataFrame:
    """data/processed/recommendations.parquet's columns, no row."""
    return pd.DataFrame(
        {column: pd.Series(dtype=dtype) for column, dtype in RECOMMENDATION_COLUMNS.items()}
    )
