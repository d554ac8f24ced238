"""One definition, two engines: ingest on DuckDB and on Spark (local mode) gives the same events,
quarantine, sessions, bot users and metrics, on a log of every shape and on dirty logs."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from personalab.engine import connect
from personalab.ingest.params import IngestParams
from personalab.ingest.pipeline import process_events, run_ingest
from personalab.ingest.sources import RawEvents
from personalab.ingest.synth import SynthConfig
from tests.shapes import SOURCES, clean_log, write_shapes

pytestmark = pytest.mark.slow

#: metrics that measure the run, not the data
TIMING = ("processing_seconds", "events_per_second")


@pytest.fixture(scope="module")
def engines(spark_engine):
    duck = connect()
    yield {"duckdb": duck, "spark": spark_engine}
    duck.close()


def both(engines, make_raw, params: IngestParams) -> dict:
    """{engine: IngestResult} of the same rows through each engine."""
    return {name: process_events(make_raw(), params, engine=e) for name, e in engines.items()}


def assert_same(results: dict) -> None:
    duck, spark = results["duckdb"], results["spark"]
    for name in ("events", "sessions", "quarantine", "bot_users"):
        pd.testing.assert_frame_equal(
            getattr(duck, name),
            getattr(spark, name),
            check_exact=False,
            rtol=0,
            atol=1e-9,
            obj=name,
        )
    assert {k: v for k, v in duck.metrics.items() if k not in TIMING} == pytest.approx(
        {k: v for k, v in spark.metrics.items() if k not in TIMING}, rel=0, abs=1e-9
    )
    assert duck.profile == spark.profile


@pytest.fixture(scope="module")
def shape_sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    return root, write_shapes(root / "data", events=clean_log(n_users=120, n_days=14))


@pytest.mark.parametrize("shape", list(SOURCES))
def test_every_shape_gives_the_same_answers_on_both_engines(engines, shape_sources, shape):
    root, sources = shape_sources
    params = IngestParams(source=sources[shape])
    results = {name: _run(params, root, engine) for name, engine in engines.items()}
    assert results["duckdb"].metrics["rows_valid"] > 0
    assert_same(results)


def _run(params: IngestParams, root, engine):
    from personalab.ingest.pipeline import load_raw

    raw, _ = load_raw(params, root)
    return process_events(raw, params, engine=engine)


def test_a_dirty_synthetic_log_gives_the_same_answers(engines):
    """Duplicates, late arrivals (quarantined), malformed rows and bots, from the generator."""
    synth = SynthConfig(
        n_users=150, n_items=80, n_days=10, bot_users=2, duplicate_rate=0.05, late_rate=0.03,
        malformed_rate=0.01,
    )  # fmt: skip
    params = IngestParams(synthetic=synth, late_events="quarantine", max_quarantine_rate=0.5)
    results = {name: run_ingest_on(params, engine) for name, engine in engines.items()}
    metrics = results["duckdb"].metrics
    assert metrics["duplicates_removed"] > 0 and metrics["bot_users"] == 2
    assert metrics["quarantined_late_event"] > 0
    assert_same(results)


def run_ingest_on(params: IngestParams, engine):
    from personalab.ingest.pipeline import load_raw

    raw, _ = load_raw(params, ".")
    return process_events(raw, params, engine=engine)


def _hand_rows() -> RawEvents:
    """Rows that exercise every rule relating rows: conflicting ids, re-sends with and without
    ids, ties in time, source sessions, arrival times (some unknown), a zero-dwell bot."""
    t0 = pd.Timestamp("2026-03-01 10:00", tz="UTC")
    rows = []
    for k in range(30):  # a zero-dwell bot: 30 views with dwell 0
        rows.append(("b", f"bot{k}", t0 + pd.Timedelta(seconds=7 * k), "view", "i1", 0.0, None))
    rows += [
        ("u1", "x1", t0, "view", "i1", 5.0, "s-own"),
        ("u1", "x1", t0, "view", "i1", 9.0, "s-own"),  # a re-send with a new dwell
        ("u1", "x2", t0, "purchase", "i2", None, None),  # tie in time with x1
        ("u1", None, t0 + pd.Timedelta(minutes=45), "view", "i3", 1.0, None),
        ("u1", None, t0 + pd.Timedelta(minutes=45), "view", "i3", 1.0, None),  # no-id re-send
        ("u2", "c1", t0 + pd.Timedelta(minutes=1), "view", "i1", 2.0, None),
        ("u2", "c1", t0 + pd.Timedelta(minutes=2), "click", "i1", 2.0, None),  # conflict
        ("u2", "x3", t0 - pd.Timedelta(hours=3), "view", "i2", 3.0, None),  # late by arrival
        ("u3", "x4", t0 + pd.Timedelta(minutes=30), "view", "i4", None, None),
        ("u3", "x5", t0 + pd.Timedelta(minutes=60), "view", "i4", None, None),
    ]
    frame = pd.DataFrame(
        rows, columns=["user_id", "event_id", "timestamp", "event_type", "item_id",
                       "dwell_seconds", "session_id"],
    )  # fmt: skip
    frame["timestamp"] = frame["timestamp"].astype("str")
    frame["price"] = np.where(frame["event_type"] == "purchase", 12.5, np.nan)
    arrival = pd.Series(frame["timestamp"], dtype=object)  # rows arrive as they happen ...
    arrival.iloc[37] = str(t0 + pd.Timedelta(minutes=10))  # ... but x3, 3 hours behind
    arrival.iloc[-1] = None  # an unknown arrival: never late
    frame["arrival"] = arrival
    frame["_file"], frame["_row"] = "hand.csv", np.arange(len(frame))
    return RawEvents(frame=frame, description="hand.csv")


@pytest.mark.parametrize("late_events", ["keep", "quarantine"])
def test_rows_that_relate_give_the_same_answers(engines, late_events):
    params = IngestParams(
        source={"format": "csv", "path": "hand.csv"}, late_events=late_events,
        max_quarantine_rate=1.0,
    )  # fmt: skip
    results = both(engines, _hand_rows, params)
    duck = results["duckdb"]
    assert duck.metrics["quarantined_conflicting_event_id"] == 2
    assert duck.metrics["duplicates_removed"] == 2
    assert duck.bot_users["user_id"].tolist() == ["b"]
    assert duck.metrics["late_events"] == 1
    assert "s-own" in set(duck.events["session_id"])
    assert_same(results)


def test_default_engine_is_duckdb_and_the_pipeline_opens_it_itself():
    params = IngestParams(synthetic=SynthConfig(n_users=60, n_items=40, n_days=7, bot_users=1))
    assert params.engine == "duckdb"
    result = run_ingest(params)
    assert result.metrics["rows_valid"] > 0


CONNECT_SCRIPT = """
import sys
from personalab.engine import EngineParams, SparkParams, connect
from personalab.ingest.params import IngestParams
from personalab.ingest.pipeline import process_events
from tests.conftest import SMALL_SPARK
from tests.unit.ingest.test_engines import HAND_PARAMS, _hand_rows

spark = SparkParams(remote="local[2]", config=SMALL_SPARK)
engine = connect(EngineParams(engine="spark", spark=spark))
assert type(engine.backend._session).__module__.startswith("pyspark.sql.connect")
result = process_events(_hand_rows(), IngestParams(**HAND_PARAMS), engine=engine)
for name in ("events", "sessions", "quarantine", "bot_users"):
    getattr(result, name).to_parquet(f"{sys.argv[1]}/{name}.parquet")
"""
HAND_PARAMS = {
    "source": {"format": "csv", "path": "hand.csv"},
    "late_events": "quarantine",
    "max_quarantine_rate": 1.0,
}


def test_spark_connect_gives_the_same_answers(tmp_path):
    """A Spark Connect address (here the local Connect server PySpark starts for `local[2]`),
    in a process of its own: one JVM per process."""
    from tests.conftest import ROOT, run_tool

    run_tool([sys.executable, "-c", CONNECT_SCRIPT, str(tmp_path)], ROOT, timeout=600)
    duck = process_events(_hand_rows(), IngestParams(**HAND_PARAMS))
    for name in ("events", "sessions", "quarantine", "bot_users"):
        getattr(duck, name).to_parquet(tmp_path / f"duckdb_{name}.parquet")
        ours, theirs = (pd.read_parquet(tmp_path / f"{p}{name}.parquet") for p in ("duckdb_", ""))
        pd.testing.assert_frame_equal(ours, theirs, obj=name)


def test_a_dated_clickstream_without_items_keeps_every_event(engines, shape_sources):
    """The pages shape: no item ids, dates only. Every mapped row is an event on both engines:
    none quarantined for its missing item, none taken for a re-send of the same day's page."""
    root, sources = shape_sources
    params = IngestParams(source=sources["pages"])
    result = _run(params, root, engines["duckdb"])
    written = pd.read_csv(root / sources["pages"]["path"])
    m = result.metrics
    assert m["rows_read"] == len(written) == m["rows_valid"]
    assert m["duplicates_removed"] == 0 and m["rows_quarantined"] == 0
    said = " ".join(result.notes)
    assert "the log has no item ids" in said and "whole quarter-hour or coarser" in said
