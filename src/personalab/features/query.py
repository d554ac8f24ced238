"""The events on an engine, as every feature query reads them.

The events table on the engine holds :data:`EVENT_COLUMNS`: the canonical columns the features
read, categoricals as strings, missing floats as null, and ``ns``, the event time as int64
nanoseconds since the epoch (exact on DuckDB and Spark: the events are at most microsecond
precise).
"""

from __future__ import annotations

import ibis
import pandas as pd

from personalab.engine import Engine

#: the columns of the events table on the engine
EVENT_COLUMNS = (
    "user_id",
    "session_id",
    "ns",
    "event_type",
    "item_id",
    "category",
    "price",
    "quantity",
    "dwell_seconds",
    "scroll_depth",
    "device",
)
_STRINGS = ("user_id", "session_id", "event_type", "item_id", "category", "device")


def events_on(engine: Engine, events: pd.DataFrame) -> ibis.Table:
    """The canonical ``events`` (the ingest stage's table) on ``engine``, as :data:`EVENT_COLUMNS`."""
    frame = pd.DataFrame(
        {
            name: events[name].astype("str") if name in _STRINGS else events[name]
            for name in EVENT_COLUMNS
            if name != "ns"
        }
    )
    frame.insert(2, "ns", events["timestamp"].to_numpy(dtype="datetime64[ns]").view("int64"))
    return engine.table(frame)


def before(events: ibis.Table, t_ns: int) -> ibis.Table:
    """The events before the cut-off ``t_ns`` (every feature at ``T`` reads only these)."""
    return events.filter(events.ns < t_ns)
