"""The stage's steps between the parts and the outputs: the decision rule built from the parts
there are (champions, the segments stage's model) and the recent events; how it would serve the
latest users; the folders written (a part that cannot be exported: its folder marked skipped);
the stage's metrics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from personalab.core.status import StageStatus, write_skip_marker
from personalab.export.io import segmenter_metadata
from personalab.export.live_rules import LiveRules, category_items
from personalab.export.online import WHAT, build_online
from personalab.export.params import EXPORTED, STAGE, ExportParams
from personalab.export.parts import ExportParts
from personalab.export.personalise import Personaliser
from personalab.export.pyfunc import example_rows, latest_users, save_personalise

#: the segment name in the strategy mix of a rule without segments
NO_SEGMENT = "(no segments)"


def build_personaliser(
    parts: ExportParts,
    events: pd.DataFrame,
    params: ExportParams,
    status: StageStatus,
    paths: Any = None,
    scratch: Path | None = None,
) -> Personaliser:
    """The decision rule from the parts there are and the recent events' trending items (what
    the trending list means for this log noted in ``status``), with the online store built in
    ``scratch`` from the project at ``paths`` (None: no store; so too when
    ``personalise.online_store`` is false)."""
    import mlflow.sklearn

    note_trending(events, params.personalise.trending_window_days, status)

    segmenter, features, names = None, [], {}
    if parts.segmenter is not None:
        features, names = segmenter_metadata(parts.segmenter)
        segmenter = mlflow.sklearn.load_model(str(parts.segmenter))
    rule, intent = params.personalise, parts.intent_model
    if intent is not None and parts.recommender_model is not None:
        intent = intent if gates(parts, rule.min_intent_roc_auc, status) else None
    threshold = None
    if intent is not None:
        threshold = rule.high_intent_threshold
        threshold = intent.threshold if threshold is None else threshold
    personaliser = Personaliser(
        intent,
        segmenter,
        features,
        names,
        parts.recommender_model,
        trending_items(events, rule.trending_window_days, rule.trending_items),
        threshold,
        params.k,
        params.max_k,
        live_rules=live_rules_of(parts, events, params),
    )
    if not rule.online_store:
        status.leave_out(WHAT, "personalise.online_store is false in params/export.yaml")
    elif paths is not None:
        personaliser.online = build_online(paths, scratch, personaliser.feature_columns, status)
    return personaliser


def gates(parts: ExportParts, min_roc_auc: float, status: StageStatus) -> bool:
    """Whether the intent champion is good enough to gate the rule on (its test ROC AUC at
    least ``min_roc_auc``); if not, ``status`` says so and what the rule does instead."""
    auc = (parts.intent.metrics if parts.intent is not None else {}).get("test_roc_auc")
    if auc is None or auc != auc or auc >= min_roc_auc:
        return True
    status.adapted(
        f"models/personalise: the intent model's test ROC AUC {auc:.4f} is under "
        f"personalise.min_intent_roc_auc {min_roc_auc:g}, barely better than chance, so the rule "
        "does not gate on it (its threshold would split users at random): every user the "
        "recommender knows gets its recommendations (strategy personalised_no_intent), unknown "
        "users the popular items; models/intent is exported as trained"
    )
    return False


def trending_items(events: pd.DataFrame, window_days: float, n: int) -> pd.Series:
    """The ``n`` items most users touched in the last ``window_days`` of the log, as the share
    of the users with item events then (ties by item id): the recommend stage's trending
    baseline, over every event kind."""
    from personalab.recommend.baselines import popularity

    items = events.loc[events["item_id"].notna(), ["user_id", "item_id", "timestamp"]]
    return popularity(items.astype({"item_id": str}), window_days).head(n)


def live_rules_of(parts: ExportParts, events: pd.DataFrame, params: ExportParams) -> LiveRules:
    """The triggers of ``params`` and each category's most popular items (the recommender's
    popularity; none without a recommender)."""
    triggers = params.personalise.triggers
    recommender = parts.recommender_model
    popular = recommender.popular if recommender is not None else pd.Series(dtype=float)
    by_category = category_items(popular, events, params.max_k)
    return LiveRules(triggers.cart_reminder, triggers.category_views, by_category)


def note_trending(events: pd.DataFrame, window_days: float, status: StageStatus) -> None:
    """A trending window as long as the log means "most touched over the whole log"; a log
    without item ids has no trending items (answers of a rule without a recommender are empty)."""
    items = events.loc[events["item_id"].notna(), "timestamp"] if "item_id" in events else []
    if len(items) == 0:
        status.warn("no event has an item id: the trending list is empty")
        return
    span = (items.max() - items.min()) / pd.Timedelta(days=1)
    if span == 0:
        status.adapted(
            "every item event has the same time: the trending items are the most touched over "
            "the log (no window can pick recent ones)"
        )
    elif span <= window_days:
        status.warn(
            f"personalise.trending_window_days {window_days:g} covers the whole log ({span:.2f} "
            "days of item events): the trending items are the most touched over the log; set a "
            "shorter window in params/export.yaml for recent ones"
        )


def strategy_mix(personaliser: Personaliser, table: pd.DataFrame) -> pd.DataFrame:
    """Share of each strategy per segment for the users of the latest cut-off (one item each;
    without feature rows, the users the recommender knows)."""
    chosen = personaliser.personalise(latest_users(table, personaliser), k=1)
    segment = chosen["segment"].fillna(NO_SEGMENT).rename("segment")
    mix = pd.crosstab(segment, chosen["strategy"], margins=True, margins_name="all")
    strategies = [s for s in personaliser.strategies if s in mix]
    return mix.reindex(columns=[*strategies, "all"], fill_value=0)


@dataclass
class Exported:
    folders: dict[str, Path]  # name -> folder, of the models exported
    examples: dict[str, pd.DataFrame]
    left_out: dict[str, str] = field(default_factory=dict)  # name -> why it was not exported


def export_models(
    parts: ExportParts,
    personaliser: Personaliser,
    table: pd.DataFrame,
    params: ExportParams,
    paths: Any,
) -> Exported:
    """Write models/intent, models/recommender and models/personalise (atomically); a model the
    export does not have gets its folder with SKIPPED.json saying why."""
    from personalab.intent.pyfunc import save_serving_model as save_intent_model
    from personalab.recommend.served import save_serving_model as save_recommender_model

    people = example_rows(table, personaliser, params.example_rows)
    exported = Exported({}, {"personalise": people})
    if parts.intent_model is not None:
        example = intent_example(table, people, parts.intent_model, personaliser, params)
        exported.examples["intent"] = example
        exported.folders["intent"] = save_intent_model(
            parts.intent_model, example, paths.models / "intent"
        )
    if parts.recommender_model is not None:
        users = pd.DataFrame({"user_id": [*people["user_id"], "newcomer"]})
        exported.examples["recommender"] = users
        exported.folders["recommender"] = save_recommender_model(
            parts.recommender_model, paths.models / "recommender", users
        )
    exported.folders["personalise"] = save_personalise(
        personaliser, people, parts.segmenter, paths.models / "personalise"
    )
    for name in ("intent", "recommender"):
        if name not in exported.folders:
            exported.left_out[name] = parts.left_out[name]
            mark_not_exported(paths.models / name, parts.left_out[name])
    exported.folders = {
        name: exported.folders[name] for name in EXPORTED if name in exported.folders
    }
    return exported


def intent_example(
    table: pd.DataFrame, people: pd.DataFrame, model: Any, rule: Personaliser, params: ExportParams
) -> pd.DataFrame:
    """The intent model's input example: the rule's example rows, or (a rule that does not
    gate on intent, whose rows lack its columns) rows of the latest cut-off it can score."""
    names = model.feature_names
    if set(names) <= set(people.columns):
        return people[names]
    latest = latest_users(table, rule)
    required = [s.name for s in model.encoder.columns_ if not s.optional]
    complete = latest[required].notna().all(axis=1)
    rows = (latest[complete] if complete.any() else latest).head(params.example_rows)
    return model.encoder.example(rows)[names]


def mark_not_exported(folder: Path, why: str) -> Path:
    """``folder`` emptied (an earlier export's model with it), with SKIPPED.json naming why
    (``make serve`` refuses a folder without MLmodel)."""
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    return write_skip_marker(folder, StageStatus(STAGE, skip_reason=f"not exported: {why}"))


def export_metrics(
    parts: ExportParts,
    personaliser: Personaliser,
    mix: pd.DataFrame,
    checks: Mapping[str, float],
    params: ExportParams,
) -> dict[str, Any]:
    """The stage's metrics JSON (no timings, so it changes only when the results do): the
    versions exported, the parity checks, the rule's settings and its strategy shares (every
    strategy the rule can give, 0.0 when nobody got it, so runs of one shape keep their keys)."""
    total = max(int(mix.loc["all", "all"]), 1) if "all" in mix.index else 1
    shares = {
        f"{strategy}_share": float(mix.loc["all", strategy]) / total if strategy in mix else 0.0
        for strategy in personaliser.strategies
    }
    versions = {
        f"{name}_version": int(champion.version)
        for name, champion in (("intent", parts.intent), ("recommender", parts.recommender))
        if champion is not None
    }
    rule = (
        {} if personaliser.threshold is None else {"high_intent_threshold": personaliser.threshold}
    )
    online = personaliser.online
    if online is not None:
        rule |= {"online_users": len(online.store), "online_events": online.store.events}
    return {
        **versions,
        **checks,
        **rule,
        "trending_window_days": params.personalise.trending_window_days,
        "trending_items": len(personaliser.trending),
        "k": params.k,
        **shares,
    }
