"""Unit tests of personalab.ingest.duplicates: duplicate ids, ids for rows without one, ids
reused for different events.

The rules are Ibis expressions; :mod:`tests.unit.ingest.engine_rows` runs them on DuckDB over
the frames built here (``pos`` is the row's place in the frame: the order read).
"""

from __future__ import annotations

import pandas as pd
import pytest

from personalab.ingest.events import parse_events
from tests.unit.ingest.bad_inputs import assert_accounted, ingest, reasons, write
from tests.unit.ingest.engine_rows import conflicts, content_ids, duplicates
from tests.unit.ingest.event_rows import CLEAN, _raw

# --- duplicates and ids --------------------------------------------------------------------


def _ids(*ids) -> pd.DataFrame:
    return pd.DataFrame({"event_id": list(ids)})


def test_duplicates_keep_first_arrival():
    assert duplicates(_ids("a", "a", "a")) == [False, True, True]


def test_duplicates_with_interleaved_repeats():
    got = duplicates(_ids("a", "b", "a", "c", "b", "a", "d"))
    assert got == [False, False, True, False, True, True, False]


def test_duplicates_without_repeats():
    assert duplicates(_ids("z", "y", "x")) == [False, False, False]


def _parsed_frame(rows: list[dict]) -> pd.DataFrame:
    return parse_events(_raw(rows)).frame


def test_rows_without_ids_get_the_position_of_the_first_row_of_their_content():
    frame = _parsed_frame([{**CLEAN, "user_id": "u2"}, CLEAN, {**CLEAN, "user_id": "u2"}, CLEAN])
    assert content_ids(frame) == ["row-0", "row-1", "row-0", "row-1"]


def test_content_ids_equal_for_identical_content():
    ids = content_ids(_parsed_frame([CLEAN, {**CLEAN, "dwell_seconds": 99.0}, CLEAN]))
    assert ids == ["row-0"] * 3  # dwell is not part of the content


def test_source_ids_are_kept_and_only_missing_ids_are_filled():
    frame = _parsed_frame([{**CLEAN, "event_id": "e1"}, CLEAN, {**CLEAN, "event_id": "e2"}, CLEAN])
    assert content_ids(frame) == ["e1", "row-0", "e2", "row-0"]
    # a row with an id is not a re-send of an identical row without one, nor the reverse
    assert duplicates(frame) == [False, False, False, True]


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
    ids = content_ids(
        _parsed_frame([{**CLEAN, "session_id": "s1"}, {**CLEAN, "session_id": "s1", **change}])
    )
    assert ids == ["row-0", "row-1"]


def test_missing_values_are_content_too():
    rows = [{**CLEAN, "price": None}, {**CLEAN, "price": None}, CLEAN, {**CLEAN, "item_id": None}]
    assert content_ids(_parsed_frame(rows)) == ["row-0", "row-0", "row-2", "row-3"]


def test_rows_without_ids_count_as_re_sends_when_identical():
    rows = [CLEAN, {**CLEAN, "item_id": "i2"}, {**CLEAN, "dwell_seconds": 99.0}, CLEAN]
    assert duplicates(_parsed_frame(rows)) == [False, False, True, True]


# --- event ids reused for different events -------------------------------------------------


def _conflicts(rows: list[dict], positions=None) -> list[bool]:
    return conflicts(_parsed_frame(rows), positions)


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


def test_many_identical_rows_without_ids_are_removed_with_a_warning_naming_event_id(tmp_path):
    # Olist's order items: each unit of a line is a row, identical once mapped
    header = "user_id,timestamp,event_type,item_id,price\n"
    units = ["u1,2017-10-02T10:56:33Z,purchase,p1,10.5"] * 3 + [
        "u2,2017-10-03T08:00:01Z,purchase,p2,4"
    ]
    result = ingest(tmp_path, write(tmp_path, "items.csv", header + "\n".join(units) + "\n"))
    assert_accounted(result)
    assert result.metrics["duplicates_removed"] == 2
    (warning,) = result.warnings
    assert warning.startswith("duplicates: 2 of 4 rows (50%) were removed as re-sent events")
    assert "give each row an event_id" in warning
    from personalab.ingest.report import ingest_status

    assert {"kind": "warning", "message": warning} in ingest_status(result).notes


def test_a_few_identical_rows_or_repeated_ids_raise_no_warning(tmp_path):
    header = "user_id,timestamp,event_type,item_id\n"
    rows = [f"u1,2017-10-02T10:{m:02d}:00Z,view,p{m}" for m in range(20)]
    result = ingest(tmp_path, write(tmp_path, "a.csv", header + "\n".join([*rows, rows[0]]) + "\n"))
    assert result.metrics["duplicates_removed"] == 1 and result.warnings == []
    ids = "event_id," + header  # re-sent by id: what ids are for
    rows = ["e1,u1,2017-10-02T10:00:00Z,view,p1"] * 5
    result = ingest(tmp_path, write(tmp_path, "b.csv", ids + "\n".join(rows) + "\n"))
    assert result.metrics["duplicates_removed"] == 4 and result.warnings == []
