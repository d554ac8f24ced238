"""The features table's contract: its key columns, label, rule segments and feature names,
which the segments and intent stages read."""

from __future__ import annotations

import re

KEYS = ("user_id", "cutoff")
LABEL = "purchased_within_horizon"
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


def category_share_column(category: str) -> str:
    """``category_share_<category>`` with anything but letters and digits as ``_``."""
    return "category_share_" + re.sub(r"[^0-9a-zA-Z]+", "_", str(category)).strip("_").lower()
