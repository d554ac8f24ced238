"""The features table's contract: its key columns, label, rule segments and feature names,
which the segments and intent stages read.

The table also carries its definition in ``table.attrs`` (kept by Parquet): ``label`` (the
label column), ``target_event``, ``horizon_days``, ``features`` (the numeric feature columns
kept), ``left_out`` (``{feature: why}``: columns this log cannot have, not written),
``status`` and ``skip_reason``.
"""

from __future__ import annotations

import functools
import re

KEYS = ("user_id", "cutoff")
#: the label column of the default target (``target_event: purchase``)
LABEL = "purchased_within_horizon"
#: what the label can predict: a canonical event type (as ``personalab.ingest.events.EVENT_TYPES``)
#: or ``return``, any event at all
TARGET_EVENTS = (
    "view",
    "click",
    "scroll",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "purchase",
    "rate",
    "return",
)
SEGMENTS = (
    "high_clicker",
    "deep_scroller",
    "long_dweller",
    "converter",
    "cart_abandoner",
    "at_risk",
)
RFM_SEGMENTS = (
    "champions",
    "loyal",
    "new",
    "potential",
    "at_risk",
    "hibernating",
    "needs_attention",
)


def feature_names(
    windows_days: list[int], devices: list[str] = (), categories: list[str] = ()
) -> list[str]:
    """Numeric feature columns in table order (without rule segments and labels)."""
    names = ["days_since_last_event", "days_since_last_purchase", "days_since_first_event"]
    for w in windows_days:
        names += [f"sessions_{w}d", f"events_{w}d", f"purchases_{w}d"]
    names += [
        "revenue_total", "orders_total", "avg_order_value",
        "rfm_recency", "rfm_frequency", "rfm_monetary",
        "sessions_total", "session_duration_mean", "session_duration_max", "events_per_session", "bounce_rate",
        "dwell_mean", "scroll_depth_mean", "scroll_depth_max", "clicks_per_view",
        "view_to_cart", "cart_to_purchase", "cart_abandonment_rate",
        "top_category_share", "category_entropy", "price_sensitivity",
        "activity_trend",
    ]  # fmt: skip
    names += [f"device_share_{d}" for d in devices]
    names += [category_share_column(c) for c in categories]
    return names


#: features that are missing (NaN) for a user without the events they describe: a purchase
#: (recency, order value), a view, a cart, a scroll, a known category, price or device, activity
#: in the two trend windows. Whether the training rows happen to hold such a user or not, a served
#: request may leave them null.
MAY_BE_MISSING = frozenset(
    {
        "days_since_last_purchase", "avg_order_value",
        "session_duration_mean", "session_duration_max", "events_per_session", "bounce_rate",
        "dwell_mean", "scroll_depth_mean", "scroll_depth_max", "clicks_per_view",
        "view_to_cart", "cart_to_purchase", "cart_abandonment_rate",
        "top_category_share", "category_entropy", "price_sensitivity", "activity_trend",
    }
)  # fmt: skip


def may_be_missing(name: str) -> bool:
    """Whether feature ``name`` is missing by definition for some users (:data:`MAY_BE_MISSING`,
    and the device and category shares, undefined for a user with no known device or category)."""
    return name in MAY_BE_MISSING or name.startswith(("device_share_", "category_share_"))


def label_name(target_event: str = "purchase") -> str:
    """The label column for ``target_event``: ``purchased_within_horizon`` for a purchase,
    ``returned_within_horizon`` for any return, else ``<event>_within_horizon``."""
    if target_event not in TARGET_EVENTS:
        raise ValueError(f"unknown target event {target_event!r}; known: {list(TARGET_EVENTS)}")
    if target_event == "purchase":
        return LABEL
    if target_event == "return":
        return "returned_within_horizon"
    return f"{target_event}_within_horizon"


@functools.lru_cache(maxsize=4096)
def category_share_column(category: str) -> str:
    """``category_share_<category>`` with anything but letters and digits as ``_``."""
    return "category_share_" + re.sub(r"[^0-9a-zA-Z]+", "_", str(category)).strip("_").lower()
