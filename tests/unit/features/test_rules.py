"""Unit tests of personalab.features.rules_query: RFM scores and segments, rule segments,
engagement score and dominant segment (on DuckDB; tests/unit/features/test_engines.py checks
Spark gives the same)."""

from __future__ import annotations

import pandas as pd
import pytest

from personalab.engine import connect
from personalab.features.build import features_at
from personalab.features.params import FeaturesParams
from personalab.features.plan import full_plan
from personalab.features.rules_query import quintile_score, rfm_segment_of
from tests.unit.features.helpers import (
    DEFAULT_PRIORITY,
    DEVICES,
    LOG,
    T,
    approx,
    by_user,
    events_frame,
    params,
    t,
)


def test_rfm_scores_and_segments_on_the_log(at_t):
    # recency a 0.5 d, b 0.08 d, c 20 d; sessions_30d 3, 3, 1; revenue 50, 0, 0
    assert by_user(at_t, "rfm_recency") == {"a": 4, "b": 5, "c": 2}
    assert by_user(at_t, "rfm_frequency") == {"a": 5, "b": 5, "c": 2}
    assert by_user(at_t, "rfm_monetary") == {"a": 5, "b": 3, "c": 3}
    assert by_user(at_t, "rfm_segment") == {"a": "champions", "b": "loyal", "c": "hibernating"}


def on_duckdb(columns: dict[str, list], **derived) -> dict[str, list]:
    """``derived`` ({name: function of the table}) over a table of ``columns``, in row order."""
    engine = connect()
    try:
        table = engine.table(
            pd.DataFrame({"_row": range(len(next(iter(columns.values())))), **columns})
        )
        out = engine.fetch(
            table.select("_row", **{k: f(table) for k, f in derived.items()}), ["_row"]
        )
        return {name: out[name].tolist() for name in derived}
    finally:
        engine.close()


def test_quintile_score_by_percentile_rank_ties_share_a_score():
    values = [10, 20, 20, 30, 40, 50, 60, 70, 80, 90]
    # average ranks 1, 2.5, 2.5, 4..10 over 10 -> ceil(5 x pct)
    got = on_duckdb({"v": values}, q=lambda t: quintile_score(t.v))["q"]
    assert got == [1, 2, 2, 2, 3, 3, 4, 4, 5, 5]
    got = on_duckdb({"v": [5.0, 1.0, 4.0, 2.0, 3.0]}, q=lambda t: quintile_score(t.v))["q"]
    assert got == [5, 1, 4, 2, 3]


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
    r, f, m = (list(col) for col in zip(*[tr for tr, _ in triples], strict=True))
    got = on_duckdb({"r": r, "f": f, "m": m}, s=lambda t: rfm_segment_of(t.r, t.f, t.m))["s"]
    assert got == [name for _, name in triples]


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
    table = features_at(events_frame(log), T, full_plan(FeaturesParams(), []))
    assert by_user(table, "seg_high_clicker") == {
        "five": 0,
        "six_in_9min": 1,
        "six_in_two_sessions": 0,
        "six_over_11min": 0,
    }


def test_high_clicker_burst_inside_a_longer_session():
    # one session of 9 clicks over an hour; the last 6 fall within 5 minutes
    log = _clicks("u", [0, 20, 40, 55, 56, 57, 58, 59, 60])
    table = features_at(events_frame(log), T, full_plan(FeaturesParams(), []))
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
    table = features_at(events_frame(log), T, full_plan(FeaturesParams(), []))
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
    table = features_at(events_frame(log), T, full_plan(FeaturesParams(), []))
    assert by_user(table, "seg_long_dweller") == {"at_threshold": 0, "click_dwell": 0, "long": 1}


def test_converter_needs_a_purchase_inside_the_30_day_window():
    log = [
        ("recent", "r", t(d=-29), "purchase", "i1"),
        ("old", "o", t(d=-31), "purchase", "i1"),
    ]
    table = features_at(events_frame(log), T, full_plan(FeaturesParams(), []))
    assert by_user(table, "seg_converter") == {"old": 0, "recent": 1}
    assert by_user(table, "days_since_last_purchase") == approx({"old": 31.0, "recent": 29.0})


def test_abandoned_cart_older_than_the_window_is_not_a_cart_abandoner():
    log = [("u", "s", t(d=-40), "add_to_cart", "i1")]
    row = features_at(events_frame(log), T, full_plan(FeaturesParams(), [])).iloc[0]
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
    table = features_at(events_frame(log), T, full_plan(FeaturesParams(), []))
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
    table = features_at(events_frame(LOG), T, full_plan(custom, DEVICES))
    # c holds only at_risk, which is not in the priority list
    assert by_user(table, "dominant_segment") == {
        "a": "long_dweller",
        "b": "cart_abandoner",
        "c": "none",
    }
