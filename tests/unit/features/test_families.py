"""Unit tests of personalab.features.families: every feature family at one cut-off."""

from __future__ import annotations

import math

import pytest

from personalab.features.build import features_at
from personalab.features.params import FeaturesParams
from personalab.features.plan import full_plan
from tests.unit.features.helpers import DEVICES, LOG, NAN, T, approx, by_user, events_frame, t


def test_tenure_is_days_since_the_first_event(at_t):
    assert by_user(at_t, "days_since_first_event") == approx({"a": 20.0, "b": 10.0, "c": 40.0})


def test_recency_in_days_nan_when_never_bought(at_t):
    assert by_user(at_t, "days_since_last_event") == approx(
        {"a": (12 * 3600 - 30) / 86400, "b": 119 / 1440, "c": 20.0}
    )
    assert by_user(at_t, "days_since_last_purchase") == approx(
        {"a": 7 - 4 / 1440, "b": NAN, "c": NAN}
    )


def test_frequency_one_day_window(at_t):
    assert by_user(at_t, "sessions_1d") == {"a": 1, "b": 1, "c": 0}
    assert by_user(at_t, "events_1d") == {"a": 2, "b": 2, "c": 0}
    assert by_user(at_t, "purchases_1d") == {"a": 0, "b": 0, "c": 0}


def test_frequency_seven_day_window_includes_t_minus_7d_and_excludes_one_second_before(at_t):
    # a2 starts exactly at T - 7 d (inside); b2 is at T - 7 d - 1 s (outside)
    assert by_user(at_t, "sessions_7d") == {"a": 2, "b": 1, "c": 0}
    assert by_user(at_t, "events_7d") == {"a": 6, "b": 2, "c": 0}
    assert by_user(at_t, "purchases_7d") == {"a": 1, "b": 0, "c": 0}


def test_frequency_thirty_day_window_excludes_older_events(at_t):
    # c1 is 40 days old
    assert by_user(at_t, "sessions_30d") == {"a": 3, "b": 3, "c": 1}
    assert by_user(at_t, "events_30d") == {"a": 10, "b": 6, "c": 1}
    assert by_user(at_t, "purchases_30d") == {"a": 2, "b": 0, "c": 0}


def test_monetary_missing_quantity_counts_as_one_and_nan_without_orders(at_t):
    assert by_user(at_t, "revenue_total") == approx({"a": 10 * 2 + 30 * 1, "b": 0.0, "c": 0.0})
    assert by_user(at_t, "orders_total") == {"a": 2, "b": 0, "c": 0}
    assert by_user(at_t, "avg_order_value") == approx({"a": 25.0, "b": NAN, "c": NAN})


def test_orders_count_sessions_with_a_purchase_not_purchase_events():
    log = [
        ("u", "s1", t(d=-2), "purchase", "i1"),
        ("u", "s1", t(d=-2, m=1), "purchase", "i2"),
        ("u", "s2", t(d=-1), "purchase", "i3", {"quantity": 3.0}),
    ]
    row = features_at(events_frame(log), T, full_plan(FeaturesParams(), [])).iloc[0]
    assert row["orders_total"] == 2
    assert row["revenue_total"] == pytest.approx(10 + 30 + 60)
    assert row["avg_order_value"] == pytest.approx(50.0)


def test_session_features(at_t):
    # a: 300, 240, 30 s; b: 180, 0, 60 s; c: two single-event sessions
    assert by_user(at_t, "sessions_total") == {"a": 3, "b": 3, "c": 2}
    assert by_user(at_t, "session_duration_mean") == approx({"a": 190.0, "b": 80.0, "c": 0.0})
    assert by_user(at_t, "session_duration_max") == approx({"a": 300.0, "b": 180.0, "c": 0.0})
    assert by_user(at_t, "events_per_session") == approx({"a": 10 / 3, "b": 2.0, "c": 1.0})
    assert by_user(at_t, "bounce_rate") == approx({"a": 0.0, "b": 1 / 3, "c": 1.0})


def test_engagement_features_nan_without_views_or_scrolls(at_t):
    assert by_user(at_t, "dwell_mean") == approx({"a": 200.0, "b": 32.5, "c": NAN})
    assert by_user(at_t, "scroll_depth_mean") == approx({"a": 0.9, "b": NAN, "c": 0.3})
    assert by_user(at_t, "scroll_depth_max") == approx({"a": 0.9, "b": NAN, "c": 0.3})
    assert by_user(at_t, "clicks_per_view") == approx({"a": 2 / 3, "b": 0.0, "c": NAN})


def test_dwell_mean_counts_views_only():
    log = [
        ("u", "s", t(h=-1), "view", "i1", {"dwell_seconds": 100.0}),
        ("u", "s", t(h=-1, m=1), "click", "i1", {"dwell_seconds": 1000.0}),
        ("u", "s", t(h=-1, m=2), "view", "i2", {"dwell_seconds": 50.0}),
        ("u", "s", t(h=-1, m=3), "view", "i2"),  # no dwell recorded: not in the mean
    ]
    row = features_at(events_frame(log), T, full_plan(FeaturesParams(), [])).iloc[0]
    assert row["dwell_mean"] == pytest.approx(75.0)
    assert row["clicks_per_view"] == pytest.approx(1 / 3)


def test_scroll_depth_mean_counts_scroll_events_only():
    log = [
        ("u", "s", t(h=-1), "view", "i1", {"scroll_depth": 0.1}),
        ("u", "s", t(h=-1, m=1), "scroll", None, {"scroll_depth": 0.9}),
    ]
    row = features_at(events_frame(log), T, full_plan(FeaturesParams(), [])).iloc[0]
    assert row["scroll_depth_mean"] == pytest.approx(0.9)


def test_funnel_ratios(at_t):
    # a: 3 views, 2 carts, 2 purchases; b: 4 views, 2 carts; c: none
    assert by_user(at_t, "view_to_cart") == approx({"a": 2 / 3, "b": 0.5, "c": NAN})
    assert by_user(at_t, "cart_to_purchase") == approx({"a": 1.0, "b": 0.0, "c": NAN})
    # a: both carts bought within minutes; b: b1's cart never bought, b3's is too young
    assert by_user(at_t, "cart_abandonment_rate") == approx({"a": 0.0, "b": 1.0, "c": NAN})


def test_cart_abandonment_bought_within_24h_is_not_abandoned_young_carts_not_judged():
    log = [
        ("quick", "q", t(d=-3), "add_to_cart", "i1"),
        ("quick", "q2", t(d=-3, h=23), "purchase", "i1"),
        ("never", "n", t(d=-3), "add_to_cart", "i1"),
        ("late", "l", t(d=-3), "add_to_cart", "i1"),
        ("late", "l2", t(d=-3, h=25), "purchase", "i1"),
        ("other", "o", t(d=-3), "add_to_cart", "i1"),
        ("other", "o", t(d=-3, h=1), "purchase", "i2"),
        ("before", "b", t(d=-4), "purchase", "i1"),
        ("before", "b2", t(d=-3), "add_to_cart", "i1"),
        ("young", "y", t(h=-23), "add_to_cart", "i1"),
        ("mixed", "m1", t(d=-3), "add_to_cart", "i1"),
        ("mixed", "m1", t(d=-3, h=1), "purchase", "i1"),
        ("mixed", "m2", t(d=-2), "add_to_cart", "i2"),
        ("mixed", "m3", t(h=-1), "add_to_cart", "i3"),
    ]
    table = features_at(events_frame(log), T, full_plan(FeaturesParams(), []))
    assert by_user(table, "cart_abandonment_rate") == approx(
        {
            "before": 1.0,
            "late": 1.0,
            "mixed": 0.5,
            "never": 1.0,
            "other": 1.0,
            "quick": 0.0,
            "young": NAN,
        }
    )
    assert by_user(table, "seg_cart_abandoner") == {
        "before": 1, "late": 1, "mixed": 1, "never": 1, "other": 1, "quick": 0, "young": 0,
    }  # fmt: skip


def test_taste_category_share_and_entropy_in_bits(at_t):
    # among events with a category (a's scroll has none): a 7 books, 2 games; b 3 and 3; c 1 toys
    assert by_user(at_t, "top_category_share") == approx({"a": 7 / 9, "b": 0.5, "c": 1.0})
    entropy_a = -(7 / 9 * math.log2(7 / 9) + 2 / 9 * math.log2(2 / 9))
    assert by_user(at_t, "category_entropy") == approx({"a": entropy_a, "b": 1.0, "c": 0.0})


def test_price_sensitivity_against_median_item_price_of_the_category(at_t):
    # books items 10 and 30 -> median 20 (the median over events would be 10); games 20, 40 -> 30
    a = (10 / 20 + 30 / 20 + 20 / 30) / 3
    b = (10 / 20 + 40 / 30 + 30 / 20 + 10 / 20) / 4
    assert by_user(at_t, "price_sensitivity") == approx({"a": a, "b": b, "c": NAN})


def test_activity_trend_last_week_against_the_week_before(at_t):
    # a: 6 events in [T-7d, T), 0 before; b: 2 against 4 (b2 is in the earlier week); c: none
    assert by_user(at_t, "activity_trend") == approx({"a": 1.0, "b": -1 / 3, "c": NAN})


def test_device_shares_ignore_unknown_devices(at_t):
    assert by_user(at_t, "device_share_desktop") == approx({"a": 0.0, "b": 0.5, "c": 1.0})
    assert by_user(at_t, "device_share_mobile") == approx({"a": 1.0, "b": 0.5, "c": 0.0})


def test_device_share_nan_when_no_device_is_known():
    log = [("u", "s", t(h=-1), "view", "i1"), ("u", "s", t(h=-1, m=1), "click", "i1")]
    row = features_at(events_frame(log), T, full_plan(FeaturesParams(), DEVICES)).iloc[0]
    assert math.isnan(row["device_share_desktop"])
    assert math.isnan(row["device_share_mobile"])


def test_category_shares_of_the_chosen_categories():
    table = features_at(
        events_frame(LOG), T, full_plan(FeaturesParams(), DEVICES, ["books", "games", "toys"])
    )
    assert by_user(table, "category_share_books") == approx({"a": 7 / 9, "b": 0.5, "c": 0.0})
    assert by_user(table, "category_share_games") == approx({"a": 2 / 9, "b": 0.5, "c": 0.0})
    assert by_user(table, "category_share_toys") == approx({"a": 0.0, "b": 0.0, "c": 1.0})


def test_category_share_nan_without_a_categorised_event():
    log = [("u", "s", t(h=-1), "scroll", None, {"scroll_depth": 0.5})]
    row = features_at(events_frame(log), T, full_plan(FeaturesParams(), DEVICES, ["books"])).iloc[0]
    assert math.isnan(row["category_share_books"])
