"""Unit tests of personalab.ingest.spool and sources.batched: a log parsed (and a Parquet file
read) in batches gives the answers of the log taken whole."""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pytest

from personalab.engine import connect
from personalab.ingest.overview import FUNNEL_STEPS, daily_counts
from personalab.ingest.params import IngestParams
from personalab.ingest.pipeline import process_events
from personalab.ingest.sources import RawEvents, SourceError, batched, read_source
from personalab.ingest.spool import EventsFile, raw_batches, raw_rows


def _log() -> pd.DataFrame:
    """A dirty log of 60 rows: duplicates, bad rows, a user without id (stitched by session),
    float ids that are whole numbers, labels with a value seen in one batch only, a bot."""
    rng = np.random.default_rng(3)
    n = 60
    frame = pd.DataFrame(
        {
            "event_id": [f"e{k % 57}" for k in range(n)],  # e0..e2 reused: conflicting ids
            "user_id": [f"u{k % 4}" for k in range(n)],
            "session_id": [f"s{k % 4}-{k // 30}" for k in range(n)],
            "timestamp": [
                f"2024-01-01T{10 + k // 30:02d}:{k % 30:02d}:{k % 7:02d}Z" for k in range(n)
            ],
            "event_type": rng.choice(
                ["view", " Click", "purchase", "bogus"], n, p=[0.6, 0.2, 0.15, 0.05]
            ),
            "item_id": rng.integers(1, 9, n).astype("float64"),
            "category": rng.choice(["a", "b"], n),
            "price": rng.uniform(-1, 20, n),
            "device": ["tablet" if k == 59 else "mobile" for k in range(n)],
        }
    )
    frame.loc[7, "user_id"] = None  # stitched from its session
    frame.loc[11, "timestamp"] = "not a time"
    frame.loc[20, "item_id"] = np.nan
    return frame


def _compare(one: object, other: object) -> None:
    for name in ("events", "sessions", "quarantine", "bot_users"):
        pd.testing.assert_frame_equal(getattr(one, name), getattr(other, name), check_exact=True)
    skip = ("processing_seconds", "events_per_second")
    assert {k: v for k, v in one.metrics.items() if k not in skip} == {
        k: v for k, v in other.metrics.items() if k not in skip
    }
    assert one.profile == other.profile and one.notes == other.notes


PARAMS = IngestParams(max_quarantine_rate=1.0, source={"arrival_ordered": True})


def test_a_parquet_file_read_in_batches_gives_the_answers_of_the_whole_file(tmp_path, monkeypatch):
    path = tmp_path / "log.parquet"
    _log().to_parquet(path, index=False)
    whole = process_events(read_source("parquet", path), PARAMS)
    monkeypatch.setattr(batched, "BATCH_ROWS", 7)  # 9 batches, the last one short
    raw = read_source("parquet", path)
    assert raw.batches is not None and raw.frame.empty and raw.rows == 60  # nothing held whole
    assert raw.whole_number_ids == {"item_id"}  # 3.0 is "3" in every batch
    _compare(process_events(raw, PARAMS), whole)
    assert len(whole.quarantine) > 0 and len(whole.events) > 30


def test_parsing_in_batches_gives_the_answers_of_one_batch(monkeypatch):
    whole = process_events(RawEvents(frame=_log(), description="log"), PARAMS)
    monkeypatch.setattr(batched, "BATCH_ROWS", 4)
    _compare(process_events(RawEvents(frame=_log(), description="log"), PARAMS), whole)
    # a label only the last batch holds is among the events' categories, as read whole
    assert list(whole.events["device"].cat.categories) == ["mobile", "tablet"]


@pytest.mark.parametrize(
    "change",
    [
        "session identity",  # no user ids: every row is its session's
        "epoch seconds",  # numbers: the unit from the median of the whole column
        "arrival column",  # arrival times read like timestamps, late events by them
        "float session ids",  # whole numbers in the first batches only: never "3" in one, "3.0" in another
    ],
)
def test_a_batched_parquet_file_of_another_shape_gives_the_whole_files_answers(
    tmp_path, monkeypatch, change
):
    log = _log()
    if change == "session identity":
        log = log.drop(columns="user_id")
        log.loc[3, "session_id"] = None  # quarantined: no identity
    elif change == "epoch seconds":
        stamps = pd.to_datetime(log["timestamp"], errors="coerce", utc=True)
        log["timestamp"] = (stamps - pd.Timestamp(0, tz="UTC")) // pd.Timedelta("1s")  # NaN: NaT
        log.loc[5, "timestamp"] = 10**15  # far out of range in seconds: quarantined
    elif change == "float session ids":
        log = log.drop(columns="user_id").assign(session_id=np.arange(len(log)) // 5 * 1.0)
        log.loc[50, "session_id"] = 2.5
        log.loc[52, "session_id"] = np.inf
    else:
        log["arrival"] = log["timestamp"]
        log.loc[40, "arrival"] = "2024-01-01T09:00:00Z"  # arrived first: later rows are late
    path = tmp_path / "log.parquet"
    log.to_parquet(path, index=False)
    params = PARAMS.model_copy(update={"late_events": "quarantine"})
    whole = process_events(read_source("parquet", path), params)
    monkeypatch.setattr(batched, "BATCH_ROWS", 7)
    raw = read_source("parquet", path)
    assert raw.batches is not None
    _compare(process_events(raw, params), whole)
    assert len(whole.quarantine) > 0 and len(whole.events) > 30


def test_a_batched_yyyymmdd_column_with_a_value_that_is_not_a_date_names_its_row(
    tmp_path, monkeypatch
):
    log = _log().assign(timestamp=lambda f: 20240101 + np.arange(len(f)) % 28)
    log.loc[45, "timestamp"] = 20241399
    path = tmp_path / "log.parquet"
    log.to_parquet(path, index=False)
    monkeypatch.setattr(batched, "BATCH_ROWS", 7)
    with pytest.raises(
        SourceError, match=r"log\.parquet: row 45: timestamp 20241399 is not a yyyymmdd"
    ):
        process_events(read_source("parquet", path), PARAMS)


def test_raw_rows_of_a_batched_source_are_the_rows_read_whole(tmp_path, monkeypatch):
    path = tmp_path / "log.parquet"
    _log().to_parquet(path, index=False)
    whole = read_source("parquet", path).frame
    monkeypatch.setattr(batched, "BATCH_ROWS", 8)
    raw = read_source("parquet", path)
    assert sum(len(b) for b in raw_batches(raw)) == 60
    picked = raw_rows(raw, np.array([0, 7, 8, 59]))
    expected = whole.iloc[[0, 7, 8, 59]]
    assert list(picked.columns) == list(expected.columns)
    for name in expected:
        assert picked[name].astype("str").tolist() == expected[name].astype("str").tolist()


def test_a_batched_parquet_file_names_what_is_wrong_as_the_whole_file_does(tmp_path, monkeypatch):
    path = tmp_path / "log.parquet"
    _log().drop(columns="timestamp").to_parquet(path, index=False)
    monkeypatch.setattr(batched, "BATCH_ROWS", 7)
    with pytest.raises(SourceError, match=r"log\.parquet: required column\(s\) timestamp missing"):
        read_source("parquet", path)
    with pytest.raises(SourceError, match=r"maps column\(s\) 'ts' that the file lacks"):
        read_source("parquet", path, columns={"ts": "timestamp"})


def test_the_events_file_lives_as_long_as_its_result_and_reads_a_column_at_a_time():
    result = process_events(RawEvents(frame=_log(), description="log"), PARAMS)
    path = result.events_file
    events = EventsFile(path)
    assert len(events) == len(result.events) > 0
    pd.testing.assert_series_equal(events["device"], result.events["device"])
    del result, events
    gc.collect()
    assert not path.exists() and not path.parent.exists()


def test_the_overview_counts_on_the_engine_what_pandas_counts():
    result = process_events(RawEvents(frame=_log(), description="log"), PARAMS)
    events = result.events
    day = events["timestamp"].dt.floor("D").dt.strftime("%Y-%m-%d")
    daily = events.groupby([day, events["event_type"]], observed=True).size()
    expected = daily.rename("events").rename_axis(["date", "event_type"]).reset_index()
    pd.testing.assert_frame_equal(result.daily, expected, check_dtype=False)
    steps = list(FUNNEL_STEPS)
    users = [events.loc[events["event_type"] == step, "user_id"].nunique() for step in steps]
    assert result.funnel["users"].tolist() == users and result.funnel["step"].tolist() == steps


def test_days_before_1970_are_the_days_they_fall_on():
    engine = connect()
    try:
        stamps = pd.to_datetime(
            ["1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "1969-12-31T00:00:00Z"]
        )
        rows = engine.table(
            pd.DataFrame({"ns": stamps.as_unit("ns").asi8, "event_type": ["view"] * 3})
        )
        got = daily_counts(engine, rows)
    finally:
        engine.close()
    assert got["date"].tolist() == ["1969-12-31", "1970-01-01"]
    assert got["events"].tolist() == [2, 1]


def test_the_events_head_is_the_first_events():
    result = process_events(RawEvents(frame=_log(), description="log"), PARAMS)
    pd.testing.assert_frame_equal(result.events_head(3), result.events.head(3))


@pytest.mark.parametrize("rows", [1, 5, 60])
def test_the_profile_of_the_events_in_batches_is_the_profile_of_the_whole(rows):
    from personalab.ingest.profile import build_profile

    result = process_events(RawEvents(frame=_log(), description="log"), PARAMS)
    events = result.events
    kwargs = {
        "identity": {"identity": "user"},
        "order": {"time_ordered": True, "rows_out_of_order": 0},
        "source_session_share": 1.0,
    }
    whole = build_profile(events, result.sessions, **kwargs)
    parts = [events.iloc[i : i + rows] for i in range(0, len(events), rows)]
    assert build_profile(parts, result.sessions, **kwargs) == whole
    assert whole["users"] == events["user_id"].nunique() and whole["granularity"] == "second"


def test_a_write_behind_writes_every_table_in_order_and_raises_what_a_write_raised(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from personalab.ingest.spool import WriteBehind

    schema = pa.schema([("k", pa.int64())])
    with pq.ParquetWriter(tmp_path / "ok.parquet", schema) as file, WriteBehind(file) as out:
        for start in range(0, 30, 10):
            out.write(pa.table({"k": pa.array(range(start, start + 10), pa.int64())}))
    assert pq.read_table(tmp_path / "ok.parquet")["k"].to_pylist() == list(range(30))
    wrong = pa.table({"k": pa.array(["not", "an", "int"])})
    bad = tmp_path / "bad.parquet"
    with (
        pytest.raises((ValueError, pa.ArrowInvalid)),
        pq.ParquetWriter(bad, schema) as file,
        WriteBehind(file) as out,
    ):
        out.write(wrong)


def test_read_ahead_gives_every_item_in_order_and_raises_an_error_where_its_item_was():
    import threading

    from personalab.ingest.spool import read_ahead

    made_in: list[str] = []

    def items(fail_at: int | None = None):
        for i in range(5):
            made_in.append(threading.current_thread().name)
            if i == fail_at:
                raise ValueError(f"item {i} is broken")
            yield i

    assert list(read_ahead(items())) == [0, 1, 2, 3, 4]
    assert all(name.startswith("personalab-read") for name in made_in)  # made in the thread
    got = []
    with pytest.raises(ValueError, match="item 3 is broken"):
        for item in read_ahead(items(fail_at=3)):
            got.append(item)
    assert got == [0, 1, 2]
    assert list(read_ahead(iter([]))) == []
