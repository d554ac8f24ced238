"""Run the ingest rules (Ibis expressions) on hand-made pandas frames, on one in-process DuckDB.

The tests build frames as before (``user_id``, ``timestamp``, ...); :func:`engine_frame` turns
one into the rows the engine takes, as the pipeline does: ``ns`` (epoch ns of ``timestamp``,
null where it is missing) and ``pos`` (0..n-1 in the frame's order: the order read). Ids keep
their nulls. The helpers fetch results in a fixed order: sessions in ``EVENT_ORDER``, per-row
verdicts in ``pos`` order.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from personalab.engine import Engine, connect
from personalab.ingest.bots import BotRules, bot_users, rules_text
from personalab.ingest.duplicates import conflicting_ids, duplicate_positions, with_content_ids
from personalab.ingest.events import ID_COLUMNS
from personalab.ingest.sessions import DEFAULT_GAP_NS, EVENT_ORDER, assign_sessions, build_sessions
from personalab.ingest.validation import epoch_ns, late_positions


@functools.cache
def engine() -> Engine:
    """One DuckDB engine for the test session (closed with the process)."""
    return connect()


def _ns(value: pd.Timedelta | int) -> int:
    return value.value if isinstance(value, pd.Timedelta) else int(value)


def engine_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as the engine takes it: ``timestamp`` replaced by ``ns``, ``pos`` added, id
    columns as strings (nulls stay null, as parsed ids are)."""
    out = frame.reset_index(drop=True).copy()
    if "timestamp" in out:
        out["ns"] = epoch_ns(out.pop("timestamp")).to_numpy()
    out["pos"] = np.arange(len(out), dtype=np.int64)
    for name in ID_COLUMNS:
        if name in out:
            out[name] = out[name].astype("str")
    return out


def table(frame: pd.DataFrame):
    """An Ibis table of :func:`engine_frame` of ``frame``."""
    return engine().table(engine_frame(frame))


def _timestamps(ns: pd.Series) -> pd.Series:
    return pd.Series(pd.to_datetime(ns.to_numpy(dtype="int64"), unit="ns", utc=True))


# --- sessions ------------------------------------------------------------------------------


def sessionised(frame: pd.DataFrame, gap: pd.Timedelta | int = DEFAULT_GAP_NS) -> pd.DataFrame:
    """``frame``'s rows with ``session_id`` from :func:`assign_sessions`, in ``EVENT_ORDER``
    order (``timestamp`` back from ``ns``)."""
    rows = table(frame if "session_id" in frame else frame.assign(session_id=None))
    out = engine().fetch(assign_sessions(rows, _ns(gap)), order_by=list(EVENT_ORDER))
    out["timestamp"] = _timestamps(out["ns"])
    return out


def sessionise(frame: pd.DataFrame, gap: pd.Timedelta | int = DEFAULT_GAP_NS) -> list[str]:
    """The session id of each event, in ``EVENT_ORDER`` order (user, time, read order)."""
    return sessionised(frame, gap)["session_id"].tolist()


def sessions_table(frame: pd.DataFrame, gap: pd.Timedelta | int | None = None) -> pd.DataFrame:
    """:func:`build_sessions` of ``frame`` (after :func:`assign_sessions` with ``gap`` when one
    is given), ordered by user, start, first event; ``start`` and ``end`` as UTC timestamps."""
    rows = table(frame)
    if gap is not None:
        rows = assign_sessions(rows, _ns(gap))
    out = engine().fetch(build_sessions(rows), order_by=["user_id", "start", "first_pos"])
    for name in ("start", "end"):
        out[name] = _timestamps(out[name])
    return out.drop(columns="first_pos")


# --- bots ----------------------------------------------------------------------------------


def find_bots(frame: pd.DataFrame, rules: BotRules | None = None) -> pd.DataFrame:
    """The users a rule flags (by user id), their statistics and a ``rules`` text."""
    flagged = bot_users(table(frame), rules or BotRules())
    return rules_text(engine().fetch(flagged, order_by=["user_id"]))


# --- duplicates and ids --------------------------------------------------------------------


def content_ids(frame: pd.DataFrame) -> list[str]:
    """``event_id`` per row after :func:`with_content_ids`, in ``pos`` order."""
    rows = table(frame if "event_id" in frame else frame.assign(event_id=None))
    return engine().fetch(with_content_ids(rows), order_by=["pos"])["event_id"].tolist()


def duplicates(frame: pd.DataFrame) -> list[bool]:
    """``duplicate`` per row (content ids first, as the pipeline does), in ``pos`` order."""
    rows = table(frame if "event_id" in frame else frame.assign(event_id=None))
    repeats = set(engine().fetch(duplicate_positions(with_content_ids(rows)))["pos"])
    return [pos in repeats for pos in range(len(frame))]


def conflicts(frame: pd.DataFrame, positions=None) -> list[bool]:
    """Per row of ``positions`` (all rows by default), in ``pos`` order: whether its
    ``event_id`` is one :func:`conflicting_ids` finds among those rows."""
    rows = table(frame)
    if positions is not None:
        rows = rows.filter(rows.pos.isin([int(p) for p in positions]))
    found = conflicting_ids(rows).mutate(conflict=True)
    joined = rows.left_join(found, "event_id").drop("event_id_right")
    out = engine().fetch(joined.select("pos", "conflict"), order_by=["pos"])
    return out["conflict"].fillna(False).astype(bool).tolist()


# --- late arrivals -------------------------------------------------------------------------


def late(
    timestamps: pd.Series, lateness: pd.Timedelta | int, arrival: pd.Series | None = None
) -> list[bool]:
    """:func:`late_positions` per row (true: late), in ``pos`` order (the order of
    ``timestamps``); rows arrive in that order, or in ``arrival`` order when given (null:
    arrival unknown). The answer is the same in blocks of any size (checked here for blocks of
    1 and 2 rows, or 1 and 7 minutes of arrival time, against the default)."""
    frame = pd.DataFrame({"timestamp": timestamps.reset_index(drop=True)})
    if arrival is not None:
        frame["arrival_ns"] = epoch_ns(arrival.reset_index(drop=True)).to_numpy()
    rows = table(frame)
    by_arrival = arrival is not None
    blocks = [60 * 10**9, 7 * 60 * 10**9] if by_arrival else [1, 2]
    answers = []
    for block in [None, *blocks]:
        found = late_positions(rows, _ns(lateness), by_arrival, block)
        found = set(engine().fetch(found)["pos"])
        answers.append([pos in found for pos in range(len(frame))])
    assert all(answer == answers[0] for answer in answers), answers
    return answers[0]
