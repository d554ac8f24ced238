"""The feature families on the engines (``families_query``, ``taste_query``) give the NumPy
families' columns: on the hand log, and on a log of every shape through ingest, at cut-offs
inside the log, on DuckDB and (slow) on Spark."""

from __future__ import annotations

import dataclasses

import ibis
import pandas as pd
import pytest

from personalab.engine import EngineParams, SparkParams, connect
from personalab.features.build import features_at
from personalab.features.families_query import family_columns
from personalab.features.params import FeaturesParams
from personalab.features.plan import full_plan, plan_features
from personalab.features.query import before, events_on
from personalab.features.support import Support
from personalab.features.taste_query import catalogue, price_sensitivity, taste_features
from personalab.ingest.params import IngestParams
from personalab.ingest.pipeline import load_raw, process_events
from personalab.ingest.synth import SynthConfig
from tests.shapes import WRITERS, clean_log, write_shapes
from tests.unit.features.helpers import DEVICES, LOG, T, events_frame, t

SPARK = SparkParams(master="local[2]", config={"spark.sql.shuffle.partitions": 2})
#: the hand log's categories, as a plan's ``categories``
CATEGORIES = ["books", "games", "toys"]
#: cut-offs of the hand log: T, exactly at an event (strictly before it counts), mid-session
HAND_CUTOFFS = [T, t(d=-7), t(d=-10, m=2)]
#: where the shapes are cut, as quantiles of their event times (1.0: after the last event);
#: Spark (a few seconds a cut-off on two cores) takes the last two
QUANTILES = (0.4, 0.75, 1.0)
SPARK_CUTS = 2
SHAPES = [*WRITERS, "synthetic"]


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


def every_column(plan):
    """``plan`` computing every column (the oracle then drops none of ours)."""
    weights = dict(plan.params.engagement_weights)
    return dataclasses.replace(plan, support=Support(weights=weights))


def on_engine(engine, events: pd.DataFrame, cutoffs: list[pd.Timestamp], plan) -> pd.DataFrame:
    """Our columns at every cut-off, in one query: rows by cut-off, then user."""
    table = events_on(engine, events)
    parts = [
        family_columns(before(table, c.value), c.value, plan).mutate(
            _cutoff=ibis.literal(c.value, "int64")
        )
        for c in cutoffs
    ]
    got = engine.fetch(ibis.union(*parts), order_by=["_cutoff", "user_id"])
    return got.drop(columns="_cutoff")


def oracle(events: pd.DataFrame, cutoffs: list[pd.Timestamp], plan, columns) -> pd.DataFrame:
    """The NumPy features at every cut-off, our columns, rows by cut-off, then user."""
    parts = [features_at(events, c, plan).sort_values("user_id") for c in sorted(cutoffs)]
    return pd.concat(parts, ignore_index=True)[list(columns)]


def assert_matches(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Same columns and rows; counts exact and of integer type, floats to 1e-9, nulls alike."""
    assert list(got.columns) == list(want.columns)
    for name in got.columns[1:]:
        assert got[name].dtype == want[name].dtype, name
    assert got["user_id"].astype(str).tolist() == want["user_id"].astype(str).tolist()
    pd.testing.assert_frame_equal(
        got.drop(columns="user_id"),
        want.drop(columns="user_id"),
        check_exact=False,
        rtol=0,
        atol=1e-9,
    )


# --- the hand log -------------------------------------------------------------------------------


def hand_plan():
    return full_plan(FeaturesParams(), DEVICES, CATEGORIES)


def test_the_hand_log_gives_the_oracle_columns_on_duckdb(duck):
    events, plan = events_frame(LOG), hand_plan()
    got = on_engine(duck, events, HAND_CUTOFFS, plan)
    want = oracle(events, HAND_CUTOFFS, plan, got.columns)
    assert not any(name.startswith(("rfm_", "seg_")) for name in got.columns)
    assert got.columns[-1] == "category_share_toys" and len(got) == 3 * 3
    assert_matches(got, want)


@pytest.mark.slow
def test_the_hand_log_gives_the_oracle_columns_on_spark(spark):
    events, plan = events_frame(LOG), hand_plan()
    got = on_engine(spark, events, [T], plan)  # the other cut-offs: the same SQL, on DuckDB
    assert_matches(got, oracle(events, [T], plan, got.columns))


# --- the catalogue and price sensitivity, by hand -----------------------------------------------

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


@pytest.mark.parametrize("name", ["duckdb", pytest.param("spark", marks=pytest.mark.slow)])
def test_an_item_takes_its_earliest_category_and_the_exact_median_price(duck, request, name):
    engine = duck if name == "duckdb" else request.getfixturevalue("spark")
    h = before(events_on(engine, events_frame(PRICED)), T.value)
    items = engine.fetch(catalogue(h), order_by=["item_id"])
    assert items["item_id"].tolist() == ["x", "y"]
    assert items["category"].iloc[0] == "b" and pd.isna(items["category"].iloc[1])
    assert items["price"].tolist() == [25.0, 6.5]
    sensitivity = engine.fetch(price_sensitivity(h), order_by=["user_id"])
    # a: 10 / median(a) = nothing (no item is "a": null, skipped), 20 / median(null) = 20 / 6.5;
    # c: views with no category take the median of the items with none (6.5)
    expected = {"a": 20 / 6.5, "b": (30 / 25 + 40 / 25) / 2, "c": (5 / 6.5 + 8 / 6.5) / 2}
    got = dict(zip(sensitivity["user_id"], sensitivity["price_sensitivity"], strict=True))
    assert got == pytest.approx(expected, rel=0, abs=1e-12)
    taste = engine.fetch(taste_features(h), order_by=["user_id"])  # one row per user
    assert taste["user_id"].tolist() == ["a", "b", "c", "d"]
    assert taste["top_category_share"].tolist()[:2] == [1.0, 1.0]
    assert taste[["top_category_share", "price_sensitivity"]].iloc[2:].isna().values.tolist() == [
        [True, False],
        [False, True],
    ]  # c: no category; d: no view


# --- every log shape, through ingest ------------------------------------------------------------


@pytest.fixture(scope="module")
def shape_logs(tmp_path_factory):
    """{shape: (events, plan, cut-offs)}: each shape ingested (on a DuckDB of its own), its
    plan's devices, categories and trend span, computing every column."""
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
        events = process_events(raw, params).events
        plan = every_column(plan_features(events, FeaturesParams()))
        times = events["timestamp"]
        cutoffs = [times.quantile(q, interpolation="nearest") for q in QUANTILES[:-1]]
        # an event exactly at a cut-off is after it
        cutoffs.append(times.max() + pd.Timedelta(microseconds=1))
        out[shape] = (events, plan, cutoffs)
    return out


def check_shape(engine, shape_logs, shape: str) -> None:
    events, plan, cutoffs = shape_logs[shape]
    cutoffs = cutoffs[-SPARK_CUTS:] if engine.name == "spark" else cutoffs
    got = on_engine(engine, events, cutoffs, plan)
    assert len(got) > 0
    assert_matches(got, oracle(events, cutoffs, plan, got.columns))


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_gives_the_oracle_columns_on_duckdb(duck, shape_logs, shape):
    check_shape(duck, shape_logs, shape)


@pytest.mark.slow
@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_gives_the_oracle_columns_on_spark(spark, shape_logs, shape):
    check_shape(spark, shape_logs, shape)
