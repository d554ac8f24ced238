"""A request's live events: checked, put in time order and sessionised, as a
:class:`~personalab.online.history.History` to append to the user's stored one.

Each live event is an object with ``timestamp`` (ISO 8601; UTC when it names no zone) and
``event_type`` (a canonical type: :data:`personalab.ingest.events.EVENT_TYPES`), and any of
``session_id``, ``item_id``, ``category``, ``device`` (strings) and ``price``, ``quantity``,
``dwell_seconds``, ``scroll_depth`` (numbers). An event without ``session_id`` continues the
session of the event before it (stored or live) when it comes less than the ingest stage's
``session_gap_minutes`` after it, else starts one (``<user_id>-live<N>``), as the ingest stage
sessionises a log without session ids.

Live events must come at or after the store's instant ``S`` (the end of the log it was built
from): earlier ones belong in the log. Anything else wrong names the event (counted from 0) and
the key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from personalab.core.errors import InputError
from personalab.ingest.events import EVENT_TYPES
from personalab.online.history import FLOATS, STRINGS, History

FIELDS = ("timestamp", "event_type", *[s for s in STRINGS if s != "event_type"], *FLOATS)


_FRACTION = re.compile(r"[.,](\d+)")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


class LiveEventError(InputError, ValueError):
    """A request's live events cannot be read."""


def instant(value: Any, what: str) -> int:
    """An ISO 8601 time as UTC nanoseconds (naive: UTC). Read by the standard library when it
    can hold the value whole (at most microseconds), else by pandas (nanoseconds)."""
    if not isinstance(value, str):
        raise LiveEventError(f"{what} must be an ISO 8601 time string, got {value!r}")
    fraction = _FRACTION.search(value)
    if fraction is None or len(fraction.group(1)) <= 6:
        try:
            stamp = datetime.fromisoformat(value)
        except ValueError:
            pass  # pandas reads more forms, and says why not
        else:
            stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp
            return (stamp - EPOCH) // MICROSECOND * 1000
    try:
        stamp = pd.Timestamp(value)
    except ValueError:
        raise LiveEventError(f"{what} is not an ISO 8601 time: {value!r}") from None
    if stamp is pd.NaT:
        raise LiveEventError(f"{what} is not a time: {value!r}")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value)


def _text(value: Any, i: int, name: str) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LiveEventError(f"event {i}'s {name} must be a string, got {value!r}")
    return str(value)


def _number(value: Any, i: int, name: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LiveEventError(f"event {i}'s {name} must be a number, got {value!r}")
    return float(value)


#: each optional field and how it is read (the error messages are built only on an error)
_READERS = tuple(
    (name, _number, float) if name in FLOATS else (name, _text, str) for name in FIELDS[2:]
)
_KNOWN = frozenset(FIELDS)


def live_history(
    events: Sequence[Any] | None,
    user_id: str,
    before: History | None,
    as_of_ns: int,
    gap_ns: int,
) -> History:
    """``events`` (a request's list of event objects; None: none) as a :class:`History` in time
    order, with session ids; ``before`` is the user's stored history (None: a visitor the store
    does not know)."""
    if events is None or (isinstance(events, float) and math.isnan(events)):
        return History.empty()
    if isinstance(events, np.ndarray):
        events = events.tolist()
    if not isinstance(events, list | tuple):
        raise LiveEventError(f"events must be a list of event objects, got {type(events).__name__}")
    columns: dict[str, list[Any]] = {name: [] for name in FIELDS}
    for i, event in enumerate(events):
        if not isinstance(event, dict):
            raise LiveEventError(f"event {i} must be an object, got {event!r}")
        if not _KNOWN.issuperset(event):
            unknown = sorted(set(event) - _KNOWN)
            raise LiveEventError(f"event {i} has unknown key(s) {unknown}; known: {list(FIELDS)}")
        for key in ("timestamp", "event_type"):
            if event.get(key) is None:
                raise LiveEventError(f"event {i} has no {key}")
        at = instant(event["timestamp"], f"event {i}'s timestamp")
        if at < as_of_ns:
            raise LiveEventError(
                f"event {i} at {event['timestamp']} is before the store's end "
                f"{pd.Timestamp(as_of_ns, tz='UTC')}: live events come after the log the store "
                "was built from (export the store again to include older events)"
            )
        if event["event_type"] not in EVENT_TYPES:
            raise LiveEventError(
                f"event {i} has event_type {event['event_type']!r}; known: {list(EVENT_TYPES)}"
            )
        columns["timestamp"].append(at)
        columns["event_type"].append(event["event_type"])
        for name, read, plain in _READERS:
            value = event.get(name)
            if value is not None and type(value) is not plain:  # else taken as it is
                value = read(value, i, name)
            columns[name].append(value)
    ns = np.array(columns["timestamp"], dtype=np.int64)
    order = np.argsort(ns, kind="stable")
    live = History(
        ns=ns[order],
        **{name: np.array(columns[name], dtype=object)[order] for name in STRINGS},
        **{name: np.array(columns[name], dtype=float)[order] for name in FLOATS},
    )
    return sessionise(live, user_id, before, gap_ns)


def sessionise(live: History, user_id: str, before: History | None, gap_ns: int) -> History:
    """``live`` with a session id on every event (those given kept)."""
    missing = np.flatnonzero(~(live.session_id != None))  # noqa: E711 (element-wise)
    if not missing.size:
        return live
    sessions = live.session_id.copy()
    taken = set(before.session_id.tolist()) if before is not None else set()
    taken |= set(sessions[sessions != None].tolist())  # noqa: E711
    previous_ns = before.last_ns if before is not None and len(before) else None
    previous = before.session_id[-1] if previous_ns is not None else None
    count = 0
    for i in range(live.ns.size):
        if sessions[i] is None:
            if previous_ns is None or live.ns[i] - previous_ns >= gap_ns or previous is None:
                count += 1
                while f"{user_id}-live{count}" in taken:
                    count += 1
                previous = f"{user_id}-live{count}"
            sessions[i] = previous
        previous, previous_ns = sessions[i], int(live.ns[i])
    return History(**{**live.__dict__, "session_id": sessions})
