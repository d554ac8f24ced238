"""Unit tests of personalab.features on tiny hand-built event logs whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from personalab.core.params import ParamsError
from personalab.features import (
    LABEL,
    CutoffParams,
    FeaturesParams,
    build_features,
    category_share_column,
    feature_names,
    feature_table_doc,
    features_at,
    place_cutoffs,
    quintile_score,
    rfm_segment_of,
    top_categories,
)
from personalab.ingest.events import EVENT_TYPE_DTYPE, EVENT_TYPES
from personalab.ingest.sources import CANONICAL_COLUMNS

T = pd.Timestamp("2024-03-01 00:00", tz="UTC")
NAN = float("nan")
DEVICES = ["desktop", "mobile"]
#: item -> (category, price); item events take these unless the row overrides them
CATALOGUE = {
    "i1": ("books", 10.0),
    "i2": ("books", 30.0),
    "i3": ("games", 20.0),
    "i4": ("games", 40.0),
}
MOB, DESK = {"device": "mobile"}, {"device": "desktop"}
_NUMERIC = ("price", "quantity", "rating", "dwell_seconds", "scroll_depth")


def t(d: float = 0, h: float = 0, m: float = 0, s: float = 0, us: float = 0) -> pd.Timestamp:
    """``T`` shifted by the given (signed) amounts."""
    return T + pd.Timedelta(days=d, hours=h, minutes=m, seconds=s, microseconds=us)


def events_frame(rows: list[tuple]) -> pd.DataFrame:
    """Canonical events from ``(user, session, timestamp, event_type[, item_id[, extras]])``.

    ``extras`` is a dict of any other canonical column; the item's category and price
    come from ``CATALOGUE`` unless given; every column not given is NaN/None.
    """
    records = []
    for k, row in enumerate(rows):
        user, session, when, etype, *rest = row
        item = rest[0] if rest else None
        extras = rest[1] if len(rest) > 1 else {}
        category, price = CATALOGUE.get(item, (None, NAN))
        record = {name: None for name in CANONICAL_COLUMNS}
        record.update({name: NAN for name in _NUMERIC})
        record.update(event_id=f"e{k}", user_id=user, session_id=session, timestamp=when)
        record.update(event_type=etype, item_id=item, category=category, price=price)
        record.update(extras)
        records.append(record)
    frame = pd.DataFrame(records, columns=list(CANONICAL_COLUMNS))
    for name in ("event_id", "user_id", "session_id", "item_id"):
        frame[name] = frame[name].astype("str")
    for name in ("category", "device", "channel"):
        frame[name] = frame[name].astype("category")
    for name in _NUMERIC:
        frame[name] = frame[name].astype("float64")
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).astype("datetime64[ns, UTC]")
    frame["event_type"] = frame["event_type"].astype(EVENT_TYPE_DTYPE)
    return frame


def by_user(table: pd.DataFrame, name: str) -> dict:
    return table.set_index("user_id")[name].to_dict()


def params(**values) -> FeaturesParams:
    return FeaturesParams.from_mapping(values)


# The main log. a: engaged buyer on mobile; b: browser who abandons a cart; c: lapsed.
LOG = [
    ("a", "a1", t(d=-20), "view", "i1", {**MOB, "dwell_seconds": 200.0}),
    ("a", "a1", t(d=-20, m=1), "click", "i1", MOB),
    ("a", "a1", t(d=-20, m=2), "add_to_cart", "i1", {**MOB, "quantity": 2.0}),
    ("a", "a1", t(d=-20, m=5), "purchase", "i1", {**MOB, "quantity": 2.0}),  # 10 x 2
    ("a", "a2", t(d=-7), "view", "i2", {**MOB, "dwell_seconds": 100.0}),  # exactly T - 7 d
    ("a", "a2", t(d=-7, m=1), "scroll", None, {**MOB, "scroll_depth": 0.9}),
    ("a", "a2", t(d=-7, m=2), "add_to_cart", "i2", MOB),
    ("a", "a2", t(d=-7, m=4), "purchase", "i2", MOB),  # no quantity: 30 x 1
    ("a", "a3", t(h=-12), "view", "i3", {**MOB, "dwell_seconds": 300.0}),
    ("a", "a3", t(h=-12, s=30), "click", "i3", MOB),
    ("b", "b1", t(d=-10), "view", "i1", {**DESK, "dwell_seconds": 20.0}),
    ("b", "b1", t(d=-10, m=1), "view", "i4", {**DESK, "dwell_seconds": 40.0}),
    ("b", "b1", t(d=-10, m=3), "add_to_cart", "i4", DESK),  # never bought: abandoned
    ("b", "b2", t(d=-7, s=-1), "view", "i2", {**MOB, "dwell_seconds": 60.0}),  # 1 s before T - 7 d
    ("b", "b3", t(h=-2), "view", "i1", {**MOB, "dwell_seconds": 10.0}),
    ("b", "b3", t(h=-2, m=1), "add_to_cart", "i4", MOB),  # 2 h old at T: not judged
    ("c", "c1", t(d=-40), "search", None, {**DESK, "category": "toys"}),
    ("c", "c2", t(d=-20), "scroll", None, {"scroll_depth": 0.3}),  # device unknown
]
#: after T: b buys (a positive label) and c's view stretches the log to T + 7 d
FUTURE = [
    ("b", "b4", t(d=1), "purchase", "i4", MOB),
    ("c", "c3", t(d=7), "view", "i1", MOB),
]


@pytest.fixture(scope="module")
def at_t() -> pd.DataFrame:
    return features_at(events_frame(LOG), T, FeaturesParams(), DEVICES)


def approx(expected: dict):
    return pytest.approx(expected, nan_ok=True, rel=1e-9, abs=1e-12)


# --- every feature family at one cut-off ----------------------------------------------------


def test_one_row_per_user_with_history_and_the_cutoff(at_t):
    assert at_t["user_id"].tolist() == ["a", "b", "c"]
    assert (at_t["cutoff"] == T).all()


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
    row = features_at(events_frame(log), T, FeaturesParams(), []).iloc[0]
    assert row["orders_total"] == 2
    assert row["revenue_total"] == pytest.approx(10 + 30 + 60)
    assert row["avg_order_value"] == pytest.approx(50.0)


def test_rfm_scores_and_segments_on_the_log(at_t):
    # recency a 0.5 d, b 0.08 d, c 20 d; sessions_30d 3, 3, 1; revenue 50, 0, 0
    assert by_user(at_t, "rfm_recency") == {"a": 4, "b": 5, "c": 2}
    assert by_user(at_t, "rfm_frequency") == {"a": 5, "b": 5, "c": 2}
    assert by_user(at_t, "rfm_monetary") == {"a": 5, "b": 3, "c": 3}
    assert by_user(at_t, "rfm_segment") == {"a": "champions", "b": "loyal", "c": "hibernating"}


def test_quintile_score_by_percentile_rank_ties_share_a_score():
    values = pd.Series([10, 20, 20, 30, 40, 50, 60, 70, 80, 90])
    # average ranks 1, 2.5, 2.5, 4..10 over 10 -> ceil(5 x pct)
    assert quintile_score(values).tolist() == [1, 2, 2, 2, 3, 3, 4, 4, 5, 5]
    assert quintile_score(pd.Series([5.0, 1.0, 4.0, 2.0, 3.0])).tolist() == [5, 1, 4, 2, 3]


def test_rfm_segment_of_first_rule_that_holds():
    triples = [
        ((5, 5, 5), "champions"),
        ((4, 4, 3), "loyal"),
        ((5, 1, 1), "new"),
        ((3, 3, 1), "potential"),
        ((1, 3, 1), "at_risk"),
        ((2, 2, 5), "hibernating"),
        ((3, 2, 2), "needs_attention"),
    ]
    r, f, m = (pd.Series(list(col)) for col in zip(*[tr for tr, _ in triples], strict=True))
    assert rfm_segment_of(r, f, m).tolist() == [name for _, name in triples]


def test_session_features(at_t):
    # a: 300, 240, 30 s; b: 180, 0, 60 s; c: two single-event sessions
    assert by_user(at_t, "sessions_total") == {"a": 3, "b": 3, "c": 2}
    assert by_user(at_t, "session_duration_mean") == approx({"a": 190.0, "b": 80.0, "c": 0.0})
    assert by_user(at_t, "session_duration_max") == approx({"a": 300.0, "b": 180.0, "c": 0.0})
    assert by_user(at_t, "events_per_session") == approx({"a": 10 / 3, "b": 2.0, "c": 1.0})
    assert by_user(at_t, "bounce_rate") == approx({"a": 0.0, "b": 1 / 3, "c": 1.0})


def test_same_source_session_id_for_two_users_gives_each_their_own_session():
    log = [
        ("a", "s1", t(h=-2), "view", "i1"),
        ("a", "s1", t(h=-2, m=1), "view", "i1"),
        ("b", "s1", t(h=-1), "view", "i2"),
    ]
    table = features_at(events_frame(log), T, FeaturesParams(), [])
    assert by_user(table, "sessions_total") == {"a": 1, "b": 1}
    assert by_user(table, "session_duration_max") == approx({"a": 60.0, "b": 0.0})


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
    row = features_at(events_frame(log), T, FeaturesParams(), []).iloc[0]
    assert row["dwell_mean"] == pytest.approx(75.0)
    assert row["clicks_per_view"] == pytest.approx(1 / 3)


def test_scroll_depth_mean_counts_scroll_events_only():
    log = [
        ("u", "s", t(h=-1), "view", "i1", {"scroll_depth": 0.1}),
        ("u", "s", t(h=-1, m=1), "scroll", None, {"scroll_depth": 0.9}),
    ]
    row = features_at(events_frame(log), T, FeaturesParams(), []).iloc[0]
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
    table = features_at(events_frame(log), T, FeaturesParams(), [])
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
    row = features_at(events_frame(log), T, FeaturesParams(), DEVICES).iloc[0]
    assert math.isnan(row["device_share_desktop"])
    assert math.isnan(row["device_share_mobile"])


def test_category_shares_of_the_chosen_categories():
    table = features_at(events_frame(LOG), T, FeaturesParams(), DEVICES, ["books", "games", "toys"])
    assert by_user(table, "category_share_books") == approx({"a": 7 / 9, "b": 0.5, "c": 0.0})
    assert by_user(table, "category_share_games") == approx({"a": 2 / 9, "b": 0.5, "c": 0.0})
    assert by_user(table, "category_share_toys") == approx({"a": 0.0, "b": 0.0, "c": 1.0})


def test_category_share_nan_without_a_categorised_event():
    log = [("u", "s", t(h=-1), "scroll", None, {"scroll_depth": 0.5})]
    row = features_at(events_frame(log), T, FeaturesParams(), DEVICES, ["books"]).iloc[0]
    assert math.isnan(row["category_share_books"])


def test_top_categories_by_events_before_the_cutoff():
    events = events_frame(LOG + [("c", "c9", t(d=1), "view", None, {"category": "toys"})] * 20)
    assert top_categories(events, T, 2) == ["books", "games"]  # 10, 5; later toys ignored
    assert top_categories(events, T, 5) == ["books", "games", "toys"]
    assert top_categories(events, T, 0) == []


def test_category_column_names_are_identifiers_and_collisions_keep_the_commoner():
    assert category_share_column("Home & Garden") == "category_share_home_garden"
    log = [
        ("u", "s", t(m=-k - 1), "view", None, {"category": c})
        for k, c in enumerate(["a.b"] * 3 + ["a b"] * 2 + ["z"])
    ]
    assert top_categories(events_frame(log), T, 2) == ["a.b", "z"]


def test_build_features_adds_category_shares_per_params():
    events = events_frame(LOG + FUTURE)
    with_shares = build_features(events, params(category_shares=2, cutoffs={"dates": [str(T)]}))
    assert {"category_share_books", "category_share_games"} <= set(with_shares.table.columns)
    assert "category_share_toys" not in with_shares.table.columns
    none = build_features(events, params(category_shares=0, cutoffs={"dates": [str(T)]}))
    assert not any(c.startswith("category_share_") for c in none.table.columns)


# --- rule segments --------------------------------------------------------------------------


def test_segments_on_the_log(at_t):
    assert by_user(at_t, "seg_high_clicker") == {"a": 0, "b": 0, "c": 0}
    assert by_user(at_t, "seg_deep_scroller") == {"a": 1, "b": 0, "c": 0}
    assert by_user(at_t, "seg_long_dweller") == {"a": 1, "b": 0, "c": 0}
    assert by_user(at_t, "seg_converter") == {"a": 1, "b": 0, "c": 0}
    assert by_user(at_t, "seg_cart_abandoner") == {"a": 0, "b": 1, "c": 0}
    assert by_user(at_t, "seg_at_risk") == {"a": 0, "b": 0, "c": 1}


def _clicks(user: str, minutes: list[float], sessions: list[str] | None = None) -> list[tuple]:
    sessions = sessions or [f"{user}-s"] * len(minutes)
    return [
        (user, session, t(d=-1, m=minute), "click", "i1")
        for minute, session in zip(minutes, sessions, strict=True)
    ]


def test_high_clicker_needs_more_than_5_clicks_within_10_minutes_in_one_session():
    log = [
        *_clicks("six_in_9min", [0, 1, 2, 3, 4, 9]),
        *_clicks("five", [0, 1, 2, 3, 4]),
        *_clicks("six_over_11min", [0, 2.2, 4.4, 6.6, 8.8, 11]),
        *_clicks("six_in_two_sessions", [0, 1, 2, 3, 4, 5], ["x1"] * 3 + ["x2"] * 3),
    ]
    table = features_at(events_frame(log), T, FeaturesParams(), [])
    assert by_user(table, "seg_high_clicker") == {
        "five": 0,
        "six_in_9min": 1,
        "six_in_two_sessions": 0,
        "six_over_11min": 0,
    }


def test_high_clicker_burst_inside_a_longer_session():
    # one session of 9 clicks over an hour; the last 6 fall within 5 minutes
    log = _clicks("u", [0, 20, 40, 55, 56, 57, 58, 59, 60])
    table = features_at(events_frame(log), T, FeaturesParams(), [])
    assert by_user(table, "seg_high_clicker") == {"u": 1}


def test_deep_scroller_mean_above_threshold_over_the_segment_window():
    log = [
        ("deep", "d", t(d=-1), "scroll", None, {"scroll_depth": 0.85}),
        ("deep", "d", t(d=-1, m=1), "scroll", None, {"scroll_depth": 0.95}),
        ("at_threshold", "e", t(d=-1), "scroll", None, {"scroll_depth": 0.8}),
        ("at_threshold", "e", t(d=-1, m=1), "scroll", None, {"scroll_depth": 0.8}),
        ("deep_long_ago", "o1", t(d=-40), "scroll", None, {"scroll_depth": 1.0}),
        ("deep_long_ago", "o1", t(d=-40, m=1), "scroll", None, {"scroll_depth": 1.0}),
        ("deep_long_ago", "o2", t(d=-1), "scroll", None, {"scroll_depth": 0.5}),
    ]
    table = features_at(events_frame(log), T, FeaturesParams(), [])
    assert by_user(table, "seg_deep_scroller") == {"at_threshold": 0, "deep": 1, "deep_long_ago": 0}
    # the all-time mean of deep_long_ago is above 0.8, only the window's is below
    assert by_user(table, "scroll_depth_mean")["deep_long_ago"] == pytest.approx(2.5 / 3)


def test_long_dweller_mean_view_dwell_above_180_seconds():
    log = [
        ("long", "l", t(d=-1), "view", "i1", {"dwell_seconds": 200.0}),
        ("long", "l", t(d=-1, m=4), "view", "i2", {"dwell_seconds": 170.0}),
        ("at_threshold", "e", t(d=-1), "view", "i1", {"dwell_seconds": 180.0}),
        ("at_threshold", "e", t(d=-1, m=4), "view", "i2", {"dwell_seconds": 180.0}),
        ("click_dwell", "c", t(d=-1), "view", "i1", {"dwell_seconds": 100.0}),
        ("click_dwell", "c", t(d=-1, m=2), "click", "i1", {"dwell_seconds": 1000.0}),
    ]
    table = features_at(events_frame(log), T, FeaturesParams(), [])
    assert by_user(table, "seg_long_dweller") == {"at_threshold": 0, "click_dwell": 0, "long": 1}


def test_converter_needs_a_purchase_inside_the_30_day_window():
    log = [
        ("recent", "r", t(d=-29), "purchase", "i1"),
        ("old", "o", t(d=-31), "purchase", "i1"),
    ]
    table = features_at(events_frame(log), T, FeaturesParams(), [])
    assert by_user(table, "seg_converter") == {"old": 0, "recent": 1}
    assert by_user(table, "days_since_last_purchase") == approx({"old": 31.0, "recent": 29.0})


def test_abandoned_cart_older_than_the_window_is_not_a_cart_abandoner():
    log = [("u", "s", t(d=-40), "add_to_cart", "i1")]
    row = features_at(events_frame(log), T, FeaturesParams(), []).iloc[0]
    assert row["cart_abandonment_rate"] == 1.0
    assert row["seg_cart_abandoner"] == 0


def test_at_risk_needs_two_sessions_and_more_than_14_days_of_silence():
    log = [
        ("two_sessions_20d", "a1", t(d=-30), "view", "i1"),
        ("two_sessions_20d", "a2", t(d=-20), "view", "i1"),
        ("one_session_20d", "b1", t(d=-20), "view", "i1"),
        ("two_sessions_14d", "c1", t(d=-30), "view", "i1"),
        ("two_sessions_14d", "c2", t(d=-14), "view", "i1"),  # exactly 14 days: not more
        ("two_sessions_14d_1s", "d1", t(d=-30), "view", "i1"),
        ("two_sessions_14d_1s", "d2", t(d=-14, s=-1), "view", "i1"),
    ]
    table = features_at(events_frame(log), T, FeaturesParams(), [])
    assert by_user(table, "seg_at_risk") == {
        "one_session_20d": 0,
        "two_sessions_14d": 0,
        "two_sessions_14d_1s": 1,
        "two_sessions_20d": 1,
    }
    assert by_user(table, "dominant_segment")["one_session_20d"] == "none"


def test_engagement_score_in_unit_interval_and_higher_for_the_engaged_user(at_t):
    # weighted mean of percentile ranks (weights 1, 1, 1, 1, 1, 2; missing ranks 0):
    # a: (2.5/3 + 1 + 1 + 1 + 1 + 2) / 7; b: (2.5/3 + 2/3 + 1/2 + 0 + 1/2 + 1) / 7;
    # c: (1/3 + 1/3 + 0 + 1/2 + 0 + 1) / 7
    score = by_user(at_t, "engagement_score")
    assert score == approx({"a": 41 / 42, "b": 0.5, "c": 13 / 42})
    assert all(0.0 <= v <= 1.0 for v in score.values())
    assert score["a"] > score["b"] > score["c"]


DEFAULT_PRIORITY = [
    "converter", "cart_abandoner", "high_clicker", "deep_scroller", "long_dweller", "at_risk",
]  # fmt: skip


def test_dominant_segment_follows_the_default_priority(at_t):
    # a holds deep_scroller, long_dweller and converter; converter comes first
    assert FeaturesParams().segments.priority == DEFAULT_PRIORITY
    assert by_user(at_t, "dominant_segment") == {
        "a": "converter",
        "b": "cart_abandoner",
        "c": "at_risk",
    }


def test_dominant_segment_follows_a_custom_priority_and_is_none_outside_it():
    priority = ["long_dweller", "deep_scroller", "converter", "cart_abandoner", "high_clicker"]
    custom = params(segments={"priority": priority})
    table = features_at(events_frame(LOG), T, custom, DEVICES)
    # c holds only at_risk, which is not in the priority list
    assert by_user(table, "dominant_segment") == {
        "a": "long_dweller",
        "b": "cart_abandoner",
        "c": "none",
    }


# --- leakage guard --------------------------------------------------------------------------


def _random_future(seed: int, devices: list) -> list[tuple]:
    """Events at or after T of every type, for existing and new users (and an extreme item)."""
    rng = np.random.default_rng(seed)
    users = ["a", "b", "c", "new1", "new2"]
    items = [*CATALOGUE, "i9", None]
    rows = []
    for k in range(120):
        user = str(rng.choice(users))
        etype = EVENT_TYPES[k % len(EVENT_TYPES)]
        when = T if k < 16 else t(s=float(rng.uniform(0, 12 * 86400)))
        session = f"{user}3" if rng.random() < 0.3 else f"{user}-f{rng.integers(3)}"
        item = items[rng.integers(len(items))]
        extras = {
            "device": devices[rng.integers(len(devices))],
            "dwell_seconds": float(rng.uniform(0, 900)),
            "scroll_depth": float(rng.uniform(0, 1)),
            "quantity": float(rng.integers(1, 4)),
            "rating": float(rng.integers(1, 6)),
        }
        if item == "i9":  # an item only seen after T, far off the books median
            extras.update(category="books", price=1000.0)
        rows.append((user, session, when, etype, item, extras))
    return rows


def test_events_at_or_after_t_do_not_change_features_at_t():
    before = features_at(events_frame(LOG), T, FeaturesParams(), DEVICES)
    future = _random_future(1, ["mobile", "desktop", "tv", None])
    after = features_at(events_frame(LOG + future), T, FeaturesParams(), DEVICES)
    pd.testing.assert_frame_equal(after, before)


@pytest.mark.parametrize("seed", [2, 3])
def test_events_after_t_do_not_change_the_built_feature_rows(seed):
    cut = params(cutoffs={"dates": ["2024-03-01"]})
    base = build_features(events_frame(LOG + FUTURE), cut)
    future = _random_future(seed, ["mobile", "desktop", None])
    more = build_features(events_frame(LOG + FUTURE + future), cut)
    assert more.cutoffs == base.cutoffs == [T]
    pd.testing.assert_frame_equal(more.table.drop(columns=LABEL), base.table.drop(columns=LABEL))


def test_a_session_straddling_t_counts_only_its_part_before_t():
    log = [
        ("u", "s", t(m=-10), "view", "i1", {"dwell_seconds": 30.0}),
        ("u", "s", t(m=-4), "click", "i1"),
        ("u", "s", t(m=2), "add_to_cart", "i1"),
        ("u", "s", t(m=5), "purchase", "i1"),
    ]
    row = features_at(events_frame(log), T, FeaturesParams(), []).iloc[0]
    assert row["sessions_total"] == 1
    assert row["session_duration_max"] == pytest.approx(360.0)
    assert row["events_per_session"] == pytest.approx(2.0)
    assert row["purchases_1d"] == 0
    assert row["revenue_total"] == 0.0
    assert math.isnan(row["days_since_last_purchase"])
    assert math.isnan(row["cart_to_purchase"])


# --- labels and cut-offs --------------------------------------------------------------------

LABEL_LOG = [
    ("at_t", "p1", t(d=-1), "view", "i1"),
    ("at_t", "p2", t(), "purchase", "i1"),  # exactly T: positive
    ("at_horizon", "q1", t(d=-1), "view", "i1"),
    ("at_horizon", "q2", t(d=7), "purchase", "i1"),  # exactly T + 7 d: not in [T, T + 7 d)
    ("just_before", "r1", t(d=-1), "view", "i1"),
    ("just_before", "r1", t(us=-1), "purchase", "i1"),  # T - 1 us: a feature, not a label
    ("newcomer", "n1", t(d=1), "view", "i1"),  # no event before T: no row
]


@pytest.fixture(scope="module")
def labelled():
    dates = ["2024-03-01", "2024-03-02"]  # the second's horizon ends after the log (T + 7 d)
    return build_features(events_frame(LABEL_LOG), params(cutoffs={"dates": dates}))


def test_label_is_a_purchase_in_t_to_t_plus_horizon(labelled):
    assert by_user(labelled.table, LABEL) == {"at_horizon": 0, "at_t": 1, "just_before": 0}


def test_purchase_just_before_t_shows_in_the_features(labelled):
    row = labelled.table.set_index("user_id").loc["just_before"]
    assert row["purchases_1d"] == 1
    assert row["revenue_total"] == pytest.approx(10.0)
    # 1 us = 1.16e-11 days (to within float rounding of the ns timestamps)
    assert 0 < row["days_since_last_purchase"] < 1e-6 / 86400 * 1.1


def test_users_without_history_before_t_have_no_row(labelled):
    assert "newcomer" not in set(labelled.table["user_id"])
    assert len(labelled.table) == 3


def test_cutoff_whose_horizon_runs_past_the_log_is_dropped(labelled):
    assert labelled.cutoffs == [T]
    assert labelled.dropped_cutoffs == [t(d=1)]
    assert (labelled.table["cutoff"] == T).all()
    assert labelled.metrics["cutoffs_dropped"] == 1


def test_place_cutoffs_every_7_days_over_the_last_21():
    start = pd.Timestamp("2024-01-01 08:00", tz="UTC")
    end = pd.Timestamp("2024-03-31 15:00", tz="UTC")
    kept, dropped = place_cutoffs(start, end, CutoffParams(every_days=7, over_last_days=21), 7.0)
    # last = midnight of end - 7 d = 2024-03-24
    dates = ["2024-03-03", "2024-03-10", "2024-03-17", "2024-03-24"]
    assert kept == [pd.Timestamp(d, tz="UTC") for d in dates]
    assert dropped == []


def test_place_cutoffs_fractional_horizon_and_cutoffs_before_the_log_start():
    start = pd.Timestamp("2024-03-12", tz="UTC")
    end = pd.Timestamp("2024-03-31 15:00", tz="UTC")
    # end - 2.5 d = 2024-03-29 03:00 -> 2024-03-29; every 10 d over 25 d -> 3 dates
    kept, dropped = place_cutoffs(start, end, CutoffParams(every_days=10, over_last_days=25), 2.5)
    assert kept == [pd.Timestamp("2024-03-19", tz="UTC"), pd.Timestamp("2024-03-29", tz="UTC")]
    assert dropped == [pd.Timestamp("2024-03-09", tz="UTC")]


def test_place_cutoffs_explicit_dates_sorted_and_in_utc():
    start = pd.Timestamp("2024-01-01", tz="UTC")
    end = pd.Timestamp("2024-03-31", tz="UTC")
    cut = CutoffParams(dates=["2024-03-10", "2024-03-01T01:00+01:00", "2024-03-30"])
    kept, dropped = place_cutoffs(start, end, cut, 7.0)
    assert kept == [pd.Timestamp("2024-03-01", tz="UTC"), pd.Timestamp("2024-03-10", tz="UTC")]
    assert dropped == [pd.Timestamp("2024-03-30", tz="UTC")]


# --- params validation ----------------------------------------------------------------------


def test_defaults_are_valid():
    p = FeaturesParams.from_mapping({})
    assert p.windows_days == [1, 7, 30]
    assert p.segments.priority == DEFAULT_PRIORITY


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"engagement_weights": {"sessions_30d": 1.0, "clickiness": 1.0}}, "clickiness"),
        ({"engagement_weights": {"sessions_14d": 1.0}}, "sessions_14d"),
        ({"windows_days": [1, -7, 30]}, "windows_days"),
        ({"segments": {"window_days": -1}}, "segments.window_days"),
        ({"trend_days": -7}, "trend_days"),
        ({"segments": {"priority": ["converter", "whale"]}}, "whale"),
        ({"segments": {"priority": ["converter", "whale"]}}, "segments.priority"),
        ({"segments": {"treshold": 3}}, "segments.treshold"),
    ],
)
def test_bad_params_raise_naming_the_key(values, named):
    with pytest.raises(ParamsError, match=named.replace(".", r"\.")):
        FeaturesParams.from_mapping(values)


# --- documentation table --------------------------------------------------------------------


def test_feature_table_doc_has_a_row_per_documented_feature():
    doc = feature_table_doc()
    expected = [*feature_names(["W"], ["<device>"]), "category_share_<cat>"]
    expected.insert(expected.index("rfm_monetary") + 1, "rfm_segment")
    assert doc["name"].tolist() == expected
    assert (doc["meaning"].str.len() > 0).all()
    assert (doc["window"].str.len() > 0).all()


def test_feature_table_doc_joins_continuation_lines():
    doc = feature_table_doc().set_index("name")
    assert doc.loc["rfm_segment", "meaning"].endswith(
        "needs_attention (rules in ``rfm_segment_of``)"
    )
    assert doc.loc["cart_abandonment_rate", "meaning"].endswith("(NaN: none)")
    assert doc.loc["rfm_frequency", "window"] == "longest W"


# --- metrics --------------------------------------------------------------------------------


def test_metrics_of_build_features():
    result = build_features(events_frame(LOG + FUTURE), params(cutoffs={"dates": ["2024-03-01"]}))
    assert by_user(result.table, LABEL) == {"a": 0, "b": 1, "c": 0}
    metrics = result.metrics
    assert metrics["rows"] == 3
    assert metrics["users"] == 3
    assert metrics["cutoffs"] == 1
    assert metrics["cutoffs_dropped"] == 0
    assert metrics["positive_rate"] == pytest.approx(1 / 3)
    # 33 numeric + 2 device shares + 3 category shares + 6 segments + rfm, score, dominant
    assert metrics["feature_count"] == 48
    assert len(result.feature_names) == 39
    assert metrics["max_null_share"] == pytest.approx(2 / 3)  # days_since_last_purchase, aov
    assert {k: v for k, v in metrics.items() if k.startswith("share_")} == approx(
        {
            "share_high_clicker": 0.0,
            "share_deep_scroller": 1 / 3,
            "share_long_dweller": 1 / 3,
            "share_converter": 1 / 3,
            "share_cart_abandoner": 1 / 3,
            "share_at_risk": 1 / 3,
        }
    )


def test_metrics_over_two_cutoffs_count_rows_per_cutoff():
    dates = ["2024-02-20", "2024-03-01"]
    result = build_features(events_frame(LOG + FUTURE), params(cutoffs={"dates": dates}))
    # at 2024-02-20 (T - 10 d): a (a1) and c (c1, c2) have history; b's first event is at T - 10 d
    assert result.table.groupby("cutoff")["user_id"].apply(list).tolist() == [
        ["a", "c"],
        ["a", "b", "c"],
    ]
    assert result.metrics["rows"] == 5
    assert result.metrics["users"] == 3
    assert result.metrics["cutoffs"] == 2
