"""The stage's wiring: every feature family at one cut-off, then every cut-off with its label.

Users with no event before ``T`` have no row for ``T``. What is built follows the plan
(:mod:`personalab.features.plan`): columns the log cannot have are left out, and a log with no
cut-off gives an empty table that says why (``table.attrs``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import ibis
import pandas as pd

from personalab.core.errors import InputError
from personalab.core.profile import LogProfile
from personalab.core.status import StageStatus
from personalab.engine import Engine, connect
from personalab.features.families_query import family_columns
from personalab.features.params import FeaturesParams
from personalab.features.plan import STAGE, FeaturesPlan, plan_features
from personalab.features.query import Events, before, events_on, on_engine
from personalab.features.report import format_times, time_format
from personalab.features.rules_query import (
    cart_outcomes,
    dominant_segment,
    engagement_score,
    label_column,
    rfm_columns,
    segment_columns,
)
from personalab.features.schema import KEYS, feature_names
from personalab.features.support import profile_of

#: a label with fewer positives than this at a cut-off is a warning
FEW_POSITIVES = 5


class FeaturesError(InputError, ValueError):
    """The events cannot give features (e.g. a column the ingest stage always writes is missing)."""


def features_at(
    events: pd.DataFrame | Events,
    cutoff: pd.Timestamp,
    plan: FeaturesPlan,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """One row per user with an event before ``cutoff``: every feature and rule segment the plan
    keeps (:func:`personalab.features.plan.full_plan`: all of them), computed on the engine the
    events are on (a frame: on ``engine``, None: an in-memory DuckDB)."""
    with on_engine(events, engine) as on:
        if not on.count_before(cutoff.value):
            return pd.DataFrame(columns=[*KEYS])
        return fetch_tables(on, {cutoff: user_table(on, cutoff, plan)})


def user_table(events: Events, cutoff: pd.Timestamp, plan: FeaturesPlan, label: bool = False):
    """The Ibis expression of :func:`features_at`'s table at ``cutoff`` (without ``cutoff``),
    with the label column when ``label``. The family columns are computed once (cached on the
    engine until :func:`fetch_tables` fetches the table); ranks and segments read them."""
    params, support, t_ns = plan.params, plan.support, cutoff.value
    h = before(events.table, t_ns)
    table = events.engine.cache(family_columns(h, t_ns, plan))
    table = rfm_columns(table, params.windows_days[-1], support.keeps("rfm_monetary"))
    outcomes = cart_outcomes(h, t_ns, params.segments.abandon_hours)
    table = segment_columns(h, table, t_ns, params.segments, support.segments, outcomes)
    if support.keeps("engagement_score"):
        table = engagement_score(table, support.weights)
    table = dominant_segment(table, plan.priority)
    if label:
        horizon = pd.Timedelta(days=plan.horizon_days).value
        table = label_column(events.table, table, t_ns, horizon, plan.target_event)
    return table.select(*[name for name in column_order(plan, label) if name in table.columns])


def column_order(plan: FeaturesPlan, label: bool = False) -> list[str]:
    """The table's columns in order, without ``cutoff`` (the plan's left-out ones removed)."""
    params = plan.params
    names = feature_names(params.windows_days, plan.devices, plan.categories)
    at = names.index("rfm_monetary") + 1
    names = [*names[:at], "rfm_segment", *names[at:]]
    names += [f"seg_{name}" for name in plan.support.segments]
    names += ["engagement_score", "dominant_segment"] + ([plan.label] if label else [])
    return ["user_id", *(name for name in names if name not in plan.support.left_out)]


def fetch_tables(events: Events, tables: dict[pd.Timestamp, ibis.Table]) -> pd.DataFrame:
    """The user tables of several cut-offs, fetched in one query (one job on Spark): rows by
    cut-off then user, ``cutoff`` second, in the table's dtypes. The family columns
    :func:`user_table` cached are dropped before the table comes into memory."""
    parts = [expr.mutate(_cutoff=ibis.literal(t.value, "int64")) for t, expr in tables.items()]
    frame = events.engine.fetch(ibis.union(*parts), order_by=["_cutoff", "user_id"], last=True)
    unit = next(iter(tables)).unit
    cutoff = pd.to_datetime(frame.pop("_cutoff"), unit="ns", utc=True).dt.as_unit(unit)
    frame.insert(1, "cutoff", cutoff)
    small = [c for c in frame if c.startswith(("seg_", "rfm_")) and c != "rfm_segment"]
    return frame.astype({"user_id": "str", **dict.fromkeys(small, "int8")})


@dataclass
class FeaturesResult:
    table: pd.DataFrame  # its definition in table.attrs (personalab.features.schema)
    plan: FeaturesPlan
    metrics: dict[str, Any]
    seconds: float
    feature_names: list[str]  # numeric features kept (without rule segments and the label)

    @property
    def cutoffs(self) -> list[pd.Timestamp]:
        return self.plan.cutoffs

    @property
    def dropped_cutoffs(self) -> list[pd.Timestamp]:
        return self.plan.dropped_cutoffs

    @property
    def label(self) -> str:
        return self.plan.label

    @property
    def left_out(self) -> dict[str, str]:
        return dict(self.plan.support.left_out)

    def describe_cutoffs(self) -> str:
        """The cut-offs kept and dropped, and the horizon, on one line."""
        if self.plan.cutoff_plan is None:
            return "no cut-offs"
        return (
            f"{self.plan.cutoff_plan.describe()}; cut-offs: {format_times(self.cutoffs)}; "
            f"dropped (horizon past the end of the log or no history): "
            f"{format_times(self.dropped_cutoffs)}"
        )


def build_features(
    events: pd.DataFrame | Events,
    params: FeaturesParams,
    profile: LogProfile | None = None,
    status: StageStatus | None = None,
) -> FeaturesResult:
    """Features, rule segments and labels for every (user, cut-off) the log supports.

    ``events``: the ingest stage's events, a frame (moved to the engine ``params`` name) or
    already on an engine (:func:`personalab.features.io.open_events`). ``profile`` is the ingest
    stage's profile of them (None: computed from a frame); ``status`` records every decision
    (None: a fresh one). When nothing can be built the status is skipped and the table has no
    rows.
    """
    if isinstance(events, pd.DataFrame):
        missing = [
            c for c in ("user_id", "session_id", "timestamp", "event_type") if c not in events
        ]
        if missing:
            raise FeaturesError(
                f"events table lacks column(s) {missing}; run the ingest stage first"
            )
        profile = profile if profile is not None else profile_of(events)
        engine = connect(params.engine_params())
        try:
            return build_features(
                Events(engine, events_on(engine, events)), params, profile, status
            )
        finally:
            engine.close()
    start = time.perf_counter()
    status = status if status is not None else StageStatus(STAGE)
    plan = plan_features(events, params, profile, status)
    if plan.skip_reason is not None:
        return skipped_result(plan, status, time.perf_counter() - start)
    table = fetch_tables(events, {t: user_table(events, t, plan, label=True) for t in plan.cutoffs})
    note_label(table, plan, status)
    names = kept_feature_names(plan)
    metrics = build_metrics(table, plan, names) | status.metrics()
    table.attrs = table_attrs(plan, names, status)
    return FeaturesResult(table, plan, metrics, time.perf_counter() - start, names)


def kept_feature_names(plan: FeaturesPlan) -> list[str]:
    """The numeric feature columns of the plan's table, in table order."""
    names = feature_names(plan.params.windows_days, plan.devices, plan.categories)
    return [name for name in names if plan.support.keeps(name)]


def note_label(table: pd.DataFrame, plan: FeaturesPlan, status: StageStatus) -> None:
    """A warning when the label holds one class, or fewer than ``FEW_POSITIVES`` positives at
    a cut-off (the intent stage then skips or learns from very little)."""
    label = plan.label
    positives = table.groupby("cutoff")[label].sum()
    if table[label].nunique() < 2:
        status.warn(
            f"the label {label} holds a single class ({int(table[label].iloc[0])}) over "
            f"{len(table):,} rows: the intent stage cannot learn it"
        )
    elif (positives < FEW_POSITIVES).any():
        form = time_format(positives.index)
        few = ", ".join(f"{t:{form}}: {int(n)}" for t, n in positives.items() if n < FEW_POSITIVES)
        status.warn(f"the label {label} has under {FEW_POSITIVES} positives at cut-off(s) {few}")


def build_metrics(table: pd.DataFrame, plan: FeaturesPlan, names: list[str]) -> dict[str, Any]:
    segments = plan.support.segments
    derived = ["rfm_segment", "engagement_score", "dominant_segment"]
    return {
        "rows": len(table),
        "users": int(table["user_id"].nunique()),
        "cutoffs": len(plan.cutoffs),
        "cutoffs_dropped": len(plan.dropped_cutoffs),
        "horizon_days": plan.horizon_days,
        "positive_rate": float(table[plan.label].mean()),
        "feature_count": len(names) + len(segments) + sum(name in table for name in derived),
        "features_left_out": len(plan.support.left_out),
        "max_null_share": float(table[names].isna().mean().max()) if names else 0.0,
        **{f"share_{name}": float(table[f"seg_{name}"].mean()) for name in segments},
    }


def table_attrs(plan: FeaturesPlan, names: list[str], status: StageStatus) -> dict[str, Any]:
    """The table's definition (``personalab.features.schema``), kept in Parquet."""
    return {
        "label": plan.label,
        "target_event": plan.target_event,
        "horizon_days": plan.horizon_days,
        "features": list(names),
        "left_out": dict(plan.support.left_out),
        "status": status.status,
        "skip_reason": status.skip_reason,
    }


def skipped_result(plan: FeaturesPlan, status: StageStatus, seconds: float) -> FeaturesResult:
    """No rows, the key and label columns, and the reason (in attrs and metrics)."""
    table = pd.DataFrame(
        {
            "user_id": pd.Series(dtype="str"),
            "cutoff": pd.Series(dtype="datetime64[ns, UTC]"),
            plan.label: pd.Series(dtype="int8"),
        }
    )
    table.attrs = table_attrs(plan, [], status)
    metrics = {
        "rows": 0,
        "users": 0,
        "cutoffs": 0,
        "cutoffs_dropped": len(plan.dropped_cutoffs),
        "horizon_days": plan.horizon_days,
        **status.metrics(),
    }
    return FeaturesResult(table, plan, metrics, seconds, [])
