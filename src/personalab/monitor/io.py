"""The monitor stage's reads and writes.

It reads the features table, the ingest stage's events (the recent windows and the hit rate),
the segments stage's history, and the champions the export stage serves: the registry versions
holding ``alias`` in the current data lineage (``params/export.yaml`` names them), fetched the way
the export stage fetches them (:func:`personalab.export.parts.missing_reason`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personalab.core.paths import ProjectPaths, upstream
from personalab.core.profile import load_profile
from personalab.core.storage import write_csv, write_metrics
from personalab.monitor.params import STAGE, MonitorError, MonitorParams
from personalab.monitor.stage import MonitorInputs, MonitorResult

EVENT_COLUMNS = ["user_id", "item_id", "event_type", "timestamp", "rating"]


def cutoff_spacing(cutoffs: list[pd.Timestamp]) -> pd.Timedelta | None:
    """The smallest gap between consecutive cut-offs (None with fewer than two)."""
    if len(cutoffs) < 2:
        return None
    return min(b - a for a, b in zip(cutoffs, cutoffs[1:], strict=False))


def load_inputs(
    paths: ProjectPaths, params: MonitorParams, scratch: Path | None = None
) -> MonitorInputs:
    """Everything :func:`personalab.monitor.stage.run_monitor` reads; a missing champion or
    segment history is a check left out (``left_out``), a missing table an error."""
    from personalab.features import open_events
    from personalab.features.params import FeaturesParams
    from personalab.monitor.recent import recent_features
    from personalab.recommend.params import RecommendParams

    table = pd.read_parquet(
        upstream(paths.processed / "features.parquet", "features", MonitorError)
    )
    label = table.attrs.get("label") if isinstance(table.attrs, dict) else None
    label = label if label in table else None
    cutoffs = sorted(table["cutoff"].unique()) if len(table) else []
    days = params.drift.window_days
    window = pd.Timedelta(days=days) if days else cutoff_spacing(cutoffs)
    features_params = FeaturesParams.from_yaml(paths.params_file("features"))
    if window is not None and len(cutoffs) >= 2:
        events_on = open_events(paths, features_params.engine_params())
        try:
            recent = recent_features(
                events_on, features_params, load_profile(paths), cutoffs, window
            )
        finally:
            events_on.engine.close()
    else:
        recent = pd.DataFrame(columns=["user_id", "cutoff"])
    events_path = upstream(paths.interim / "events.parquet", "ingest", MonitorError)
    import pyarrow.parquet as pq

    present = set(pq.read_schema(events_path).names)
    events = pd.read_parquet(events_path, columns=[c for c in EVENT_COLUMNS if c in present])
    from personalab.monitor.hit_rate import bulk_start

    # the segments are assigned on the features table, whose longest window is this
    longest = max(*features_params.windows_days, features_params.segments.window_days)
    inputs = MonitorInputs(
        table=table,
        label=label,
        recent=recent,
        window=window,
        events=events,
        recommend_params=RecommendParams.from_yaml(paths.params_file("recommend")),
        log_start=bulk_start(events["timestamp"]) if len(events) else None,
        longest_window=pd.Timedelta(days=longest),
    )
    _champions(inputs, paths, Path(scratch or tempfile.mkdtemp(prefix="personalab-monitor-")))
    history = paths.processed / "segment_history.parquet"
    if history.exists() and len(frame := pd.read_parquet(history)):
        inputs.history = frame
    else:
        inputs.left_out["segment drift"] = "the segments stage assigned no segments on this log"
    return inputs


def _champions(inputs: MonitorInputs, paths: ProjectPaths, scratch: Path) -> None:
    from personalab.core.registry import current_lineage
    from personalab.export.champions import load_intent
    from personalab.export.params import ExportParams
    from personalab.export.parts import features_label, missing_reason
    from personalab.recommend.served import load_recommender

    export = ExportParams.from_yaml(paths.params_file("export"))
    lineage = current_lineage(paths)
    intent, why = missing_reason(
        export.intent_model, paths.candidates / "intent", "intent", scratch, export.alias,
        lineage.for_target(features_label(paths.processed / "features.parquet")),
    )  # fmt: skip
    if intent is None:
        inputs.left_out["backtest and prediction drift"] = f"no intent champion: {why}"
    else:
        model = load_intent(intent)
        inputs.predict = model.predict_proba
        inputs.model_features = list(model.feature_names)
        inputs.champion_roc_auc = float(intent.metrics.get("test_roc_auc", np.nan))
    recommender, why = missing_reason(
        export.recommender_model, paths.candidates / "recommender", "recommend", scratch,
        export.alias, lineage,
    )  # fmt: skip
    if recommender is None:
        inputs.left_out["recommender hit rate"] = f"no recommender champion: {why}"
    else:
        config = load_recommender(recommender.folder).config
        inputs.recipe = {
            "algorithm": config["algorithm"],
            "options": dict(config.get("options") or {}),
        }


def save_monitor(result: MonitorResult, paths: ProjectPaths) -> dict[str, Any]:
    """The metrics, the tables under reports/monitor/ and the plot data."""
    folder, plots = paths.reports / STAGE, paths.plots_dir(STAGE)
    figures = paths.figures_dir(STAGE)
    figures.mkdir(parents=True, exist_ok=True)
    for old in figures.glob("*.png"):
        old.unlink()  # a check that did not run this time leaves no figure of an earlier run
    over_time = result.drift_over_time
    backtest = result.backtest
    hits = result.hit_rate
    return {
        "metrics": write_metrics(result.metrics, paths.metrics_file(STAGE)),
        "drift": write_csv(result.drift, folder / "feature_drift.csv"),
        "input_drift": write_csv(result.input_drift, folder / "input_drift.csv"),
        "backtest": write_csv(backtest, folder / "backtest.csv"),
        "segments": write_csv(result.segments.reset_index(), folder / "segments.csv"),
        "hit_rate": write_csv(hits, folder / "hit_rate.csv"),
        "plot_drift": write_csv(
            _plot(over_time, ["cutoff", "drifted_share"]), plots / "drift_over_time.csv"
        ),
        "plot_backtest": write_csv(
            _plot(backtest, ["cutoff", "roc_auc", "pr_auc", "ece"]), plots / "backtest.csv"
        ),
        "plot_hit_rate": write_csv(
            _plot(hits, ["window", "hit_rate", "popularity_hit_rate"]), plots / "hit_rate.csv"
        ),
    }


def _plot(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``columns`` of ``frame`` (the header alone when the check did not run)."""
    if frame.empty or not set(columns) <= set(frame.columns):
        return pd.DataFrame(columns=columns)
    return frame[columns]


def tag_run(result: MonitorResult) -> None:
    """The recommendation on the active MLflow run: tags ``retrain`` (yes/no) and
    ``retrain_reasons``, and ``recommendation.md``."""
    import mlflow

    mlflow.set_tags(
        {
            "retrain": "yes" if result.retrain else "no",
            "retrain_reasons": "; ".join(result.reasons)[:5000],
        }
    )
    mlflow.log_text(result.recommendation() + "\n", "recommendation.md")
