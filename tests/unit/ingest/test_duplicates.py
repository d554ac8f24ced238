"""Unit tests of personalab.ingest.duplicates: duplicate ids, content ids, hex formatting."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from personalab.ingest.duplicates import (
    conflicting_ids,
    content_event_ids,
    duplicated_ids,
    hex64,
)
from personalab.ingest.events import parse_events
from tests.unit.ingest.bad_inputs import assert_accounted, ingest, reasons, write
from tests.unit.ingest.event_rows import CLEAN, _raw

# --- duplicates and ids --------------------------------------------------------------------


def test_duplicated_ids_keep_first_arrival():
    assert duplicated_ids(pd.Series(["a", "a", "a"])).tolist() == [False, True, True]


def test_duplicated_ids_with_interleaved_repeats():
    ids = pd.Series(["a", "b", "a", "c", "b", "a", "d"])
    assert duplicated_ids(ids).tolist() == [False, False, True, False, True, True, False]


def test_duplicated_ids_without_repeats():
    assert duplicated_ids(pd.Series(["z", "y", "x"])).tolist() == [False, False, False]


def _parsed_frame(rows: list[dict]) -> pd.DataFrame:
    return parse_events(_raw(rows)).frame


def test_content_ids_are_16_hex_chars_and_deterministic():
    frame = _parsed_frame([CLEAN, {**CLEAN, "user_id": "u2"}])
    first = content_event_ids(frame)
    assert all(re.fullmatch(r"[0-9a-f]{16}", v) for v in first)
    assert content_event_ids(frame.copy()).tolist() == first.tolist()


def test_content_ids_equal_for_identical_content():
    ids = content_event_ids(_parsed_frame([CLEAN, {**CLEAN, "dwell_seconds": 99.0}, CLEAN]))
    assert ids.iloc[0] == ids.iloc[1] == ids.iloc[2]  # dwell is not part of the content


@pytest.mark.parametrize(
    "change",
    [
        {"user_id": "u2"},
        {"session_id": "s9"},
        {"timestamp": "2024-01-01T12:00:01Z"},
        {"event_type": "click"},
        {"item_id": "i2"},
        {"price": 9.51},
        {"quantity": 2.0},
        {"rating": 4.0},
    ],
)
def test_content_ids_differ_when_any_field_differs(change):
    ids = content_event_ids(
        _parsed_frame([{**CLEAN, "session_id": "s1"}, {**CLEAN, "session_id": "s1", **change}])
    )
    assert ids.iloc[0] != ids.iloc[1]


_RANDOM = np.random.default_rng(7).integers(0, 2**64 - 1, size=50, dtype=np.uint64, endpoint=True)


@pytest.mark.parametrize("value", [0, 1, 15, 16, 2**63, 2**64 - 1, 0x0123456789ABCDEF])
def test_hex64_edge_values(value):
    assert hex64(np.array([value], dtype=np.uint64)).tolist() == [format(value, "016x")]


def test_hex64_random_values():
    assert hex64(_RANDOM).tolist() == [format(int(v), "016x") for v in _RANDOM]


# --- event ids reused for different events -------------------------------------------------


def _conflicts(rows: list[dict], positions=None) -> list[bool]:
    frame = _parsed_frame(rows)
    rows_ = np.arange(len(frame)) if positions is None else np.asarray(positions)
    return conflicting_ids(frame, rows_).tolist()


def test_same_id_with_other_content_conflicts_every_row_of_that_id():
    rows = [
        {**CLEAN, "event_id": "e1"},
        {**CLEAN, "event_id": "e2"},
        {**CLEAN, "event_id": "e1", "item_id": "i9"},
        {**CLEAN, "event_id": "e1"},
    ]
    assert _conflicts(rows) == [True, False, True, True]


def test_same_id_with_the_same_content_is_no_conflict():
    rows = [{**CLEAN, "event_id": "e1"}, {**CLEAN, "event_id": "e1", "dwell_seconds": 8.0}]
    assert _conflicts(rows) == [False, False]  # dwell is not content: an updated re-send


def test_conflicts_are_looked_for_among_the_given_rows_only():
    rows = [{**CLEAN, "event_id": "e1"}, {**CLEAN, "event_id": "e1", "price": -1.0}]
    assert _conflicts(rows, positions=[0]) == [False]


def test_rows_without_ids_never_conflict():
    rows = [{**CLEAN, "event_id": None}, {**CLEAN, "event_id": None, "item_id": "i9"}]
    assert _conflicts(rows) == [False, False]


_HEADER = "event_id,user_id,timestamp,event_type,item_id,price\n"


@pytest.mark.parametrize(
    ("lines", "want", "duplicates", "valid_ids"),
    [
        # an id reused for another item: neither row can be trusted
        (["e1,u1,2024-01-01T12:00:00Z,view,i1,", "e1,u1,2024-01-01T12:00:00Z,view,i2,"],
         {"conflicting_event_id": 2}, 0, []),
        # re-sent: same id, same content
        (["e1,u1,2024-01-01T12:00:00Z,view,i1,", "e1,u1,2024-01-01T12:00:00Z,view,i1,"],
         {}, 1, ["e1"]),
        # a re-send and a conflicting third row: all three quarantined, no duplicate counted
        (["e1,u1,2024-01-01T12:00:00Z,view,i1,", "e2,u1,2024-01-01T12:01:00Z,view,i1,",
          "e1,u1,2024-01-01T12:00:00Z,view,i1,", "e1,u2,2024-01-01T12:00:00Z,view,i1,"],
         {"conflicting_event_id": 3}, 0, ["e2"]),
        # a copy broken in another way is quarantined for that, and the id is not in conflict
        (["e1,u1,2024-01-01T12:00:00Z,view,i1,5", "e1,u1,2024-01-01T12:00:00Z,view,i1,-5"],
         {"negative_price": 1}, 0, ["e1"]),
    ],
    ids=["conflicting_id", "same_id_same_content", "resend_plus_conflict", "broken_copy"],
)  # fmt: skip
def test_reused_event_ids(tmp_path, lines, want, duplicates, valid_ids):
    path = write(tmp_path, "events.csv", _HEADER + "\n".join(lines) + "\n")
    result = ingest(tmp_path, path)
    assert_accounted(result)
    assert reasons(result) == want
    assert result.metrics["duplicates_removed"] == duplicates
    assert sorted(result.events["event_id"]) == valid_ids
