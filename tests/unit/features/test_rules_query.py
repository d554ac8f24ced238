"""The rule scores and segments, the cart outcomes and the label on the engines
(personalab.features.rules_query) give the NumPy answers (rules, build.features_at,
families.cart_outcomes, cutoffs.label_events): on the hand logs on DuckDB, and on a log of every
shape on DuckDB and Spark."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from personalab.engine import EngineParams, SparkParams, connect
from personalab.features import families, rules_query
from personalab.features.build import features_at
from personalab.features.cutoffs import label_events
from personalab.features.history import History
from personalab.features.params import FeaturesParams
from personalab.features.plan import FeaturesPlan, full_plan, plan_features
from personalab.features.query import before, events_on
from personalab.features.schema import SEGMENTS
from tests.unit.features.helpers import DEVICES, FUTURE, LOG, T, events_frame, params, t

SPARK = SparkParams(master="local[2]", config={"spark.sql.shuffle.partitions": 2})
HORIZON_DAYS = 7.0


@pytest.fixture(scope="module")
def duck():
    engine = connect()
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def spark():
    engine = connect(EngineParams(engine="spark", spark=SPARK))
    yield engine
    engine.close()


# --- one expression per cut-off, and the oracle's answer --------------------------------------


def rule_table(engine, events: ibis.Table, oracle: pd.DataFrame, t_ns: int, plan: FeaturesPlan):
    """Every column of rules_query at ``t_ns`` in one expression: the RFM columns, rule
    segments, engagement score and dominant segment over the oracle's own family columns (put
    on the engine), and the label over ``events``."""
    p, support = plan.params, plan.support
    longest = p.windows_days[-1]
    monetary = support.keeps("rfm_monetary")
    wanted = ["days_since_last_event", f"sessions_{longest}d"]
    wanted += ["sessions_total"] * ("at_risk" in support.segments)
    wanted += ["revenue_total"] * monetary + list(support.weights)
    base = engine.table(oracle[["user_id", *dict.fromkeys(wanted)]])
    h = before(events, t_ns)
    outcomes = rules_query.cart_outcomes(h, t_ns, p.segments.abandon_hours)
    out = rules_query.rfm_columns(base, longest, monetary)
    out = rules_query.segment_columns(h, out, t_ns, p.segments, support.segments, outcomes)
    if support.keeps("engagement_score"):
        out = rules_query.engagement_score(out, support.weights)
    out = rules_query.dominant_segment(out, plan.priority)
    horizon_ns = pd.Timedelta(days=HORIZON_DAYS).value
    out = rules_query.label_column(events, out, t_ns, horizon_ns, plan.target_event)
    return out.drop(*(name for name in dict.fromkeys(wanted) if name != "user_id"))


def expected_table(frame: pd.DataFrame, oracle: pd.DataFrame, cutoff, plan) -> pd.DataFrame:
    names = ["rfm_recency", "rfm_frequency", "rfm_monetary", "rfm_segment"]
    names += [f"seg_{name}" for name in SEGMENTS] + ["engagement_score", "dominant_segment"]
    out = oracle[["user_id", *(name for name in names if name in oracle)]].copy()
    out[plan.label] = label_events(
        frame, oracle["user_id"], cutoff, HORIZON_DAYS, plan.target_event
    )
    return out


def assert_same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    keys = [c for c in ("cutoff", "user_id") if c in expected]
    got = got.sort_values(keys, ignore_index=True)
    expected = expected.sort_values(keys, ignore_index=True)
    assert list(got.columns) == list(expected.columns)
    for name in expected:  # ints stay ints (int8), strings strings, floats floats
        assert got[name].dtype.kind == expected[name].dtype.kind, name
        if expected[name].dtype.kind == "i":
            assert got[name].dtype == expected[name].dtype, name
    pd.testing.assert_frame_equal(
        got, expected, check_exact=False, rtol=0, atol=1e-9, check_dtype=False
    )


def check_at(engine, frame: pd.DataFrame, cutoff: pd.Timestamp, plan: FeaturesPlan) -> None:
    """The engine's rule columns and label at ``cutoff`` equal the oracle's; and the carts."""
    oracle = features_at(frame, cutoff, plan)
    events = events_on(engine, frame)
    got = engine.fetch(rule_table(engine, events, oracle, cutoff.value, plan))
    assert_same(got, expected_table(frame, oracle, cutoff, plan))
    check_carts(engine, events, frame, cutoff, plan.params.segments.abandon_hours)


def check_carts(engine, events, frame, cutoff, abandon_hours: float) -> None:
    """cart_outcomes gives, per add-to-cart event, families.cart_outcomes's answers."""
    expr = rules_query.cart_outcomes(before(events, cutoff.value), cutoff.value, abandon_hours)
    got = engine.fetch(expr)
    h = History.of(frame.loc[frame["timestamp"] < cutoff])
    matured, abandoned = families.cart_outcomes(h, cutoff.value, abandon_hours)
    users = np.asarray(h.users)[h.user]
    expected = pd.DataFrame(
        {"user_id": users, "ns": h.ns, "matured": matured, "abandoned": abandoned}
    )[h.is_cart]
    order = ["user_id", "ns", "matured", "abandoned"]
    got, expected = (f.sort_values(order, ignore_index=True) for f in (got, expected))
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert got["matured"].dtype == bool and got["abandoned"].dtype == bool


# --- the hand logs (DuckDB) ------------------------------------------------------------------


def _clicks(user: str, minutes: list[float], sessions: list[str] | None = None) -> list[tuple]:
    sessions = sessions or [f"{user}-s"] * len(minutes)
    return [
        (user, session, t(d=-1, m=minute), "click", "i1")
        for minute, session in zip(minutes, sessions, strict=True)
    ]


CLICKS = [
    *_clicks("six_in_9min", [0, 1, 2, 3, 4, 9]),
    *_clicks("five", [0, 1, 2, 3, 4]),
    *_clicks("six_over_11min", [0, 2.2, 4.4, 6.6, 8.8, 11]),
    *_clicks("six_in_two_sessions", [0, 1, 2, 3, 4, 5], ["x1"] * 3 + ["x2"] * 3),
    *_clicks("late_burst", [0, 20, 40, 55, 56, 57, 58, 59, 60]),
    # 10 minutes less 1 ms apart counts together, 10 minutes apart does not (ms resolution)
    *_clicks("edge_in", [0, 0, 0, 0, 0, 10 - 1 / 60_000]),
    *_clicks("edge_out", [0, 0, 0, 0, 0, 10]),
    # 10 minutes less 0.5 ms apart, in whole milliseconds since the first click (at t(d=-1))
    # 0 and 599 999: together (the NumPy version floors to ms, then compares)
    *[("sub_ms", "sm", t(d=-1, us=100), "click", "i1")] * 5,
    ("sub_ms", "sm", t(d=-1, m=10, us=-400), "click", "i1"),
    ("old_burst", "o", t(d=-31), "click", "i1"),
    *[("old_burst", "o", t(d=-31, s=k), "click", "i1") for k in range(1, 7)],
]
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
CARTS_AND_RISK = [
    ("recent", "r", t(d=-29), "purchase", "i1"),
    ("old", "o", t(d=-31), "purchase", "i1"),
    ("old_cart", "s", t(d=-40), "add_to_cart", "i1"),
    # a cart with no item is bought by a purchase with no item (the NumPy version's match)
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
PRIORITY = ["long_dweller", "deep_scroller", "converter", "cart_abandoner", "high_clicker"]
HAND_LOGS = {
    "main": (LOG + FUTURE, FeaturesParams(), DEVICES),
    "main_custom_priority": (LOG + FUTURE, params(segments={"priority": PRIORITY}), DEVICES),
    "clicks": (CLICKS, FeaturesParams(), []),
    "scroll_dwell": (SCROLL_DWELL, FeaturesParams(), []),
    "carts_and_risk": (CARTS_AND_RISK + FUTURE, FeaturesParams(), []),
    "ties": (TIES + FUTURE, FeaturesParams(), []),
    "no_priority": (LOG, params(segments={"priority": []}), DEVICES),
    # a return label: an event at T counts, one at T + horizon (c's view at T + 7 d) does not
    "return_label": (
        LOG + FUTURE + [("a", "a9", T, "view", "i1")],
        params(target_event="return"),
        DEVICES,
    ),
}


@pytest.mark.parametrize("log", list(HAND_LOGS))
def test_hand_logs_give_the_numpy_answers(duck, log):
    rows, feature_params, devices = HAND_LOGS[log]
    check_at(duck, events_frame(rows), T, full_plan(feature_params, devices))


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
    expected = np.clip(np.ceil(pct[known] * 5), 1, 5).astype(np.int8).to_numpy()
    assert got.loc[known, "score"].to_numpy().tolist() == expected.tolist()
    assert got.loc[~known, "score"].isna().all()


def test_the_hand_logs_answers_are_the_known_ones(duck):
    """The oracle the tests compare with says what test_rules says (a guard on the comparison)."""
    frame = events_frame(CLICKS)
    events = events_on(duck, frame)
    segs = rules_query.segment_columns(
        before(events, T.value), duck.table(features_at(frame, T, full_plan())[["user_id"]]), T.value,
        FeaturesParams().segments, ("high_clicker",),
    )  # fmt: skip
    got = duck.fetch(segs, ["user_id"]).set_index("user_id")["seg_high_clicker"].to_dict()
    assert got == {
        "edge_in": 1, "edge_out": 0, "five": 0, "late_burst": 1, "old_burst": 0,
        "six_in_9min": 1, "six_in_two_sessions": 0, "six_over_11min": 0, "sub_ms": 1,
    }  # fmt: skip


def test_cart_abandoner_without_the_cart_outcomes_is_an_error(duck):
    frame = events_frame(LOG)
    events = events_on(duck, frame)
    table = duck.table(features_at(frame, T, full_plan())[["user_id"]])
    with pytest.raises(ValueError, match="cart_outcomes"):
        rules_query.segment_columns(events, table, T.value, FeaturesParams().segments)


# --- every log shape, on DuckDB and Spark ----------------------------------------------------


@pytest.fixture(scope="module")
def shape_events(tmp_path_factory):
    """{shape: canonical events} of each shape's source, ingested on DuckDB."""
    from personalab.ingest.params import IngestParams
    from personalab.ingest.pipeline import load_raw, process_events
    from tests.shapes import clean_log, write_shapes

    root = tmp_path_factory.mktemp("shapes")
    sources = write_shapes(root / "data", events=clean_log(n_users=120, n_days=14))
    out = {}
    for shape, source in sources.items():
        ingest = IngestParams(source=source)
        raw, _ = load_raw(ingest, root)
        out[shape] = process_events(raw, ingest).events  # on a DuckDB of its own
    return out


SHAPES = ["ratings", "sessions", "purchase", "orders", "short", "funnel"]


#: the label of each shape: purchases where it has them, else any return
TARGETS = {"ratings": "return", "sessions": "return"}


def shape_plan(
    frame: pd.DataFrame, target_event: str, shares: tuple[float, ...]
) -> tuple[FeaturesPlan, list[pd.Timestamp]]:
    """The stage's plan of a shape (what it keeps), and cut-offs at ``shares`` of the log."""
    plan = plan_features(frame, params(target_event=target_event))
    start, end = frame["timestamp"].min(), frame["timestamp"].max()
    cutoffs = [start + (end - start) * share for share in shares]
    return plan, [c.floor("s") for c in cutoffs]


def check_shape(engine, frame: pd.DataFrame, target_event: str, shares: tuple[float, ...]):
    """All cut-offs of a shape in one expression (a union, one fetch): ranks per cut-off."""
    plan, cutoffs = shape_plan(frame, target_event, shares)
    events = events_on(engine, frame)
    parts, expected = [], []
    for cutoff in cutoffs:
        oracle = features_at(frame, cutoff, plan)
        part = rule_table(engine, events, oracle, cutoff.value, plan)
        parts.append(part.mutate(cutoff=ibis.literal(cutoff.value, "int64")).relocate("cutoff"))
        want = expected_table(frame, oracle, cutoff, plan)
        want.insert(0, "cutoff", cutoff.value)
        expected.append(want)
    got = engine.fetch(ibis.union(*parts))
    assert_same(got, pd.concat(expected, ignore_index=True))


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_gives_the_numpy_answers_on_duckdb(duck, shape_events, shape):
    check_shape(duck, shape_events[shape], TARGETS.get(shape, "purchase"), (0.4, 0.7, 0.9))


@pytest.mark.slow
@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_gives_the_numpy_answers_on_spark(spark, shape_events, shape):
    check_shape(spark, shape_events[shape], TARGETS.get(shape, "purchase"), (0.5, 0.9))


@pytest.mark.slow
def test_the_hand_carts_give_the_numpy_answers_on_spark(spark):
    rows, feature_params, devices = HAND_LOGS["carts_and_risk"]
    check_at(spark, events_frame(rows), T, full_plan(feature_params, devices))
