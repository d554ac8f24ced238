"""The stage's wiring: every feature family at one cut-off, then every cut-off with its label.

Users with no event before ``T`` have no row for ``T``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from personalab.core.errors import InputError
from personalab.features import families, rules
from personalab.features.cutoffs import label_purchases, place_cutoffs, top_categories
from personalab.features.history import History
from personalab.features.params import FeaturesParams
from personalab.features.schema import KEYS, LABEL, SEGMENTS, feature_names


class FeaturesError(InputError, ValueError):
    """The events cannot give the asked-for features (e.g. no cut-off fits the log)."""


def features_at(
    events: pd.DataFrame,
    cutoff: pd.Timestamp,
    params: FeaturesParams,
    devices: list[str],
    categories: list[str] = (),
) -> pd.DataFrame:
    """One row per user with an event before ``cutoff``: every feature and rule segment."""
    before = events["timestamp"] < cutoff
    hist_frame = events.loc[before]
    if hist_frame.empty:
        return pd.DataFrame(columns=[*KEYS])
    h = History.of(hist_frame)
    t_ns = cutoff.value
    out = pd.DataFrame({"user_id": pd.Series(np.asarray(h.users), dtype="str"), "cutoff": cutoff})

    def add(columns: dict[str, Any]) -> None:
        for name, values in columns.items():
            out[name] = values

    add(families.recency_features(h, t_ns))
    add(families.window_features(h, t_ns, params.windows_days))
    add(families.order_features(h))
    add(rules.rfm_features(out, params.windows_days[-1]))
    add(families.session_features(h))
    add(families.engagement_features(h))
    matured, abandoned = families.cart_outcomes(h, t_ns, params.segments.abandon_hours)
    add(families.funnel_features(h, matured, abandoned))
    add(families.taste_features(h))
    add(families.trend_features(h, t_ns, params.trend_days))
    add(families.share_features(h, devices, categories))
    add(rules.rule_segments(h, out, t_ns, params.segments, abandoned))
    out["engagement_score"] = rules.engagement_score(out, params.engagement_weights)
    out["dominant_segment"] = rules.dominant_segment(out, params.segments.priority)
    return out


@dataclass
class FeaturesResult:
    table: pd.DataFrame
    cutoffs: list[pd.Timestamp]
    dropped_cutoffs: list[pd.Timestamp]
    metrics: dict[str, Any]
    seconds: float
    feature_names: list[str]  # numeric features (without rule segments and the label)


def build_features(events: pd.DataFrame, params: FeaturesParams) -> FeaturesResult:
    """Features, rule segments and labels for every (user, cut-off)."""
    start = time.perf_counter()
    missing = [c for c in ("user_id", "session_id", "timestamp", "event_type") if c not in events]
    if missing:
        raise FeaturesError(f"events table lacks column(s) {missing}; run the ingest stage first")
    if events.empty:
        raise FeaturesError("events table is empty: nothing to build features from")
    log_start, log_end = events["timestamp"].min(), events["timestamp"].max()
    cutoffs, dropped = place_cutoffs(log_start, log_end, params.cutoffs, params.horizon_days)
    if not cutoffs:
        raise FeaturesError(
            f"no cut-off fits the log ({log_start} to {log_end}) with a {params.horizon_days}-day horizon; "
            f"dropped: {[str(t) for t in dropped]}"
        )
    # devices seen before the last cut-off (no column exists only because of later events)
    seen = events.loc[events["timestamp"] < cutoffs[-1], "device"] if "device" in events else None
    devices = sorted(str(d) for d in pd.unique(seen.dropna())) if seen is not None else []
    categories = top_categories(events, cutoffs[-1], params.category_shares)
    parts = []
    for cutoff in cutoffs:
        part = features_at(events, cutoff, params, devices, categories)
        part[LABEL] = label_purchases(events, part["user_id"], cutoff, params.horizon_days)
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    seconds = time.perf_counter() - start
    names = feature_names(params.windows_days, devices, categories)
    metrics: dict[str, Any] = {
        "rows": len(table),
        "users": int(table["user_id"].nunique()),
        "cutoffs": len(cutoffs),
        "cutoffs_dropped": len(dropped),
        "positive_rate": float(table[LABEL].mean()),
        "feature_count": len(names)
        + len(SEGMENTS)
        + 3,  # + rfm_segment, engagement_score, dominant_segment
        "max_null_share": float(table[names].isna().mean().max()),
        **{f"share_{name}": float(table[f"seg_{name}"].mean()) for name in SEGMENTS},
    }
    return FeaturesResult(
        table=table,
        cutoffs=cutoffs,
        dropped_cutoffs=dropped,
        metrics=metrics,
        seconds=seconds,
        feature_names=names,
    )
