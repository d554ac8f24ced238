"""The stage's steps between the champions and the outputs: the decision rule built from the
champions, the segments stage's model and the recent events; how it would serve the latest
users; the three folders written; the stage's metrics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from personalab.export.champions import Champion
from personalab.export.io import segmenter_metadata
from personalab.export.params import STRATEGIES, ExportParams
from personalab.export.personalise import Personaliser, trending_items
from personalab.export.pyfunc import example_rows, save_personalise
from personalab.intent.model import IntentModel
from personalab.recommend.served import Recommender


def build_personaliser(
    intent: IntentModel,
    recommender: Recommender,
    events: pd.DataFrame,
    params: ExportParams,
    paths: Any,
) -> Personaliser:
    """The decision rule from the champions, the segments stage's model and the recent events."""
    import mlflow.sklearn

    folder = paths.models / "segmenter"
    features, names = segmenter_metadata(folder)
    rule = params.personalise
    threshold = (
        intent.threshold if rule.high_intent_threshold is None else rule.high_intent_threshold
    )
    return Personaliser(
        intent,
        mlflow.sklearn.load_model(str(folder)),
        features,
        names,
        recommender,
        trending_items(events, rule.trending_window_days, rule.trending_items),
        threshold,
        params.k,
    )


def strategy_mix(personaliser: Personaliser, table: pd.DataFrame) -> pd.DataFrame:
    """Share of each strategy per segment for the users of the latest cut-off (one item each)."""
    latest = table[table["cutoff"] == table["cutoff"].max()] if "cutoff" in table else table
    chosen = personaliser.personalise(latest, k=1)
    mix = pd.crosstab(chosen["segment"], chosen["strategy"], margins=True, margins_name="all")
    return mix.reindex(columns=[*[s for s in STRATEGIES if s in mix], "all"], fill_value=0)


@dataclass
class Exported:
    folders: dict[str, Path]
    examples: dict[str, pd.DataFrame]


def export_models(
    intent: IntentModel,
    recommender: Recommender,
    personaliser: Personaliser,
    table: pd.DataFrame,
    params: ExportParams,
    paths: Any,
) -> Exported:
    """Write models/intent, models/recommender and models/personalise (atomically)."""
    from personalab.intent.pyfunc import save_serving_model as save_intent_model
    from personalab.recommend.served import save_serving_model as save_recommender_model

    people = example_rows(table, personaliser, params.example_rows)
    examples = {
        "intent": people[intent.feature_names],
        "recommender": pd.DataFrame({"user_id": [*people["user_id"], "newcomer"]}),
        "personalise": people,
    }
    folders = {
        "intent": save_intent_model(intent, people, paths.models / "intent"),
        "recommender": save_recommender_model(
            recommender, paths.models / "recommender", examples["recommender"]
        ),
        "personalise": save_personalise(
            personaliser, people, paths.models / "segmenter", paths.models / "personalise"
        ),
    }
    return Exported(folders, examples)


def export_metrics(
    intent: Champion,
    recommender: Champion,
    personaliser: Personaliser,
    mix: pd.DataFrame,
    checks: Mapping[str, float],
    params: ExportParams,
) -> dict[str, Any]:
    """The stage's metrics JSON (no timings, so it changes only when the results do)."""
    total = max(int(mix.loc["all", "all"]), 1) if "all" in mix.index else 1
    shares = {  # every strategy, 0.0 when nobody got it, so runs keep the same keys
        f"{strategy}_share": float(mix.loc["all", strategy]) / total if strategy in mix else 0.0
        for strategy in STRATEGIES
    }
    return {
        "intent_version": int(intent.version),
        "recommender_version": int(recommender.version),
        **checks,
        "high_intent_threshold": personaliser.threshold,
        "trending_window_days": params.personalise.trending_window_days,
        "trending_items": len(personaliser.trending),
        "k": params.k,
        **shares,
    }
