"""What a log supports: the features and rule segments it can have, decided from its profile.

A feature whose inputs the log never holds would be NaN (or one constant) for everyone, so it is
left out, not written, with the reason (``table.attrs["left_out"]``, the stage's notes):

================================  ===================================================
left out                          when the log has no
================================  ===================================================
days_since_last_purchase,         purchase events
purchases_<W>d, orders_total,
cart_to_purchase (also carts),
cart_abandonment_rate (also carts)
revenue_total, avg_order_value,   purchase events with a price
rfm_monetary
dwell_mean                        view events with ``dwell_seconds``
scroll_depth_mean, _max           scroll events with ``scroll_depth``
clicks_per_view                   view and click events
view_to_cart                      view and add_to_cart events
top_category_share,               ``category``
category_entropy,
category_share_<c>
price_sensitivity                 view events with a price
device_share_<d>                  ``device``
================================  ===================================================

Rule segments likewise (their ``seg_<name>`` column is left out, never written as all 0, and
``dominant_segment`` follows ``priority`` over the segments kept; the segments stage reads the
``seg_`` columns that exist): ``high_clicker`` needs clicks, ``deep_scroller`` scroll depths,
``long_dweller`` dwell times, ``converter`` purchases, ``cart_abandoner`` carts and purchases.

Some need history: ``activity_trend`` more than ``trend_days`` before the last cut-off,
``cart_abandonment_rate`` and ``cart_abandoner`` more than ``segments.abandon_hours``,
``at_risk`` more than ``segments.at_risk_days`` and users that are people (with
``identity: session`` every user is one session, so ``sessions_total`` is left out too).
An ``engagement_weights`` entry naming a left-out feature drops out of ``engagement_score``;
with none left the score is left out. ``rfm_segment`` without ``rfm_monetary`` is decided on
recency and frequency alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from personalab.core.profile import LogProfile
from personalab.features.cutoffs import duration_text
from personalab.features.params import FeaturesParams
from personalab.features.query import Events, on_engine
from personalab.features.schema import SEGMENTS

#: (event types, populated columns) each feature needs; features not named need nothing
Need = tuple[tuple[str, ...], tuple[str, ...]]
FEATURE_NEEDS: dict[str, Need] = {
    "days_since_last_purchase": (("purchase",), ()),
    "purchases_<W>d": (("purchase",), ()),
    "revenue_total": (("purchase",), ("price",)),
    "orders_total": (("purchase",), ()),
    "avg_order_value": (("purchase",), ("price",)),
    "rfm_monetary": (("purchase",), ("price",)),
    "dwell_mean": (("view",), ("dwell_seconds",)),
    "scroll_depth_mean": (("scroll",), ("scroll_depth",)),
    "scroll_depth_max": (("scroll",), ("scroll_depth",)),
    "clicks_per_view": (("view", "click"), ()),
    "view_to_cart": (("view", "add_to_cart"), ()),
    "cart_to_purchase": (("add_to_cart", "purchase"), ()),
    "cart_abandonment_rate": (("add_to_cart", "purchase"), ()),
    "top_category_share": ((), ("category",)),
    "category_entropy": ((), ("category",)),
    "price_sensitivity": (("view",), ("price",)),
    "device_share_<device>": ((), ("device",)),
    "category_share_<category>": ((), ("category",)),
}
SEGMENT_NEEDS: dict[str, Need] = {
    "high_clicker": (("click",), ()),
    "deep_scroller": (("scroll",), ("scroll_depth",)),
    "long_dweller": (("view",), ("dwell_seconds",)),
    "converter": (("purchase",), ()),
    "cart_abandoner": (("add_to_cart", "purchase"), ()),
    "at_risk": ((), ()),
}
#: the columns a profile reports as populated, and their granularities (coarsest first)
PROFILE_COLUMNS = ("category", "price", "quantity", "rating", "dwell_seconds", "scroll_depth",
                   "device", "channel")  # fmt: skip
GRANULARITIES = (("day", 86400.0), ("hour", 3600.0), ("minute", 60.0), ("second", 1.0),
                 ("millisecond", 1e-3), ("microsecond", 1e-6), ("nanosecond", 1e-9))  # fmt: skip


@dataclass(frozen=True)
class Support:
    """What to compute for one log: the columns left out (with why), the rule segments and the
    engagement weights kept."""

    left_out: dict[str, str] = field(default_factory=dict)
    segments: tuple[str, ...] = SEGMENTS
    weights: dict[str, float] = field(default_factory=dict)
    dropped_weights: tuple[str, ...] = ()

    def keeps(self, name: str) -> bool:
        return name not in self.left_out


def decide_support(
    profile: LogProfile,
    params: FeaturesParams,
    history: pd.Timedelta,
    trend: pd.Timedelta,
) -> Support:
    """The :class:`Support` of a log with ``profile``, ``history`` before its last cut-off and
    the resolved ``trend`` window (rules in the module docstring)."""
    left_out: dict[str, str] = {}
    for name, need in FEATURE_NEEDS.items():
        if name == "category_share_<category>" and params.category_shares == 0:
            continue  # none asked for
        why = lacking(profile, need)
        if why:
            for column in _expand(name, params.windows_days):
                left_out[column] = why
    abandon = pd.Timedelta(hours=params.segments.abandon_hours)
    short = {
        "activity_trend": (trend, "trend_days"),
        "cart_abandonment_rate": (abandon, "segments.abandon_hours"),
    }
    for name, (window, key) in short.items():
        if name not in left_out and history <= window:
            left_out[name] = too_short(window, history, key)
    if profile.identity == "session":
        left_out["sessions_total"] = "users are sessions (identity: session): always 1"
    segments = []
    for name in SEGMENTS:
        why = lacking(profile, SEGMENT_NEEDS[name]) or _segment_history(
            name, profile, params, history
        )
        if why:
            left_out[f"seg_{name}"] = why
        else:
            segments.append(name)
    weights = {k: w for k, w in params.engagement_weights.items() if k not in left_out}
    dropped = tuple(k for k in params.engagement_weights if k in left_out)
    if not sum(weights.values()):
        left_out["engagement_score"] = (
            f"every feature of engagement_weights is left out ({', '.join(dropped)})"
        )
        weights = {}
    return Support(left_out, tuple(segments), weights, dropped)


def _segment_history(
    name: str, profile: LogProfile, params: FeaturesParams, history: pd.Timedelta
) -> str | None:
    rules = params.segments
    if name == "cart_abandoner" and history <= pd.Timedelta(hours=rules.abandon_hours):
        return too_short(pd.Timedelta(hours=rules.abandon_hours), history, "segments.abandon_hours")
    if name == "at_risk":
        if profile.identity == "session":
            return "users are sessions (identity: session): no one has a second session"
        if history <= pd.Timedelta(days=rules.at_risk_days):
            return too_short(
                pd.Timedelta(days=rules.at_risk_days), history, "segments.at_risk_days"
            )
    return None


def lacking(profile: LogProfile, need: Need) -> str | None:
    """Why a log with ``profile`` cannot give a feature that needs ``need``; None when it can."""
    kinds, columns = need
    no_kinds = [k for k in kinds if not profile.has(k)]
    no_columns = [c for c in columns if profile.populated(c) <= 0]
    if not no_kinds and not no_columns:
        return None
    needs = f"{' and '.join(kinds)} events" if kinds else ""
    if columns:
        needs = f"{needs} with {' and '.join(columns)}" if needs else " and ".join(columns)
    has = [f"no {k} events" for k in no_kinds] + [f"no {c} values" for c in no_columns]
    return f"needs {needs}; the log has {' and '.join(has)}"


def too_short(window: pd.Timedelta, history: pd.Timedelta, key: str) -> str:
    return (
        f"needs more than {duration_text(window)} of history before the last cut-off "
        f"({key}); the log has {duration_text(history)}"
    )


def _expand(name: str, windows_days: list[int]) -> list[str]:
    if name == "purchases_<W>d":
        return [f"purchases_{w}d" for w in windows_days]
    return [name]


# --- a profile of the events themselves (a direct call without profile.json) ----------------


def profile_of(events: pd.DataFrame | Events) -> LogProfile:
    """The parts of a :class:`LogProfile` the features stage reads, computed from ``events`` (a
    frame, or the events on an engine) as engine aggregates: what ingest writes to profile.json
    for the same events."""
    with on_engine(events) as on:
        t = on.table
        steps = {name: round(seconds * 1e9) for name, seconds in GRANULARITIES}
        figures = on.engine.fetch(
            t.aggregate(
                rows=t.count(),
                users=t.user_id.nunique(),
                items=t.item_id.nunique(),
                first=t.ns.min(),
                last=t.ns.max(),
                people=t.count(where=~t.user_id.startswith("session:")),
                **{f"_in_{c}": t[c].count() for c in PROFILE_COLUMNS},
                **{f"_off_{name}": t.count(where=t.ns % step != 0) for name, step in steps.items()},
            )
        ).iloc[0]
        kinds = on.engine.fetch(t.group_by("event_type").aggregate(n=t.count()), ["event_type"])
    n = int(figures["rows"])
    granularity = next(
        ((name, s) for name, s in GRANULARITIES if n and not figures[f"_off_{name}"]),
        ("second", 1.0),
    )
    return LogProfile(
        {
            "rows": n,
            "event_types": {
                str(k): int(v) for k, v in zip(kinds["event_type"], kinds["n"], strict=True)
            },
            "populated": {c: float(figures[f"_in_{c}"]) / n if n else 0.0 for c in PROFILE_COLUMNS},
            "identity": "session" if n and not figures["people"] else "user",
            "users": int(figures["users"]),
            "items": int(figures["items"]),
            "span_days": float(figures["last"] - figures["first"]) / 86400e9 if n else 0.0,
            "granularity": granularity[0],
            "granularity_seconds": granularity[1],
        }
    )
