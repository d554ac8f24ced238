"""Unit tests of personalab.ingest.pipeline: process_events on a small dirty log (all steps together)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personalab.core.paths import ProjectPaths
from personalab.ingest.io import run_keeping_quarantine
from personalab.ingest.messages import QuarantineRateError
from personalab.ingest.params import IngestParams
from personalab.ingest.pipeline import process_events
from personalab.ingest.sources import RawEvents
from tests.unit.ingest.bad_inputs import write

# --- process_events ------------------------------------------------------------------------


def _dirty_frame() -> pd.DataFrame:
    """7 rows of two users plus a 41-event bot: one duplicate (e2), one bad row, one late row (e4)."""
    rows = [
        ("e1", "a", "2024-01-01T12:00:00Z", "view", "i1", None),
        ("e2", "a", "2024-01-01T12:05:00Z", "view", "i2", None),
        ("e2", "a", "2024-01-01T12:05:00Z", "view", "i2", None),  # re-sent duplicate
        ("e3", "b", "2024-01-01T14:00:00Z", "view", "i3", None),
        ("e4", "b", "2024-01-01T12:30:00Z", "click", "i3", None),  # 90 min behind 14:00: late
        ("e5", None, "2024-01-01T14:01:00Z", "view", "i1", None),  # missing user
        ("e6", "a", "2024-01-01T14:02:00Z", "purchase", "i2", 5.0),
    ]
    rows += [
        (f"bot{k}", "bot", f"2024-01-01T15:00:{k:02d}Z", "click", "i1", None) for k in range(41)
    ]
    frame = pd.DataFrame(
        rows, columns=["event_id", "user_id", "timestamp", "event_type", "item_id", "price"]
    )
    frame["_file"] = "dirty.csv"
    frame["_row"] = range(len(frame))
    return frame


def _process(frame: pd.DataFrame, **params):
    return process_events(RawEvents(frame=frame, description="dirty.csv"), IngestParams(**params))


def _pick(metrics: dict, *names: str) -> list:
    return [metrics[name] for name in names]


def _accounted(m: dict) -> int:
    return (
        m["rows_valid"] + m["rows_quarantined"] + m["duplicates_removed"] + m["bot_events_removed"]
    )


def test_process_events_keeps_late_events_and_accounts_for_every_row():
    result = _process(_dirty_frame(), late_events="keep")
    m = result.metrics
    assert m["rows_read"] == 48 == _accounted(m)
    assert (m["rows_valid"], m["rows_quarantined"], m["duplicates_removed"]) == (5, 1, 1)
    assert (m["bot_events_removed"], m["bot_users"], m["late_events"]) == (41, 1, 1)
    assert m["late_events_measured"] == 1  # the synthetic format's rows are in arrival order
    assert m["quarantined_missing_user_id"] == 1
    assert result.quarantine["reason"].tolist() == ["missing_user_id"]
    assert sorted(result.events["event_id"]) == ["e1", "e2", "e3", "e4", "e6"]
    assert (m["users"], m["sessions"]) == (2, 4)


def test_process_events_quarantines_late_events():
    result = _process(_dirty_frame(), late_events="quarantine")
    m = result.metrics
    assert m["rows_read"] == 48 == _accounted(m)
    assert (m["rows_valid"], m["rows_quarantined"], m["duplicates_removed"]) == (4, 2, 1)
    late = _pick(m, "late_events", "quarantined_late_event", "quarantined_missing_user_id")
    assert late == [1, 1, 1]
    quarantine = result.quarantine.set_index("row")["reason"].to_dict()
    assert quarantine == {4: "late_event", 5: "missing_user_id"}
    assert "e4" not in set(result.events["event_id"])


def test_quarantine_rate_error_names_source_and_top_reasons():
    frame = _dirty_frame()
    frame.loc[1, "user_id"] = None
    frame.loc[3, "price"] = -1.0
    with pytest.raises(QuarantineRateError) as info:
        _process(frame, max_quarantine_rate=0.05)  # 3 of 48 rows = 6.2%
    message = str(info.value)
    assert message.startswith("dirty.csv: 3 of 48 rows (6.2%) failed validation")
    assert "max_quarantine_rate 5.0%" in message
    assert message.endswith("top reasons: missing_user_id (2), negative_price (1)")


def test_process_events_without_event_ids_dedups_by_content():
    frame = _dirty_frame().drop(columns="event_id")
    m = _process(frame).metrics
    removed = _pick(m, "rows_quarantined", "duplicates_removed", "bot_events_removed")
    assert (m["rows_valid"], removed) == (5, [1, 1, 41])


def test_process_events_when_every_user_is_a_bot():
    frame = _dirty_frame().iloc[7:].reset_index(drop=True)
    m = _process(frame).metrics
    assert _pick(m, "rows_read", "rows_valid", "bot_events_removed", "sessions") == [41, 0, 41, 0]


def test_process_events_when_every_row_is_quarantined():
    frame = _dirty_frame().iloc[:3].assign(user_id=None)
    m = _process(frame, max_quarantine_rate=1.0).metrics
    assert (m["rows_read"], m["rows_valid"], m["rows_quarantined"]) == (3, 0, 3)


def test_process_events_sessions_table_matches_events():
    result = _process(_dirty_frame())
    sessions = result.sessions
    assert sessions["n_events"].sum() == len(result.events)
    assert sessions["session_id"].tolist() == ["a-s1", "a-s2", "b-s1", "b-s2"]
    assert sessions["revenue"].tolist() == [0.0, 5.0, 0.0, 0.0]
    assert not np.isnan(sessions["duration_seconds"]).any()


def test_without_arrival_order_late_events_are_not_measured():
    params = {"source": {"format": "csv"}}
    m = process_events(
        RawEvents(frame=_dirty_frame(), description="dirty.csv"), IngestParams(**params)
    ).metrics
    assert m["late_events_measured"] == 0 and "late_events" not in m
    assert m["rows_read"] == 48 == _accounted(m)


def test_conflicting_event_ids_are_quarantined_not_deduplicated():
    frame = _dirty_frame()
    frame.loc[2, "item_id"] = "i9"  # the re-send of e2 now names another item
    result = _process(frame, max_quarantine_rate=1.0)
    m = result.metrics
    assert m["rows_read"] == 48 == _accounted(m)
    assert (m["duplicates_removed"], m["quarantined_conflicting_event_id"]) == (0, 2)
    assert "e2" not in set(result.events["event_id"])


# --- a quarantine-rate stop keeps the rejected rows ----------------------------------------


def test_a_quarantine_rate_stop_writes_the_quarantine_it_names(tmp_path):
    content = "user_id,timestamp,event_type,item_id\n" + "".join(
        f"{user},2024-01-01T12:0{k}:00Z,{kind},i1\n"
        for k, (user, kind) in enumerate([("u1", "view"), ("", "view"), ("u2", "hover")])
    )
    path = write(tmp_path, "events.csv", content)
    params = IngestParams.from_mapping({"source": {"format": "csv", "path": str(path)}})
    with pytest.raises(QuarantineRateError) as info:
        run_keeping_quarantine(params, ProjectPaths(root=tmp_path))
    message = str(info.value)
    assert "2 of 3 rows (66.7%) failed validation" in message
    assert message.endswith(
        "the 2 rejected rows (file, row, reason) are in data/interim/quarantine.parquet"
    )
    written = pd.read_parquet(tmp_path / "data" / "interim" / "quarantine.parquet")
    assert written[["file", "row", "reason"]].values.tolist() == [
        ["events.csv", 1, "missing_user_id"],
        ["events.csv", 2, "unknown_event_type"],
    ]
    assert info.value.quarantine.equals(written)


def test_a_run_that_completes_writes_no_quarantine_early(tmp_path):
    path = write(
        tmp_path, "events.csv", "user_id,timestamp,event_type,item_id\nu1,2024-01-01,view,i1\n"
    )
    params = IngestParams.from_mapping({"source": {"format": "csv", "path": str(path)}})
    result = run_keeping_quarantine(params, ProjectPaths(root=tmp_path))
    assert result.metrics["rows_valid"] == 1
    assert not (tmp_path / "data" / "interim" / "quarantine.parquet").exists()  # save_ingest's job


def test_a_log_without_item_ids_keeps_its_item_events_and_says_so():
    """A page-level clickstream names no items: its views and purchases are events all the
    same (only a log with item ids quarantines an item event without one)."""
    frame = _dirty_frame().drop(columns="item_id")
    frame = frame[frame["user_id"].notna()]  # the missing user is the one bad row left
    result = _process(frame, source={"format": "csv"})
    m = result.metrics
    assert m["rows_quarantined"] == 0 and m["rows_valid"] + m["duplicates_removed"] == 6
    assert result.events["item_id"].isna().all()
    assert any("the log has no item ids" in note for note in result.notes)

    with_items = _dirty_frame()
    with_items.loc[0, "item_id"] = None  # one item event without its item, in a log with items
    result = _process(with_items, source={"format": "csv"})
    assert result.quarantine["reason"].tolist() == ["missing_item_id", "missing_user_id"]
    assert not any("no item ids" in note for note in result.notes)


def _twice(times: list[str]) -> pd.DataFrame:
    """Views without event ids, each row twice, at ``times``."""
    rows = [("a", t, "view", "i1") for t in times for _ in range(2)]
    frame = pd.DataFrame(rows, columns=["user_id", "timestamp", "event_type", "item_id"])
    frame["_file"], frame["_row"] = "log.csv", range(len(frame))
    return frame


def test_identical_rows_of_a_log_of_dates_are_separate_events():
    """Two views of an item on one day are two events in a log of dates, but a re-send in a
    log timed to the second."""
    days = _process(_twice(["2024-01-01", "2024-01-02"]), source={"format": "csv"})
    assert days.metrics["rows_valid"] == 4 and days.metrics["duplicates_removed"] == 0
    assert any("whole quarter-hour or coarser" in note for note in days.notes)
    assert days.events["event_id"].nunique() == 4
    seconds = _process(
        _twice(["2024-01-01T10:00:01Z", "2024-01-02T09:15:00Z"]), source={"format": "csv"}
    )
    assert seconds.metrics["rows_valid"] == 2 and seconds.metrics["duplicates_removed"] == 2
    assert not any("quarter-hour" in note or "whole minute" in note for note in seconds.notes)
    # whole minutes: still taken as re-sends, and the note says what was removed and the doubt
    minutes = _process(
        _twice(["2024-01-01T10:01:00Z", "2024-01-02T09:14:00Z"]), source={"format": "csv"}
    )
    assert minutes.metrics["duplicates_removed"] == 2
    (note,) = [n for n in minutes.notes if n.startswith("duplicates:")]
    assert note.startswith("duplicates: 2 rows identical to an earlier one")
    assert "every timestamp is a whole minute, so some may be separate events" in note
