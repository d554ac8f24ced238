"""One definition, two engines (issue 19, point 2, for the features stage): the features, rule
segments, RFM, engagement score and labels are the same on DuckDB and on Spark, counts exact and
floats to 1e-9; and on hand logs they are the values known by hand.

* Every log shape (:data:`tests.shapes.WRITERS` and the synthetic log, through ingest):
  :func:`~personalab.features.build.build_features` with the plan's automatic cut-offs gives the
  same plan, table (dtypes too) and metrics on both engines.
* The hand logs (a main log, click bursts, scroll and dwell thresholds, carts and at-risk bounds,
  ties in every ranked value, a priced catalogue), put in one events table with disjoint user
  ids, at three cut-offs in one query: the same table on both engines, and on DuckDB the known
  value of every edge case.

Spark is slow per query (a few seconds, whatever the size): each engine answers a log's cut-offs
in one query, and the hand logs share one table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest

from personalab.engine import Engine, connect
from personalab.features import rules_query
from personalab.features.build import build_features, fetch_tables, user_table
from personalab.features.cutoffs import CutoffPlan
from personalab.features.params import FeaturesParams
from personalab.features.plan import full_plan
from personalab.features.query import Events, before, events_on
from personalab.features.support import profile_of
from personalab.features.taste_query import catalogue, price_sensitivity, taste_features
from personalab.ingest.params import IngestParams
from personalab.ingest.pipeline import load_raw, process_events
from personalab.ingest.synth import SynthConfig
from tests.shapes import WRITERS, clean_log, write_shapes
from tests.unit.features.helpers import DEVICES, FUTURE, LOG, T, events_frame, t


@pytest.fixture(scope="module")
def duck() -> Iterator[Engine]:
    engine = connect()
    yield engine
    engine.close()


@contextmanager
def borrowed(engine: Engine) -> Iterator[Engine]:
    """The session's Spark under a handle of its own, whose views and caches are dropped at the
    end (the Spark session stays); a DuckDB as it is (closing it would disconnect it)."""
    if engine.name == "duckdb":
        yield engine
        return
    own = Engine(engine.name, engine.backend)
    try:
        yield own
    finally:
        own.close()


def assert_same_table(duck: pd.DataFrame, spark: pd.DataFrame) -> None:
    """Same columns, rows and dtypes; counts and strings exact, floats to 1e-9, nulls alike."""
    pd.testing.assert_frame_equal(duck, spark, check_exact=False, rtol=0, atol=1e-9)


# --- the hand logs -----------------------------------------------------------------------------


def _clicks(user: str, minutes: list[float], sessions: list[str] | None = None) -> list[tuple]:
    sessions = sessions or [f"{user}-s"] * len(minutes)
    return [
        (user, session, t(d=-1, m=minute), "click", "i1")
        for minute, session in zip(minutes, sessions, strict=True)
    ]


#: a user's burst: more than 5 clicks within 10 minutes in one session, in the last 30 days
CLICKS = [
    *_clicks("six_in_9min", [0, 1, 2, 3, 4, 9]),
    *_clicks("five", [0, 1, 2, 3, 4]),
    *_clicks("six_over_11min", [0, 2.2, 4.4, 6.6, 8.8, 11]),
    *_clicks("six_in_two_sessions", [0, 1, 2, 3, 4, 5], ["x1"] * 3 + ["x2"] * 3),
    *_clicks("late_burst", [0, 20, 40, 55, 56, 57, 58, 59, 60]),
    # 10 minutes less 1 ms apart counts together, 10 minutes apart does not (ms resolution)
    *_clicks("edge_in", [0, 0, 0, 0, 0, 10 - 1 / 60_000]),
    *_clicks("edge_out", [0, 0, 0, 0, 0, 10]),
    # 10 minutes less 0.5 ms apart: in whole ms since the first click of the window (at
    # t(d=-1) or a whole number of ms before), 0 and 599 999 apart: together
    *[("sub_ms", "sm", t(d=-1, us=100), "click", "i1")] * 5,
    ("sub_ms", "sm", t(d=-1, m=10, us=-400), "click", "i1"),
    ("old_burst", "o", t(d=-31), "click", "i1"),
    *[("old_burst", "o", t(d=-31, s=k), "click", "i1") for k in range(1, 7)],
]
#: the thresholds are strict (above 0.8 deep, above 180 s long), over the last 30 days
SCROLL_DWELL = [
    ("deep", "d", t(d=-1), "scroll", None, {"scroll_depth": 0.85}),
    ("deep", "d", t(d=-1, m=1), "scroll", None, {"scroll_depth": 0.95}),
    ("at_threshold", "e", t(d=-1), "scroll", None, {"scroll_depth": 0.8}),
    ("at_threshold", "e", t(d=-1, m=1), "scroll", None, {"scroll_depth": 0.8}),
    ("deep_long_ago", "o1", t(d=-40), "scroll", None, {"scroll_depth": 1.0}),
    ("deep_long_ago", "o2", t(d=-1), "scroll", None, {"scroll_depth": 0.5}),
    ("long", "l", t(d=-1), "view", "i1", {"dwell_seconds": 200.0}),
    ("long", "l", t(d=-1, m=4), "view", "i2", {"dwell_seconds": 170.0}),
    ("dwell_at_threshold", "f", t(d=-1), "view", "i1", {"dwell_seconds": 180.0}),
    ("click_dwell", "c", t(d=-1), "view", "i1", {"dwell_seconds": 100.0}),
    ("click_dwell", "c", t(d=-1, m=2), "click", "i1", {"dwell_seconds": 1000.0}),
    ("no_depth", "n", t(d=-1), "scroll", None),
]
#: carts judged after 24 h; at risk: more than 14 days since the last event and 2 sessions
CARTS_AND_RISK = [
    ("recent", "r", t(d=-29), "purchase", "i1"),
    ("old", "o", t(d=-31), "purchase", "i1"),
    ("old_cart", "s", t(d=-40), "add_to_cart", "i1"),
    # a cart with no item is bought by a purchase with no item
    ("no_item", "n1", t(d=-3), "add_to_cart", None),
    ("no_item", "n1", t(d=-3, h=1), "purchase", None),
    # two carts of one item at one time; bought exactly 24 h later: too late, both abandoned
    ("twice", "w", t(d=-3), "add_to_cart", "i1"),
    ("twice", "w", t(d=-3), "add_to_cart", "i1"),
    ("twice", "w", t(d=-2), "purchase", "i1"),
    ("just_in_time", "j", t(d=-3), "add_to_cart", "i2"),
    ("just_in_time", "j", t(d=-2, us=-1), "purchase", "i2"),
    ("bought_before", "k", t(d=-5), "purchase", "i2"),
    ("bought_before", "k", t(d=-3), "add_to_cart", "i2"),
    ("other_item", "q", t(d=-3), "add_to_cart", "i3"),
    ("other_item", "q", t(d=-3, h=1), "purchase", "i4"),
    ("two_sessions_20d", "a1", t(d=-30), "view", "i1"),
    ("two_sessions_20d", "a2", t(d=-20), "view", "i1"),
    ("one_session_20d", "b1", t(d=-20), "view", "i1"),
    ("two_sessions_14d", "c1", t(d=-30), "view", "i1"),
    ("two_sessions_14d", "c2", t(d=-14), "view", "i1"),
    ("two_sessions_14d_1s", "d1", t(d=-30), "view", "i1"),
    ("two_sessions_14d_1s", "d2", t(d=-14, s=-1), "view", "i1"),
]
#: ties in every ranked value: equal recency, sessions and revenue across users
TIES = [
    (f"u{k}", f"u{k}-{s}", t(d=-(k % 3) - s, h=-1), etype, "i1" if k % 2 else "i3")
    for k in range(12)
    for s in range(k % 4)
    for etype in ("view", "purchase")[: 1 + (k % 2)]
] + [("solo", "z", t(d=-2), "view", "i2", {"dwell_seconds": 50.0})]
#: item x: priced 10, 20, 30, 40 (median 25, interpolated) and named "b" at its earliest
#: event, though user "a" (first in the row order) names it "a" later; y has no category
PRICED = [
    ("a", "a1", t(d=-1), "view", "x", {"category": "a", "price": 10.0}),
    ("a", "a1", t(d=-1, m=1), "view", "x", {"category": None, "price": 20.0}),
    ("b", "b1", t(d=-2), "view", "x", {"category": "b", "price": 30.0}),
    ("b", "b1", t(d=-2, m=1), "view", "x", {"category": "b", "price": 40.0}),
    ("c", "c1", t(d=-3), "view", "y", {"category": None, "price": 5.0}),
    ("c", "c1", t(d=-3, m=1), "view", "y", {"category": None, "price": 8.0}),
    ("d", "d1", t(d=-3), "search", None, {"category": "a"}),
]
#: the main log, its future (b buys at T + 1 d; c's view at T + 7 d, the end of the horizon) and
#: a's view exactly at T (after the cut-off T, inside its horizon)
MAIN = [*LOG, *FUTURE, ("a", "a9", T, "view", "i1")]
HAND_LOGS = {
    "main": MAIN,
    "clicks": CLICKS,
    "scroll": SCROLL_DWELL,
    "carts": CARTS_AND_RISK,
    "ties": TIES,
    "priced": PRICED,
}
#: cut-offs of the hand logs: T, exactly at an event (strictly before it counts), mid-session
HAND_CUTOFFS = [T, t(d=-7), t(d=-10, m=2)]
#: the main log's categories, as a plan's ``categories``
CATEGORIES = ["books", "games", "toys"]
HORIZON = pd.Timedelta(days=7)
PRIORITY = ["long_dweller", "deep_scroller", "converter", "cart_abandoner", "high_clicker"]


def hand_events() -> pd.DataFrame:
    """Every hand log in one events frame, users and sessions named ``<log>/<name>``."""
    rows = [
        (f"{log}/{user}", f"{log}/{session}", *rest)
        for log, entries in HAND_LOGS.items()
        for user, session, *rest in entries
    ]
    return events_frame(rows)


def hand_plan():
    """Every column, the main log's devices and categories, a 7-day horizon at the hand cut-offs."""
    plan = full_plan(FeaturesParams(), DEVICES, CATEGORIES)
    cut = CutoffPlan(HAND_CUTOFFS, [], HORIZON, None, None, "day", None)
    return dataclasses.replace(plan, cutoff_plan=cut)


def hand_table(engine: Engine) -> pd.DataFrame:
    """The hand logs' user table at every hand cut-off, in one query: the plan's columns and its
    purchase label, then ``returned_within_horizon`` and the dominant segment under
    :data:`PRIORITY` and under no priority."""
    plan = hand_plan()
    with borrowed(engine) as on:
        events = Events(on, events_on(on, hand_events()))
        tables = {}
        for cutoff in HAND_CUTOFFS:
            table = user_table(events, cutoff, plan, label=True)
            table = rules_query.label_column(
                events.table, table, cutoff.value, HORIZON.value, "return"
            )
            table = table.rename(dominant_default="dominant_segment")
            for name, priority in (("custom", PRIORITY), ("none", [])):
                table = rules_query.dominant_segment(table, priority)
                table = table.rename({f"dominant_{name}": "dominant_segment"})
            tables[cutoff] = table.rename(dominant_segment="dominant_default")
        return fetch_tables(events, tables)


@pytest.fixture(scope="module")
def hand(duck) -> pd.DataFrame:
    return hand_table(duck)


def at(hand: pd.DataFrame, log: str, cutoff: pd.Timestamp = T) -> pd.DataFrame:
    """One hand log's rows at ``cutoff``, indexed by the user's own name."""
    rows = hand[(hand["cutoff"] == cutoff) & hand["user_id"].str.startswith(f"{log}/")]
    return rows.set_index(rows["user_id"].str.removeprefix(f"{log}/"))


def column(hand: pd.DataFrame, log: str, name: str, cutoff: pd.Timestamp = T) -> dict:
    return at(hand, log, cutoff)[name].to_dict()


@pytest.mark.slow
def test_the_hand_logs_give_the_same_table_on_both_engines(hand, spark_engine):
    assert len(hand) == 69 and hand["cutoff"].nunique() == 3
    assert_same_table(hand, hand_table(spark_engine))


# --- the hand logs' known values (DuckDB) -------------------------------------------------------


def test_the_main_log_counts_what_lies_strictly_before_each_cutoff(hand):
    """At T: a's view exactly at T - 7 d is inside the 7-day window, b's one second earlier is
    not; at T - 7 d that view of a's is not history yet; at T - 10 d + 2 min b's first session
    has two views and no cart yet. Revenue: 10 x 2 + 30 x 1 (no quantity: 1)."""
    names = ["events_7d", "sessions_7d", "events_30d", "sessions_total", "revenue_total"]
    names += ["session_duration_mean", "view_to_cart", "cart_abandonment_rate"]
    nan = float("nan")
    expected = {
        T: {
            "a": [6, 2, 10, 3, 50.0, 190.0, 2 / 3, 0.0],
            "b": [2, 1, 6, 3, 0.0, 80.0, 0.5, 1.0],  # b3's cart is 2 h old: not judged
            "c": [0, 0, 1, 2, 0.0, 0.0, nan, nan],
        },
        t(d=-7): {
            "a": [0, 0, 4, 1, 20.0, 300.0, 1.0, 0.0],
            "b": [4, 2, 4, 2, 0.0, 90.0, 1 / 3, 1.0],
            "c": [0, 0, 1, 2, 0.0, 0.0, nan, nan],
        },
        t(d=-10, m=2): {
            "a": [0, 0, 4, 1, 20.0, 300.0, 1.0, 0.0],
            "b": [2, 1, 2, 1, 0.0, 60.0, 0.0, nan],
            "c": [0, 0, 1, 2, 0.0, 0.0, nan, nan],
        },
    }
    for cutoff, users in expected.items():
        rows = at(hand, "main", cutoff)
        for user, want in users.items():
            got = rows.loc[user, names].astype(float).tolist()
            assert got == pytest.approx(want, nan_ok=True, rel=0, abs=1e-12), (cutoff, user)
    days = at(hand, "main", t(d=-7))["days_since_last_event"].to_dict()
    assert days == pytest.approx({"a": 13 - 5 / 1440, "b": 1 / 86_400, "c": 13.0}, rel=0, abs=1e-12)
    first = at(hand, "main", t(d=-10, m=2))["days_since_first_event"].to_dict()
    assert first == pytest.approx({"a": 10 + 2 / 1440, "b": 2 / 1440, "c": 30 + 2 / 1440})


def test_the_labels_look_at_the_horizon_after_each_cutoff(hand):
    """[T, T + 7 d): a's view at T counts, c's view at T + 7 d does not; b buys at T + 1 d."""
    expected = {
        T: {"a": (0, 1), "b": (1, 1), "c": (0, 0)},
        t(d=-7): {"a": (1, 1), "b": (0, 1), "c": (0, 0)},
        t(d=-10, m=2): {"a": (1, 1), "b": (0, 1), "c": (0, 0)},
    }
    for cutoff, users in expected.items():
        rows = at(hand, "main", cutoff)
        labels = rows[["purchased_within_horizon", "returned_within_horizon"]]
        assert {
            u: tuple(v) for u, v in zip(rows.index, labels.values.tolist(), strict=True)
        } == users
        assert (labels.dtypes == "int8").all()


def test_a_burst_is_more_than_five_clicks_within_ten_minutes_of_one_session(hand):
    assert column(hand, "clicks", "seg_high_clicker") == {
        "edge_in": 1, "edge_out": 0, "five": 0, "late_burst": 1, "old_burst": 0,
        "six_in_9min": 1, "six_in_two_sessions": 0, "six_over_11min": 0, "sub_ms": 1,
    }  # fmt: skip


def test_scroll_and_dwell_segments_take_strict_thresholds_over_the_last_30_days(hand):
    rows = at(hand, "scroll")
    assert rows["seg_deep_scroller"].to_dict() == {
        "at_threshold": 0, "click_dwell": 0, "deep": 1, "deep_long_ago": 0,
        "dwell_at_threshold": 0, "long": 0, "no_depth": 0,
    }  # fmt: skip
    assert rows["seg_long_dweller"].to_dict() == {
        "at_threshold": 0, "click_dwell": 0, "deep": 0, "deep_long_ago": 0,
        "dwell_at_threshold": 0, "long": 1, "no_depth": 0,
    }  # fmt: skip
    # the features read all the history; a click's dwell and a depthless scroll count for nothing
    got = rows[["scroll_depth_mean", "scroll_depth_max", "dwell_mean"]]
    nan = float("nan")
    expected = pd.DataFrame.from_dict(
        {
            "at_threshold": [0.8, 0.8, nan],
            "click_dwell": [nan, nan, 100.0],
            "deep": [0.9, 0.95, nan],
            "deep_long_ago": [0.75, 1.0, nan],
            "dwell_at_threshold": [nan, nan, 180.0],
            "long": [nan, nan, 185.0],
            "no_depth": [nan, nan, nan],
        },
        orient="index",
        columns=got.columns,
    )
    pd.testing.assert_frame_equal(got, expected, check_names=False, rtol=0, atol=1e-12)


def test_carts_are_judged_after_24_hours_and_at_risk_takes_over_14_days(hand):
    rows = at(hand, "carts")
    nan = float("nan")
    # share of matured carts abandoned; null without a cart
    assert rows["cart_abandonment_rate"].to_dict() == pytest.approx(
        {
            "bought_before": 1.0, "just_in_time": 0.0, "no_item": 0.0, "old": nan,
            "old_cart": 1.0, "one_session_20d": nan, "other_item": 1.0, "recent": nan,
            "twice": 1.0, "two_sessions_14d": nan, "two_sessions_14d_1s": nan,
            "two_sessions_20d": nan,
        },
        nan_ok=True,
    )  # fmt: skip
    held = rows[["seg_cart_abandoner", "seg_converter", "seg_at_risk"]].T.to_dict("list")
    assert held == {
        "bought_before": [1, 1, 0],  # a purchase before the cart does not buy it
        "just_in_time": [0, 1, 0],  # bought 24 h less 1 us after
        "no_item": [0, 1, 0],  # no item, bought by a purchase with no item
        "old": [0, 0, 0],  # bought 31 days ago: outside the 30 days
        "old_cart": [0, 0, 0],  # abandoned 40 days ago: outside the 30 days
        "one_session_20d": [0, 0, 0],
        "other_item": [1, 1, 0],
        "recent": [0, 1, 0],  # bought 29 days ago
        "twice": [1, 1, 0],  # bought exactly 24 h after: too late
        "two_sessions_14d": [0, 0, 0],  # exactly 14 days: not more
        "two_sessions_14d_1s": [0, 0, 1],
        "two_sessions_20d": [0, 0, 1],
    }


def test_each_cart_is_matured_and_abandoned_as_known(duck):
    """cart_outcomes, one row per add-to-cart event (the main and carts logs) at T."""
    frame = hand_events()
    frame = frame[frame["user_id"].str.startswith(("main/", "carts/"))]
    expr = rules_query.cart_outcomes(before(events_on(duck, frame), T.value), T.value, 24.0)
    got = duck.fetch(expr, order_by=["user_id", "ns"])
    assert got["matured"].dtype == bool and got["abandoned"].dtype == bool
    rows = list(zip(got["user_id"], got["matured"], got["abandoned"], strict=True))
    assert rows == [
        ("carts/bought_before", True, True),
        ("carts/just_in_time", True, False),
        ("carts/no_item", True, False),
        ("carts/old_cart", True, True),
        ("carts/other_item", True, True),
        ("carts/twice", True, True),
        ("carts/twice", True, True),
        ("main/a", True, False),
        ("main/a", True, False),
        ("main/b", True, True),
        ("main/b", False, False),  # 2 hours old
    ]


def test_the_dominant_segment_is_the_first_held_in_priority_order(hand):
    rows = at(hand, "main")
    assert rows[
        ["seg_converter", "seg_cart_abandoner", "seg_long_dweller", "seg_at_risk"]
    ].T.to_dict("list") == {"a": [1, 0, 1, 0], "b": [0, 1, 0, 0], "c": [0, 0, 0, 1]}
    assert rows["dominant_segment"].to_dict() == {
        "a": "converter",
        "b": "cart_abandoner",
        "c": "at_risk",
    }
    # PRIORITY puts long_dweller first and leaves at_risk out; no priority: none
    assert rows["dominant_custom"].to_dict() == {
        "a": "long_dweller",
        "b": "cart_abandoner",
        "c": "none",
    }
    assert set(hand["dominant_none"]) == {"none"}


def pandas_score(values: pd.Series) -> pd.Series:
    """The 1-5 quintile score of the docs: ceil(5 x pandas' average percentile rank)."""
    return np.ceil(values.rank(pct=True) * 5).clip(1, 5).astype("Int8")


def test_ranks_share_ties_as_pandas_average_ranks_within_each_cutoff(hand):
    """RFM scores and the engagement score, against pandas' rank(pct=True) of the table's own
    columns at each cut-off (the ties log gives many equal values); the RFM segment by its rules."""
    weights = FeaturesParams().engagement_weights
    for _, rows in hand.groupby("cutoff"):
        assert rows["days_since_last_event"].duplicated().sum() >= 3  # ties to share
        scores = {
            "rfm_recency": pandas_score(-rows["days_since_last_event"]),
            "rfm_frequency": pandas_score(rows["sessions_30d"]),
            "rfm_monetary": pandas_score(rows["revenue_total"]),
        }
        for name, want in scores.items():
            assert rows[name].tolist() == want.astype("int8").tolist(), name
        ranks = sum(w * rows[n].rank(pct=True).fillna(0.0) for n, w in weights.items())
        want = ranks / sum(weights.values())
        assert rows["engagement_score"].tolist() == pytest.approx(want.tolist(), rel=0, abs=1e-12)
        r, f, m = (rows[name] for name in ("rfm_recency", "rfm_frequency", "rfm_monetary"))
        segment = np.select(
            [(r >= 4) & (f >= 4) & (m >= 4), (f >= 4) & (m >= 3), (r >= 4) & (f <= 2),
             (r >= 3) & (f >= 3), (r <= 2) & (f >= 3), (r <= 2) & (f <= 2)],
            ["champions", "loyal", "new", "potential", "at_risk", "hibernating"],
            "needs_attention",
        )  # fmt: skip
        assert rows["rfm_segment"].tolist() == segment.tolist()
    # by hand at T: u3, u6 and u9 share the latest last event of all (1 hour before T)
    recency = column(hand, "ties", "rfm_recency")
    assert recency["u3"] == recency["u6"] == recency["u9"] == 5


def test_an_item_takes_its_earliest_category_and_the_exact_median_price(duck, hand):
    h = before(events_on(duck, events_frame(PRICED)), T.value)
    items = duck.fetch(catalogue(h), order_by=["item_id"])
    assert items["item_id"].tolist() == ["x", "y"]
    assert items["category"].iloc[0] == "b" and pd.isna(items["category"].iloc[1])
    assert items["price"].tolist() == [25.0, 6.5]
    sensitivity = duck.fetch(price_sensitivity(h), order_by=["user_id"])
    # a: 10 / median(a) = nothing (no item is "a": null, skipped), 20 / median(null) = 20 / 6.5;
    # c: views with no category take the median of the items with none (6.5)
    expected = {"a": 20 / 6.5, "b": (30 / 25 + 40 / 25) / 2, "c": (5 / 6.5 + 8 / 6.5) / 2}
    got = dict(zip(sensitivity["user_id"], sensitivity["price_sensitivity"], strict=True))
    assert got == pytest.approx(expected, rel=0, abs=1e-12)
    taste = duck.fetch(taste_features(h), order_by=["user_id"])  # one row per user
    assert taste["user_id"].tolist() == ["a", "b", "c", "d"]
    assert taste["top_category_share"].tolist()[:2] == [1.0, 1.0]
    assert taste[["top_category_share", "price_sensitivity"]].iloc[2:].isna().values.tolist() == [
        [True, False],
        [False, True],
    ]  # c: no category; d: no view
    # the same in the hand logs' table (their other items are all categorised)
    got = column(hand, "priced", "price_sensitivity")
    assert got == pytest.approx(expected | {"d": float("nan")}, nan_ok=True, rel=0, abs=1e-12)


def test_percentile_rank_is_the_pandas_average_rank_with_ties_and_nulls(duck):
    rng = np.random.default_rng(3)
    values = rng.integers(0, 6, 40).astype(float)
    values[rng.random(40) < 0.2] = np.nan
    frame = pd.DataFrame({"user_id": [f"u{k:02d}" for k in range(40)], "v": values})
    table = duck.table(frame)
    expr = table.select(
        "user_id",
        pct=rules_query.percentile_rank(table.v),
        score=rules_query.quintile_score(table.v),
    )
    got = duck.fetch(expr, ["user_id"])
    pct = frame["v"].rank(pct=True)
    pd.testing.assert_series_equal(got["pct"], pct, check_names=False, rtol=0, atol=1e-12)
    known = pct.notna()
    assert got.loc[known, "score"].tolist() == pandas_score(frame["v"])[known].tolist()
    assert got.loc[~known, "score"].isna().all()


def test_cart_abandoner_without_the_cart_outcomes_is_an_error(duck):
    events = events_on(duck, events_frame(LOG))
    table = events.select("user_id").distinct()
    with pytest.raises(ValueError, match="cart_outcomes"):
        rules_query.segment_columns(events, table, T.value, FeaturesParams().segments)


# --- every log shape, through ingest ------------------------------------------------------------

SHAPES = [*WRITERS, "synthetic"]
#: shapes without purchases: their label is a return
TARGETS = {"ratings": "return", "sessions": "return"}


@pytest.fixture(scope="module")
def shape_logs(tmp_path_factory) -> dict[str, pd.DataFrame]:
    """{shape: the ingest stage's events} (each ingested on a DuckDB of its own)."""
    root = tmp_path_factory.mktemp("shapes")
    sources = write_shapes(root / "data", events=clean_log(n_users=120, n_days=14))
    synthetic = SynthConfig(n_users=120, n_items=60, n_days=14, bot_users=0)
    out = {}
    for shape in SHAPES:
        if shape == "synthetic":
            params = IngestParams(synthetic=synthetic)
        else:
            params = IngestParams(source=sources[shape])
        raw, _ = load_raw(params, root)
        out[shape] = process_events(raw, params).events
    return out


@pytest.mark.slow
@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_gives_the_same_features_on_both_engines(shape_logs, spark_engine, shape):
    """build_features with the plan's automatic cut-offs: the same plan, table and metrics."""
    events = shape_logs[shape]
    params = FeaturesParams(target_event=TARGETS.get(shape, "purchase"))
    duck = build_features(events, params)  # the stage's own DuckDB
    with borrowed(spark_engine) as spark:
        on_spark = Events(spark, events_on(spark, events))
        spark_result = build_features(on_spark, params, profile_of(events))
    assert len(duck.plan.cutoffs) >= 3
    # a label of both classes (sessions: users are sessions, so no one returns)
    assert duck.table[duck.label].nunique() == (1 if shape == "sessions" else 2)
    assert duck.plan == spark_result.plan
    assert_same_table(duck.table, spark_result.table)
    assert duck.table.attrs == spark_result.table.attrs
    assert duck.metrics == spark_result.metrics


@pytest.mark.slow
def test_the_online_store_is_the_same_file_on_both_engines(spark_engine, tmp_path):
    """The export's store (personalab.online.store) built on DuckDB and on Spark: the same bytes,
    on a log of dates only (many events share a time)."""
    from personalab.engine import connect
    from personalab.features.query import Events, events_on
    from personalab.online.store import build_store
    from tests.unit.online.helpers import instants, plan_for, shape

    events = shape("coarse")
    as_of, _ = instants(events)
    past = events[events["timestamp"] < as_of]
    plan = plan_for(past)
    files = []
    for name, engine in (("duckdb", connect()), ("spark", spark_engine)):
        with borrowed(engine) as on:
            path = tmp_path / f"{name}.sqlite"
            build_store(Events(on, events_on(on, past)), plan, as_of, path, 30 * 60 * 10**9)
            files.append(path.read_bytes())
        if name == "duckdb":
            engine.close()
    assert files[0] == files[1]
