"""A request's live events: read as the ingest stage reads a log, or refused naming the event
and key; sessionised as the ingest stage sessionises a log without session ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personalab.online.history import History
from personalab.online.live import LiveEventError, live_history

S = pd.Timestamp("2026-03-01 12:00", tz="UTC")
GAP = 30 * 60 * 10**9


def stored(*minutes: float, session: str = "u-s3") -> History:
    """A stored history with events ``minutes`` before ``S``, all in ``session``."""
    ns = np.array([(S - pd.Timedelta(minutes=m)).value for m in minutes], dtype=np.int64)
    n = ns.size
    text = np.full(n, None, dtype=object)
    return History(
        ns=ns,
        session_id=np.full(n, session, dtype=object),
        event_type=np.full(n, "view", dtype=object),
        item_id=text, category=text, device=text,
        price=np.full(n, np.nan), quantity=np.full(n, np.nan),
        dwell_seconds=np.full(n, np.nan), scroll_depth=np.full(n, np.nan),
    )  # fmt: skip


def at(minutes: float) -> str:
    return (S + pd.Timedelta(minutes=minutes)).isoformat()


def test_live_events_are_put_in_time_order_with_their_fields():
    events = [
        {"timestamp": at(5), "event_type": "purchase", "item_id": 7, "price": 20, "quantity": 2},
        {"timestamp": at(1), "event_type": "view", "item_id": "i7", "dwell_seconds": 12.5},
    ]
    h = live_history(events, "u", None, S.value, GAP)
    assert h.event_type.tolist() == ["view", "purchase"]
    assert h.item_id.tolist() == ["i7", "7"]
    assert h.ns.tolist() == [pd.Timestamp(at(1)).value, pd.Timestamp(at(5)).value]
    np.testing.assert_array_equal(h.price, [np.nan, 20.0])
    np.testing.assert_array_equal(h.dwell_seconds, [12.5, np.nan])
    assert h.category.tolist() == [None, None]


def test_a_naive_time_is_utc_and_a_zoned_one_is_converted():
    events = [
        {"timestamp": "2026-03-01T12:01:00", "event_type": "view"},
        {"timestamp": "2026-03-01T14:02:00+02:00", "event_type": "view"},
    ]
    h = live_history(events, "u", None, S.value, GAP)
    assert h.ns.tolist() == [pd.Timestamp(at(1)).value, pd.Timestamp(at(2)).value]


def test_events_without_session_continue_the_last_session_within_the_gap():
    before = stored(20, 10)  # the last stored event 10 minutes before S
    events = [
        {"timestamp": at(15), "event_type": "view"},  # 25 min after it: same session
        {"timestamp": at(50), "event_type": "view"},  # 35 min later: a new one
        {"timestamp": at(60), "event_type": "click"},
        {"timestamp": at(61), "event_type": "click", "session_id": "app-9"},  # given: kept
    ]
    h = live_history(events, "u", before, S.value, GAP)
    assert h.session_id.tolist() == ["u-s3", "u-live1", "u-live1", "app-9"]


def test_a_visitor_without_history_starts_a_session():
    h = live_history([{"timestamp": at(1), "event_type": "view"}], "v", None, S.value, GAP)
    assert h.session_id.tolist() == ["v-live1"]


def test_no_events_is_an_empty_history():
    for nothing in (None, float("nan"), []):
        assert len(live_history(nothing, "u", None, S.value, GAP)) == 0


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ({"timestamp": at(1)}, "events must be a list"),
        (["view"], "event 0 must be an object"),
        ([{"timestamp": at(1), "event_type": "view", "colour": "red"}], r"unknown key\(s\) \['colour'\]"),
        ([{"event_type": "view"}], "event 0 has no timestamp"),
        ([{"timestamp": at(1)}], "event 0 has no event_type"),
        ([{"timestamp": at(1), "event_type": "like"}], "event 0 has event_type 'like'"),
        ([{"timestamp": "yesterday", "event_type": "view"}], "event 0's timestamp is not an ISO 8601"),
        ([{"timestamp": 1772366400, "event_type": "view"}], "must be an ISO 8601 time string"),
        ([{"timestamp": at(-1), "event_type": "view"}], "event 0 at .* is before the store's end"),
        ([{"timestamp": at(1), "event_type": "view", "price": "cheap"}], "event 0's price must be a number"),
        ([{"timestamp": at(1), "event_type": "view"}, {"timestamp": at(2), "event_type": "view", "item_id": [1]}], "event 1's item_id must be a string"),
    ],
)  # fmt: skip
def test_bad_live_events_are_refused_naming_the_event_and_key(events, message):
    with pytest.raises(LiveEventError, match=message):
        live_history(events, "u", None, S.value, GAP)


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-01T12:00:00Z",
        "2026-03-01T12:00:00+05:30",
        "2026-03-01 12:00:00.123456",
        "2026-03-01T12:00:00,25Z",
        "2026-03-01",
        "1969-12-31T23:59:59.999999Z",
        "2026-03-01T12:00:00.123456789Z",  # nanoseconds: read by pandas, not truncated
        "2026-03-01T12:00:00.1234567-02:00",
    ],
)
def test_a_live_time_is_the_instant_pandas_reads_to_the_nanosecond(text):
    from personalab.online.live import instant

    stamp = pd.Timestamp(text)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    assert instant(text, "at") == stamp.value
