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
#: the tuning plot data: each trial of a tuned algorithm and its best so far (an algorithm
#: evaluated once, and the baselines, are in the comparison, not at a "trial 0")
PLOT_TRIAL_COLUMNS = ["algorithm", "trial", "state", "value", "best"]
#: timings of the comparison: logged to the stage's MLflow run, never in the versioned files
#: (a re-run on the same data must write the same bytes)
TIMING_COLUMNS = ("fit_seconds", "predict_seconds", "cv_seconds")
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
    """Write the recommendations, metrics, comparison and plot data (atomically); the
    comparison's timings go to the active MLflow run (:func:`timing_metrics`) instead."""
    from personalab.core.storage import write_csv, write_metrics, write_parquet

    plots = paths.plots_dir(STAGE)
    metric = metrics["selection_metric"]
    table = comparison.table
    _log_to_active_run(timing_metrics(table))
    return {
        "model": serving_folder,
        "recommendations": write_parquet(
            recommendations, paths.processed / "recommendations.parquet"
        ),
        "metrics": write_metrics(metrics, paths.metrics_file(STAGE)),
        "comparison": write_csv(
            table.drop(columns=list(TIMING_COLUMNS), errors="ignore"),
            paths.reports / STAGE / "comparison.csv",
        ),
        "comparison_plot": write_csv(
            table[["model", metric]].sort_values(metric, ascending=False, kind="stable"),
            plots / "comparison.csv",
        ),
        "tuning": write_csv(tuning_plot_data(tuning.trials), plots / "tuning.csv"),
    }


def tuning_plot_data(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials of the tuned algorithms (``trial`` numbered from 0 per algorithm) with each
    algorithm's best validation value so far (complete trials only)."""
    tuned = trials[trials["tuned"].astype(bool)] if len(trials) else trials
    out = tuned.rename(columns={"number": "trial"})[["algorithm", "trial", "state", "value"]]
    complete = out["value"].where(out["state"] == "COMPLETE").astype(float)
    best = complete.groupby(out["algorithm"], sort=False).cummax()
    return out.assign(best=best.groupby(out["algorithm"], sort=False).ffill())[PLOT_TRIAL_COLUMNS]


def timing_metrics(table: pd.DataFrame) -> dict[str, float]:
    """``<model>_fit_seconds``, ``<model>_predict_seconds`` and ``<model>_cv_seconds`` of the
    comparison (those it has)."""
    out = {}
    for row in table.to_dict("records"):
        for column in TIMING_COLUMNS:
            value = row.get(column)
            if value is not None and pd.notna(value):
                out[f"{row['model']}_{column}"] = float(value)
    return out


def _log_to_active_run(metrics: Mapping[str, float]) -> None:
    """Log ``metrics`` to the active MLflow run, if there is one (the notebook's stage run)."""
    import mlflow

    if metrics and mlflow.active_run() is not None:
        mlflow.log_metrics(dict(metrics))


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
        "comparison": write_csv(
            table.drop(columns=list(TIMING_COLUMNS), errors="ignore"),
            paths.reports / STAGE / "comparison.csv",
        ),
        "comparison_plot": write_csv(table[["model", metric]], plots / "comparison.csv"),
        "tuning": write_csv(tuning_plot_data(trials), plots / "tuning.csv"),
        "figures": figures,
    }


def empty_recommendations() -> pd.DataFrame:
    """data/processed/recommendations.parquet's columns, no row."""
    return pd.DataFrame(
        {column: pd.Series(dtype=dtype) for column, dtype in RECOMMENDATION_COLUMNS.items()}
    )
