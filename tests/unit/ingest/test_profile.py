"""Unit tests of personalab.ingest.profile: what a log holds, on hand-built logs whose answer is known.

Each log is a small file written in ``tmp_path`` and ingested as a user would (through params).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personalab.ingest.events import EVENT_TYPES
from personalab.ingest.profile import (
    build_profile,
    profile_metrics,
    profile_table,
    read_order,
    timestamp_granularity,
)
from tests.unit.ingest.bad_inputs import assert_accounted, ingest, reasons, write

HEADER = "user_id,timestamp,event_type,item_id\n"


def _log(tmp_path, times: list[str], name: str = "log.csv", **source):
    """Ingest one view per timestamp, each by its own user (so no bot rule can fire)."""
    rows = "".join(f"u{k},{t},view,i1\n" for k, t in enumerate(times))
    result = ingest(tmp_path, write(tmp_path, name, HEADER + rows), **source)
    assert_accounted(result)
    return result


# --- granularity -------------------------------------------------------------------------------

GRANULARITY_LOGS = [
    ("day", 86400.0, ["2024-01-01", "2024-01-03", "2024-01-02"]),
    ("hour", 3600.0, ["2024-01-01T10:00:00Z", "2024-01-01T13:00:00Z"]),
    ("minute", 60.0, ["2024-01-01T10:05Z", "2024-01-01T10:00Z", "2024-01-02T00:00Z"]),
    ("second", 1.0, ["2024-01-01T10:05:07Z", "2024-01-01T10:05:00Z"]),
    ("millisecond", 0.001, ["2024-01-01T10:05:07.250Z", "2024-01-01T10:05:07Z"]),
    ("microsecond", 1e-6, ["2024-01-01T10:05:07.000250Z", "2024-01-01T10:05:07Z"]),
]


@pytest.mark.parametrize(
    ("name", "seconds", "times"), GRANULARITY_LOGS, ids=[g[0] for g in GRANULARITY_LOGS]
)
def test_granularity_is_the_coarsest_unit_every_timestamp_is_a_whole_number_of(
    tmp_path, name, seconds, times
):
    profile = _log(tmp_path, times).profile
    assert (profile["granularity"], profile["granularity_seconds"]) == (name, seconds)
    assert profile_metrics(profile)["profile_granularity_seconds"] == seconds


def test_a_date_only_log_read_in_another_zone_is_still_day(tmp_path):
    profile = _log(tmp_path, ["2024-01-01", "2024-07-02"], timezone="Europe/Paris").profile
    assert profile["first_timestamp"] == "2023-12-31T23:00:00+00:00"  # 23:00 UTC, 22:00 in July
    assert profile["last_timestamp"] == "2024-07-01T22:00:00+00:00"
    assert profile["granularity"] == "day"


def test_granularity_of_nanoseconds_and_of_nothing():
    ns = pd.Series(pd.to_datetime(["2024-01-01 00:00:00.000000001"], utc=True).as_unit("ns"))
    assert timestamp_granularity(ns) == ("nanosecond", 1e-9)
    assert timestamp_granularity(pd.Series([], dtype="datetime64[us, UTC]")) is None


# --- time span, order -----------------------------------------------------------------------


def test_span_and_first_and_last_timestamps(tmp_path):
    profile = _log(tmp_path, ["2024-01-02T12:00:00Z", "2024-01-01T00:00:00Z"]).profile
    assert profile["first_timestamp"] == "2024-01-01T00:00:00+00:00"
    assert profile["last_timestamp"] == "2024-01-02T12:00:00+00:00"
    assert profile["span_days"] == 1.5


def test_an_unsorted_file_is_not_time_ordered(tmp_path):
    times = ["10:00", "12:00", "11:00", "11:30", "13:00"]
    profile = _log(tmp_path, [f"2024-01-01T{t}:00Z" for t in times]).profile
    assert (profile["time_ordered"], profile["rows_out_of_order"]) == (False, 2)
    metrics = profile_metrics(profile)
    assert (metrics["profile_time_ordered"], metrics["profile_rows_out_of_order"]) == (0, 2)


def test_a_sorted_file_with_ties_and_a_bad_row_is_time_ordered(tmp_path):
    times = ["2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z", "not a time", "2024-01-01T11:00:00Z"]
    result = _log(tmp_path, times)
    assert reasons(result) == {"bad_timestamp": 1}
    assert (result.profile["time_ordered"], result.profile["rows_out_of_order"]) == (True, 0)
    assert result.metrics["profile_time_ordered"] == 1


def test_read_order_counts_the_rows_behind_the_latest_before_them():
    ticks = np.array([5, 1, 6, 6, 2, 7, 3])  # 1, 2 and 3 step back behind 5, 6 and 7
    assert read_order([ticks]) == {"time_ordered": False, "rows_out_of_order": 3}
    assert read_order([np.array([1, 2]), np.array([2, 3])])["time_ordered"] is True


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_read_order_in_chunks_is_read_order_of_the_whole(size):
    rng = np.random.default_rng(size)
    ticks = rng.integers(0, 50, 40)
    chunks = [ticks[i : i + size] for i in range(0, ticks.size, size)]
    chunks.insert(2, ticks[:0])  # an empty chunk (a batch with no kept rows) changes nothing
    running = np.maximum.accumulate(ticks)
    expected = int(np.count_nonzero(ticks[1:] < running[:-1]))
    assert read_order(chunks) == {"time_ordered": expected == 0, "rows_out_of_order": expected}
    assert (
        read_order([ticks[:1]]) == read_order([]) == {"time_ordered": True, "rows_out_of_order": 0}
    )


# --- what the log holds ---------------------------------------------------------------------


def test_counts_event_types_flags_and_populated_shares(tmp_path):
    path = write(
        tmp_path,
        "shop.csv",
        "user_id,session_id,timestamp,event_type,item_id,category,price,dwell_seconds,device\n"
        "u1,s1,2024-01-01T10:00:00Z,view,i1,shoes,,3,mobile\n"
        "u1,s1,2024-01-01T10:01:00Z,add_to_cart,i1,,20,4,mobile\n"
        "u2,,2024-01-01T11:00:00Z,view,i2,,,5,desktop\n"
        "u2,,2024-01-01T11:02:00Z,purchase,i2,,30,,desktop\n",
    )
    result = ingest(tmp_path, path)
    assert_accounted(result)
    profile = result.profile
    assert profile["rows"] == 4
    assert profile["event_types"] == {
        **dict.fromkeys(EVENT_TYPES, 0),
        "view": 2,
        "add_to_cart": 1,
        "purchase": 1,
    }
    flags = [profile[f"has_{k}"] for k in ("views", "carts", "purchases", "ratings")]
    assert flags == [True, True, True, False]
    assert (profile["users"], profile["sessions"], profile["items"]) == (2, 2, 2)
    assert profile["categories"] == 1
    assert profile["populated"] == {
        "category": 0.25,
        "price": 0.5,
        "quantity": 0.0,
        "rating": 0.0,
        "dwell_seconds": 0.75,
        "scroll_depth": 0.0,
        "device": 1.0,
        "channel": 0.0,
        "session_id": 0.5,  # u2's session was derived
    }
    assert profile["session_ids"] == "mixed"
    assert (profile["identity"], profile["granularity"]) == ("user", "minute")


def test_a_ratings_only_log(tmp_path):
    """MovieLens ratings.csv: no purchases, second timestamps, every row rated."""
    path = write(
        tmp_path,
        "ratings.csv",
        "userId,movieId,rating,timestamp\r\n"
        "1,1,4.0,964982703\r\n1,3,4.0,964981247\r\n2,6,4.5,1445714835\r\n",
    )
    result = ingest(tmp_path, path, fmt="movielens")
    assert_accounted(result)
    profile = result.profile
    assert profile["event_types"]["rate"] == 3 == profile["rows"]
    assert [profile[f"has_{k}"] for k in ("views", "carts", "purchases", "ratings")] == [
        False,
        False,
        False,
        True,
    ]
    assert (profile["granularity"], profile["populated"]["rating"]) == ("second", 1.0)
    assert (profile["time_ordered"], profile["session_ids"]) == (False, "derived")
    assert result.metrics["profile_has_purchases"] == 0
    assert result.metrics["populated_rating"] == 1.0


def test_a_session_only_log(tmp_path):
    path = write(
        tmp_path,
        "clicks.csv",
        "session_id,timestamp,event_type,item_id\n"
        "s1,2024-01-01T10:00:00Z,view,i1\ns1,2024-01-01T10:01:00Z,click,i2\n"
        "s2,2024-01-01T10:05:00Z,view,i1\n",
    )
    result = ingest(tmp_path, path)
    assert_accounted(result)
    profile = result.profile
    assert (profile["identity"], profile["users"], profile["sessions"]) == ("session", 2, 2)
    assert (profile["populated"]["session_id"], profile["session_ids"]) == (1.0, "source")
    assert profile["identity_decision"]["rows_session"] == 3
    assert result.metrics["profile_identity_session"] == 1


def test_the_profile_of_no_events():
    empty = pd.DataFrame(
        {
            "user_id": pd.Series(dtype="str"),
            "timestamp": pd.Series(dtype="datetime64[us, UTC]"),
            "event_type": pd.Series(dtype="str"),
            "item_id": pd.Series(dtype="str"),
            **{c: pd.Series(dtype=float) for c in ("category", "price", "quantity", "rating")},
            **{c: pd.Series(dtype=float) for c in ("dwell_seconds", "scroll_depth")},
            **{c: pd.Series(dtype="str") for c in ("device", "channel")},
        }
    )
    identity = {"identity": "user", "setting": "auto", "rows_stitched": 0, "rows_session": 0}
    profile = build_profile(
        empty,
        empty.iloc[:0],
        identity={**identity, "rows_without_identity": 2},
        order={"time_ordered": True, "rows_out_of_order": 0},
        source_session_share=None,
    )
    assert (profile["rows"], profile["first_timestamp"], profile["granularity"]) == (0, None, None)
    assert profile["populated"]["price"] is None and profile["session_ids"] is None
    metrics = profile_metrics(profile)
    assert np.isnan(metrics["profile_granularity_seconds"]) and np.isnan(metrics["populated_price"])


# --- metrics, table, determinism ------------------------------------------------------------


def test_metrics_hold_the_profiles_numbers_flat(tmp_path):
    result = _log(tmp_path, ["2024-01-01T10:00:00Z", "2024-01-02T10:00:00Z"])
    metrics = profile_metrics(result.profile)
    assert all(type(v) in (int, float) for v in metrics.values()), metrics
    assert {k: result.metrics[k] for k in metrics} == metrics
    assert metrics["profile_users"] == 2 and metrics["profile_span_days"] == 1.0
    assert metrics["profile_rows_view"] == 2 and metrics["profile_rows_purchase"] == 0


def test_the_same_input_gives_the_same_profile(tmp_path):
    times = ["2024-01-01T10:00:00Z", "2024-01-02T10:00:00Z"]
    assert _log(tmp_path, times).profile == _log(tmp_path, times).profile


def test_profile_table_flattens_nested_keys(tmp_path):
    table = profile_table(_log(tmp_path, ["2024-01-01T10:00:00Z"]).profile)
    assert table.loc["identity", "value"] == "user"
    assert table.loc["event_types.view", "value"] == 1
    assert table.loc["identity_decision.setting", "value"] == "auto"
    assert table.loc["populated.price", "value"] == 0.0


def test_the_metrics_table_shows_counts_as_whole_numbers(tmp_path):
    from personalab.ingest.report import summary_table

    times = [f"2024-01-01T10:{m:02d}:00Z" for m in range(9)] + ["not a time"]
    table = summary_table(_log(tmp_path, times))
    assert table.index.name == "metric" and list(table.columns) == ["value"]
    assert table.loc["rows_read", "value"] == 10 and table.loc["rows_quarantined", "value"] == 1
    assert table.loc["quarantine_rate", "value"] == 0.1
    shown = table.to_string().splitlines()
    assert [line.split()[-1] for line in shown if line.startswith("rows_")] == ["10", "9", "1"]


# --- the stage's status -----------------------------------------------------------------------


def test_the_ingest_status_names_session_identity_and_the_event_types_the_log_lacks(tmp_path):
    from personalab.ingest.report import ingest_status

    rows = "".join(f"s{k % 3},2024-01-01T10:0{k}:00Z,view,i{k}\n" for k in range(6))
    path = write(tmp_path, "clicks.csv", "session_id,timestamp,event_type,item_id\n" + rows)
    result = ingest(tmp_path, path)
    status = ingest_status(result)
    assert status.status == "complete"
    lines = status.metrics()["notes"]
    assert any(line.startswith("adapted: identity: sessions stand for users") for line in lines)
    lacking = [line for line in lines if "has no event of type" in line]
    assert len(lacking) == 1 and "view" not in lacking[0].split("type")[1].split("(")[0]
    for kind in ("add_to_cart", "purchase", "rate"):
        assert kind in lacking[0]
