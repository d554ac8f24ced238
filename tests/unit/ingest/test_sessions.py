"""Unit tests of personalab.ingest.sessions: session ids from gaps, and the sessions table.

The rules are Ibis expressions; :mod:`tests.unit.ingest.engine_rows` runs them on DuckDB over
the frames built here (``ns`` from ``timestamp``, ``pos`` the row's place in the frame).
"""

from __future__ import annotations

import pandas as pd
import pytest

from personalab.ingest.events import EVENT_TYPES
from personalab.ingest.sessions import EVENT_ORDER, assign_sessions
from tests.unit.ingest.engine_rows import sessionise, sessionised, sessions_table, table

T0 = pd.Timestamp("2024-01-01 12:00", tz="UTC")


def at(minutes: float = 0, seconds: float = 0) -> pd.Timestamp:
    return T0 + pd.Timedelta(minutes=minutes, seconds=seconds)


def _events(users: list[str], times: list[pd.Timestamp], **columns) -> pd.DataFrame:
    return pd.DataFrame(
        {"user_id": users, "timestamp": pd.Series(times, dtype="datetime64[ns, UTC]"), **columns}
    )


def _ids(events: pd.DataFrame, **kwargs) -> list[str]:
    """Session ids in EVENT_ORDER order (user, time, read order)."""
    return sessionise(events, **kwargs)


# --- assign_sessions -----------------------------------------------------------------------


def test_event_order_is_user_time_then_read_order():
    assert EVENT_ORDER == ("user_id", "ns", "pos")


def test_gap_of_exactly_30_minutes_starts_a_new_session():
    assert _ids(_events(["a", "a"], [at(0), at(30)])) == ["a-s1", "a-s2"]


def test_gap_of_29m59s_stays_in_the_session():
    assert _ids(_events(["a", "a"], [at(0), at(29, 59)])) == ["a-s1", "a-s1"]


def test_gap_is_measured_from_the_previous_event_not_the_session_start():
    times = [at(0), at(20), at(40), at(60), at(90)]
    assert _ids(_events(["a"] * 5, times)) == ["a-s1", "a-s1", "a-s1", "a-s1", "a-s2"]


def test_single_event_session():
    assert _ids(_events(["solo"], [at(0)])) == ["solo-s1"]


def test_ids_count_each_users_sessions_from_one():
    events = _events(["a", "a", "a", "b", "b"], [at(0), at(40), at(200), at(0), at(31)])
    assert _ids(events) == ["a-s1", "a-s2", "a-s3", "b-s1", "b-s2"]


def test_two_users_interleaved_in_time():
    # a at 0, 10, 45; b at 1, 50: a's 45 is 35 after its 10, b's 50 is 49 after its 1
    raw = _events(["a", "b", "a", "b", "a"], [at(0), at(1), at(10), at(50), at(45)])
    events = sessionised(raw)
    assert events["user_id"].tolist() == ["a", "a", "a", "b", "b"]
    assert events["timestamp"].tolist() == [at(0), at(10), at(45), at(1), at(50)]
    assert events["session_id"].tolist() == ["a-s1", "a-s1", "a-s2", "b-s1", "b-s2"]


def test_a_new_user_starts_a_session_even_within_the_gap():
    assert _ids(_events(["a", "b"], [at(0), at(1)])) == ["a-s1", "b-s1"]


def test_source_session_ids_are_kept_and_derived_ids_fill_only_nulls():
    events = _events(["a", "a", "a", "a", "b"], [at(0), at(30), at(35), at(120), at(0)],
                     session_id=["X", None, None, "Y", None])  # fmt: skip
    assert _ids(events) == ["X", "a-s2", "a-s2", "Y", "b-s1"]


def test_all_null_source_session_ids_are_all_derived():
    events = _events(["a", "a"], [at(0), at(45)], session_id=pd.Series([None, None], dtype=object))
    assert _ids(events) == ["a-s1", "a-s2"]


def test_shuffled_input_gives_the_same_sessions():
    users = ["a", "a", "a", "b", "b", "b", "c"]
    times = [at(0), at(29), at(59), at(5), at(35), at(36), at(7)]
    ordered = _events(users, times, tag=range(7))
    shuffled = ordered.iloc[[6, 2, 4, 0, 5, 1, 3]].reset_index(drop=True)
    result = sessionised(shuffled)
    assert result["tag"].tolist() == list(range(7))  # back in user, time order
    by_tag = dict(zip(result["tag"], result["session_id"], strict=True))
    assert [by_tag[k] for k in range(7)] == _ids(ordered)
    assert _ids(ordered) == ["a-s1", "a-s1", "a-s2", "b-s1", "b-s2", "b-s2", "c-s1"]


def test_ties_in_time_keep_input_order():
    events = _events(
        ["b", "a", "a", "a"], [at(0), at(5), at(1), at(5)], tag=["b", "x", "first", "y"]
    )
    result = sessionised(events)
    assert result["tag"].tolist() == ["first", "x", "y", "b"]
    assert result["pos"].tolist() == [2, 1, 3, 0]


def test_events_at_one_moment_share_a_session_whatever_their_order():
    events = _events(["a"] * 3, [at(0), at(0), at(0)], tag=["p", "q", "r"])
    result = sessionised(events)
    assert result["tag"].tolist() == ["p", "q", "r"]
    assert result["session_id"].tolist() == ["a-s1"] * 3


def test_custom_gap():
    events = _events(["a"] * 3, [at(0), at(10), at(19)])
    assert _ids(events, gap=pd.Timedelta(minutes=10)) == ["a-s1", "a-s2", "a-s2"]


@pytest.mark.parametrize("gap_ns", [0, -5 * 60 * 10**9])
def test_non_positive_gap_raises(gap_ns):
    with pytest.raises(ValueError, match="session gap must be positive"):
        assign_sessions(table(_events(["a"], [at(0)], session_id=None)), gap_ns)


# --- build_sessions ------------------------------------------------------------------------


def _log(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (session_id, user_id, minute, event_type, item_id, price, quantity, device)."""
    cols = [
        "session_id",
        "user_id",
        "minute",
        "event_type",
        "item_id",
        "price",
        "quantity",
        "device",
    ]
    frame = pd.DataFrame(rows, columns=cols)
    frame["timestamp"] = [at(m) for m in frame.pop("minute")]
    frame["event_type"] = pd.Categorical(frame["event_type"], categories=list(EVENT_TYPES))
    frame["price"] = frame["price"].astype(float)
    frame["quantity"] = frame["quantity"].astype(float)
    return frame


SORTED_LOG = _log([
    ("a-s1", "a", 0, "view", "i1", 10.0, None, "mobile"),
    ("a-s1", "a", 2, "view", "i1", 10.0, None, "desktop"),
    ("a-s1", "a", 5, "add_to_cart", "i1", 10.0, 2, "mobile"),
    ("a-s1", "a", 9, "purchase", "i1", 10.0, 2, "mobile"),
    ("a-s1", "a", 10, "purchase", "i2", 4.5, None, "mobile"),
    ("a-s2", "a", 100, "search", None, None, None, "tablet"),
    ("b-s1", "b", 3, "click", "i3", None, None, "desktop"),
])  # fmt: skip


def _row(sessions: pd.DataFrame, session_id: str) -> pd.Series:
    match = sessions.loc[sessions["session_id"] == session_id]
    assert len(match) == 1
    return match.iloc[0]


def test_build_sessions_times_and_counts():
    sessions = sessions_table(SORTED_LOG)
    assert sessions["session_id"].tolist() == ["a-s1", "a-s2", "b-s1"]
    assert sessions["user_id"].tolist() == ["a", "a", "b"]
    assert sessions["start"].tolist() == [at(0), at(100), at(3)]
    assert sessions["end"].tolist() == [at(10), at(100), at(3)]
    assert sessions["duration_seconds"].tolist() == [600.0, 0.0, 0.0]
    assert sessions["n_events"].tolist() == [5, 1, 1]


def test_build_sessions_counts_per_event_type():
    sessions = sessions_table(SORTED_LOG)
    counts = sessions[[f"n_{t}" for t in EVENT_TYPES]].to_numpy().tolist()
    #           view click scroll search add rem purchase rate
    assert counts == [
        [2, 0, 0, 0, 1, 0, 2, 0],
        [0, 0, 0, 1, 0, 0, 0, 0],
        [0, 1, 0, 0, 0, 0, 0, 0],
    ]


def test_build_sessions_counts_distinct_items():
    assert sessions_table(SORTED_LOG)["n_items"].tolist() == [2, 0, 1]


def test_revenue_is_price_times_quantity_of_purchases_missing_quantity_counts_as_one():
    # a-s1: 10.0 * 2 + 4.5 * 1; views and the add_to_cart have prices but are not revenue
    assert sessions_table(SORTED_LOG)["revenue"].tolist() == [24.5, 0.0, 0.0]


def test_purchase_without_price_adds_no_revenue():
    log = _log(
        [
            ("s", "u", 0, "purchase", "i", None, 3, "web"),
            ("s", "u", 1, "purchase", "i", 2.0, 3, "web"),
        ]
    )
    assert sessions_table(log)["revenue"].tolist() == [6.0]


def test_device_is_the_first_events_device():
    assert sessions_table(SORTED_LOG)["device"].tolist() == ["mobile", "tablet", "desktop"]


def test_non_contiguous_session_ids_give_the_same_numbers():
    # sessions from a source can interleave in file order (two tabs of one user, two users)
    interleaved = SORTED_LOG.iloc[[0, 6, 5, 1, 2, 3, 4]].reset_index(drop=True)
    got = sessions_table(interleaved)
    assert got["session_id"].tolist() == ["a-s1", "a-s2", "b-s1"]
    pd.testing.assert_frame_equal(got, sessions_table(SORTED_LOG))


def test_interleaved_session_explicit_values():
    log = _log([
        ("x", "u", 0, "view", "i1", None, None, "web"),
        ("y", "u", 1, "purchase", "i9", 3.0, 2, "app"),
        ("x", "u", 20, "purchase", "i2", 5.0, None, "web"),
        ("y", "u", 50, "view", "i8", None, None, "app"),
        ("x", "u", 7, "view", "i1", None, None, "web"),
    ])  # fmt: skip
    sessions = sessions_table(log)
    x, y = _row(sessions, "x"), _row(sessions, "y")
    assert (x["start"], x["end"], x["duration_seconds"]) == (at(0), at(20), 1200.0)
    assert (y["start"], y["end"], y["duration_seconds"]) == (at(1), at(50), 2940.0)
    counts = ["n_events", "n_view", "n_purchase", "n_items", "revenue"]
    assert x[counts].tolist() == [3, 2, 1, 2, 5.0]
    assert y[counts].tolist() == [2, 1, 1, 2, 6.0]
    assert (x["device"], y["device"]) == ("web", "app")


def test_sessions_are_ordered_by_user_then_start():
    log = SORTED_LOG.iloc[[6, 5, 0, 1, 2, 3, 4]].reset_index(drop=True)
    sessions = sessions_table(log)
    assert list(zip(sessions["user_id"], sessions["session_id"], strict=True)) == [
        ("a", "a-s1"), ("a", "a-s2"), ("b", "b-s1")
    ]  # fmt: skip


def test_assign_then_build_single_event_session():
    events = _log(
        [
            (None, "a", 0, "view", "i1", None, None, "web"),
            (None, "a", 45, "click", "i1", None, None, "web"),
        ]
    )
    sessions = sessions_table(events, gap=pd.Timedelta(minutes=30))
    assert sessions["session_id"].tolist() == ["a-s1", "a-s2"]
    assert sessions["n_events"].tolist() == [1, 1]
    assert sessions["duration_seconds"].tolist() == [0.0, 0.0]


def test_build_sessions_of_no_events_is_empty():
    assert len(sessions_table(SORTED_LOG.iloc[:0])) == 0


def test_device_of_events_at_one_moment_is_the_first_reads():
    log = _log([
        ("s", "u", 5, "view", "i1", None, None, "tablet"),
        ("s", "u", 0, "view", "i1", None, None, "app"),
        ("s", "u", 0, "view", "i2", None, None, "web"),
    ])  # fmt: skip
    assert sessions_table(log)["device"].tolist() == ["app"]
