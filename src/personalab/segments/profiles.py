"""Profiles and names of the chosen segments.

The chosen clustering is profiled (size, feature means, lift against the
population, purchase rate, revenue share), each segment is named from its most
distinctive features (deterministic for the same data), and compared with the
rule segments of the features stage.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from personalab.features.schema import LABEL, SEGMENTS
from personalab.segments.model import NOISE

#: feature -> (word when high, word when low), for segment names
DESCRIPTORS: dict[str, tuple[str, str]] = {
    "days_since_last_event": ("lapsing", "recently active"),
    "days_since_first_event": ("long-standing", "newcomers"),
    "sessions_30d": ("frequent visitors", "rare visitors"),
    "events_per_session": ("long sessions", "short sessions"),
    "session_duration_mean": ("long sessions", "short sessions"),
    "dwell_mean": ("slow readers", "quick browsers"),
    "scroll_depth_mean": ("deep scrollers", "shallow scrollers"),
    "clicks_per_view": ("clickers", "few clicks"),
    "view_to_cart": ("cart fillers", "window shoppers"),
    "cart_abandonment_rate": ("cart abandoners", "decisive"),
    "price_sensitivity": ("premium seekers", "bargain hunters"),
    "category_entropy": ("explorers", "category loyal"),
    "orders_total": ("frequent buyers", "non-buyers"),
    "revenue_total": ("big spenders", "low spenders"),
    "purchases_30d": ("recent buyers", "not buying lately"),
}
#: feature -> the word when low but not none (a segment of buyers below the mean is not
#: "non-buyers": in a log of purchases only, everybody bought)
LOW_NOT_NONE = {"orders_total": "occasional buyers", "purchases_30d": "fewer recent purchases"}


def segment_profiles(
    table: pd.DataFrame, labels: np.ndarray, features: list[str], label: str | None = LABEL
) -> pd.DataFrame:
    """Per segment: users, share, the label's rate (``purchase_rate`` for the purchase label),
    revenue share and the mean of every feature."""
    frame = table[features].astype(float).assign(_segment=labels)
    profile = frame.groupby("_segment").mean()
    profile.insert(0, "users", frame.groupby("_segment").size())
    profile.insert(1, "share", profile["users"] / len(frame))
    if label is not None and label in table:
        rate = table[label].astype(float).groupby(labels).mean()
        profile.insert(2, label_rate_column(label), rate)
    if "revenue_total" in table and table["revenue_total"].notna().any():
        revenue = table["revenue_total"].groupby(labels).sum()
        after = profile.columns.get_loc("share") + 1 + int(label is not None and label in table)
        profile.insert(after, "revenue_share", revenue / max(revenue.sum(), 1e-12))
    profile.index.name = "segment_id"
    return profile


def label_rate_column(label: str) -> str:
    """``purchase_rate`` for ``purchased_within_horizon``; ``<event>_rate`` for
    ``<event>_within_horizon``."""
    if label == LABEL:
        return "purchase_rate"
    return f"{label.removesuffix('_within_horizon')}_rate"


def feature_lift(table: pd.DataFrame, labels: np.ndarray, features: list[str]) -> pd.DataFrame:
    """Standardised difference of each segment's mean from the population: (mean - pop) / pop std."""
    values = table[features].astype(float)
    mean, std = values.mean(), values.std(ddof=0).replace(0, np.nan)
    return ((values.groupby(labels).mean() - mean) / std).rename_axis("segment_id")


def name_segments(
    lift: pd.DataFrame, n_words: int = 2, means: pd.DataFrame | None = None
) -> dict[int, str]:
    """A readable, unique name per segment from its most distinctive features (deterministic).

    Words come from ``DESCRIPTORS`` for the features with the largest absolute lift;
    when two segments would share a name, the next distinctive word is added. With the
    segments' feature ``means``, a low word that says "none" is used only for a mean of 0
    (:data:`LOW_NOT_NONE`).
    """

    def word(row: pd.Series, feature: str) -> str:
        high, low = DESCRIPTORS.get(feature, (f"high {feature}", f"low {feature}"))
        if row[feature] > 0:
            return high
        if means is not None and feature in LOW_NOT_NONE and means.loc[row.name, feature] > 0:
            return LOW_NOT_NONE[feature]
        return low

    names: dict[int, str] = {}
    for segment_id in sorted(lift.index):
        if segment_id == NOISE:
            names[segment_id] = "noise"
            continue
        row = lift.loc[segment_id].dropna()
        order = row.abs().sort_values(ascending=False, kind="stable").index
        words: list[str] = []
        for candidate in (word(row, feature) for feature in order):
            if candidate not in words:
                words.append(candidate)
        name = ", ".join(words[:n_words]) or f"segment {segment_id}"
        extra = iter(words[n_words:])
        while name in names.values():
            more = next(extra, None)
            name = f"{name}, {more}" if more else f"{name} ({segment_id})"
        names[segment_id] = name
    return names


def rule_crosstab(table: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
    """Share of each segment's users holding each rule segment of the features stage."""
    columns = [f"seg_{name}" for name in SEGMENTS if f"seg_{name}" in table]
    return (
        table[columns]
        .groupby(names.to_numpy())
        .mean()
        .rename(columns=lambda c: c.removeprefix("seg_"))
    )
