"""Unit tests of personalab.features.support: the features and rule segments a log's profile
supports (ratings only, views only by session, purchases only, everything, a short log)."""

from __future__ import annotations

import pandas as pd
import pytest

from personalab.core.profile import LogProfile, full_profile
from personalab.features.schema import SEGMENTS, feature_names
from personalab.features.support import decide_support, lacking, profile_of
from tests.unit.features.helpers import LOG, events_frame, params

LONG = pd.Timedelta(days=60)
WEEK = pd.Timedelta(days=7)
PURCHASE_FEATURES = {"days_since_last_purchase", "purchases_1d", "purchases_7d", "purchases_30d",
                     "orders_total", "revenue_total", "avg_order_value", "rfm_monetary"}  # fmt: skip
VIEW_FEATURES = {"dwell_mean", "clicks_per_view", "view_to_cart", "price_sensitivity"}
OTHER_FEATURES = {"scroll_depth_mean", "scroll_depth_max", "cart_to_purchase",
                  "cart_abandonment_rate", "top_category_share", "category_entropy",
                  "device_share_<device>", "category_share_<category>"}  # fmt: skip


def profile(kinds: list[str], columns: list[str] = (), identity: str = "user") -> LogProfile:
    return LogProfile(
        {
            "event_types": dict.fromkeys(kinds, 10),
            "populated": dict.fromkeys(columns, 1.0),
            "identity": identity,
        }
    )


def test_a_full_log_with_history_keeps_everything():
    support = decide_support(full_profile(), params(), LONG, WEEK)
    assert support.left_out == {}
    assert support.segments == SEGMENTS
    assert support.weights == params().engagement_weights and support.dropped_weights == ()


def test_a_ratings_log_keeps_recency_windows_sessions_and_at_risk_only():
    support = decide_support(profile(["rate"], ["rating"]), params(), LONG, WEEK)
    segments = {f"seg_{name}" for name in SEGMENTS if name != "at_risk"}
    assert set(support.left_out) == PURCHASE_FEATURES | VIEW_FEATURES | OTHER_FEATURES | segments
    assert support.segments == ("at_risk",)
    assert support.weights == {"sessions_30d": 1.0, "events_per_session": 1.0}
    assert support.dropped_weights == (
        "dwell_mean", "scroll_depth_mean", "clicks_per_view", "purchases_30d",
    )  # fmt: skip
    assert support.left_out["revenue_total"] == (
        "needs purchase events with price; the log has no purchase events and no price values"
    )
    assert support.left_out["seg_high_clicker"] == (
        "needs click events; the log has no click events"
    )
    kept = [name for name in feature_names([1, 7, 30]) if name not in support.left_out]
    assert "activity_trend" in kept and "sessions_total" in kept and "rfm_frequency" in kept


def test_a_views_only_session_log_has_no_second_sessions_and_no_segments():
    support = decide_support(profile(["view"], ["category"], "session"), params(), LONG, WEEK)
    assert support.left_out["sessions_total"].startswith("users are sessions")
    assert support.left_out["seg_at_risk"].startswith("users are sessions")
    assert support.segments == ()
    assert "top_category_share" not in support.left_out  # categories are there
    assert "view_to_cart" in support.left_out and "clicks_per_view" in support.left_out
    assert support.left_out["dwell_mean"] == (
        "needs view events with dwell_seconds; the log has no dwell_seconds values"
    )


def test_a_purchases_only_log_keeps_orders_revenue_and_converters():
    support = decide_support(profile(["purchase"], ["price", "quantity"]), params(), LONG, WEEK)
    assert not PURCHASE_FEATURES & set(support.left_out)
    assert support.left_out["price_sensitivity"] == (
        "needs view events with price; the log has no view events"
    )
    assert support.segments == ("converter", "at_risk")
    assert "purchases_30d" in support.weights


def test_purchases_without_price_leave_out_revenue_but_keep_orders():
    support = decide_support(profile(["purchase"]), params(), LONG, WEEK)
    assert {"revenue_total", "avg_order_value", "rfm_monetary"} <= set(support.left_out)
    assert "orders_total" not in support.left_out


def test_a_short_history_leaves_out_what_needs_a_longer_one():
    six_hours = pd.Timedelta(hours=6)
    support = decide_support(full_profile(), params(), six_hours, pd.Timedelta(hours=1))
    assert support.left_out["cart_abandonment_rate"] == (
        "needs more than 1 day of history before the last cut-off (segments.abandon_hours); "
        "the log has 6 hours"
    )
    assert set(support.left_out) == {"cart_abandonment_rate", "seg_cart_abandoner", "seg_at_risk"}
    # a trend window as long as the history is left out too
    long_trend = decide_support(full_profile(), params(), six_hours, six_hours)
    assert "activity_trend" in long_trend.left_out


def test_engagement_score_is_left_out_when_no_weighted_feature_remains():
    weights = {"dwell_mean": 1.0, "scroll_depth_mean": 2.0}
    support = decide_support(profile(["rate"]), params(engagement_weights=weights), LONG, WEEK)
    assert support.weights == {}
    assert support.left_out["engagement_score"] == (
        "every feature of engagement_weights is left out (dwell_mean, scroll_depth_mean)"
    )


def test_no_category_shares_asked_means_none_left_out():
    support = decide_support(profile(["view"]), params(category_shares=0), LONG, WEEK)
    assert "category_share_<category>" not in support.left_out
    assert "top_category_share" in support.left_out


def test_lacking_names_what_is_missing():
    full = full_profile()
    assert lacking(full, (("view", "click"), ("price",))) is None
    assert lacking(profile(["view"]), (("view", "click"), ())) == (
        "needs view and click events; the log has no click events"
    )
    assert lacking(profile([]), ((), ("device",))) == "needs device; the log has no device values"


@pytest.mark.parametrize(
    ("stamps", "granularity"),
    [
        (["2024-03-01", "2024-03-05"], "day"),
        (["2024-03-01 10:00", "2024-03-05"], "hour"),
        (["2024-03-01 10:00:00.001", "2024-03-05"], "millisecond"),
    ],
)
def test_profile_of_events_reads_kinds_columns_and_granularity(stamps, granularity):
    rows = [("u", "s", pd.Timestamp(ts, tz="UTC"), "view", "i1") for ts in stamps]
    prof = profile_of(events_frame(rows))
    assert prof.granularity == granularity
    assert prof.event_types == ["view"] and prof.populated("price") == 1.0
    assert prof.populated("dwell_seconds") == 0.0 and prof.identity == "user"


def test_profile_of_the_main_log():
    prof = profile_of(events_frame(LOG))
    assert set(prof.event_types) == {"view", "click", "add_to_cart", "purchase", "scroll", "search"}
    assert prof.span_days == pytest.approx(40 - 119 / 1440)  # T - 40 d to T - 1 h 59 min
    sessions = events_frame([("session:1", "1", pd.Timestamp("2024-03-01", tz="UTC"), "view")])
    assert profile_of(sessions).identity == "session"
