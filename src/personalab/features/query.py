"""The events on an engine, as every feature query reads them, and the few whole-log figures the
plan reads of them.

The events table on the engine holds :data:`EVENT_COLUMNS`: the canonical columns the features
read, categoricals as strings, missing floats as null, and ``ns``, the event time as int64
nanoseconds since the epoch (exact on DuckDB and Spark: the events are at most microsecond
precise).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import ibis
import pandas as pd
import pyarrow.parquet as pq

from personalab.engine import Engine, connect

DAY_NS = 86_400 * 10**9
HOUR_NS = 3_600 * 10**9

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
    "rating",
    "device",
    "channel",
)
_STRINGS = ("user_id", "session_id", "event_type", "item_id", "category", "device", "channel")


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


def events_from_parquet(engine: Engine, path: Path) -> ibis.Table:
    """The ingest stage's events file read by the engine itself (out of core on DuckDB), as
    :data:`EVENT_COLUMNS`. A column with no values at all (stored without a type, e.g. in a file
    with no rows) reads as nulls of its type; a missing one is a :class:`KeyError` naming it."""
    names = pq.read_schema(path).names
    missing = [c for c in (*EVENT_COLUMNS, "timestamp") if c != "ns" and c not in names]
    if missing:
        raise KeyError(f"{path} lacks the column(s) {missing} of the ingest stage's events")
    sql = _SQL[engine.name]
    columns = {
        name: sql["ns"] if name == "ns" else sql["cast"].format(name, sql[_TYPES[name]])
        for name in EVENT_COLUMNS
    }
    return engine.read_parquet(path, columns)


#: the SQL that reads each column of the events file, in each engine's dialect
_SQL = {
    "duckdb": {
        "ns": 'epoch_ns("timestamp")',
        "cast": 'CAST("{}" AS {})',
        "string": "VARCHAR",
        "float64": "DOUBLE",
    },
    "spark": {
        "ns": "unix_micros(`timestamp`) * 1000",
        "cast": "CAST(`{}` AS {})",
        "string": "STRING",
        "float64": "DOUBLE",
    },
}
_TYPES = {name: "string" for name in _STRINGS} | {
    name: "float64" for name in ("price", "quantity", "dwell_seconds", "scroll_depth", "rating")
}


def exact_sum(values: ibis.NumericValue, where: ibis.BooleanValue | None = None):
    """The sum of float ``values`` (where ``where`` holds) as float64, added in exact decimal
    arithmetic (12 digits after the point): the same bytes on every run and engine. A float
    sum depends on the order rows are added in, which parallel engines do not fix."""
    return values.cast(EXACT).sum(where=where).cast("float64")


#: the decimal type of :func:`exact_sum` (26 digits before the point, 12 after)
EXACT = "decimal(38, 12)"


def before(events: ibis.Table, t_ns: int) -> ibis.Table:
    """The events before the cut-off ``t_ns`` (every feature at ``T`` reads only these)."""
    return events.filter(events.ns < t_ns)


@dataclass
class Events:
    """The events on an engine (:data:`EVENT_COLUMNS`), and the whole-log figures the plan reads."""

    engine: Engine
    table: ibis.Table

    def span(self) -> tuple[int, pd.Timestamp | None, pd.Timestamp | None]:
        """Rows, first and last event time."""
        t = self.table
        row = self.engine.fetch(t.aggregate(rows=t.count(), first=t.ns.min(), last=t.ns.max()))
        rows, first, last = (row.iloc[0][c] for c in ("rows", "first", "last"))
        if not rows:
            return 0, None, None
        return int(rows), _stamp(first), _stamp(last)

    def time_quantile(self, q: float) -> pd.Timestamp:
        """The ``q`` quantile of the event times (linear between the two nearest, as pandas).
        The engine returns the smallest ``q`` share of times, sorted (a top-k, no offset)."""
        t = self.table.select(ns=self.table.ns)
        rows = self.engine.scalar(t.count())
        position = q * (rows - 1)
        low = int(position)
        smallest = self.engine.fetch(t.order_by(t.ns).limit(low + 2), order_by=["ns"])["ns"]
        pair = smallest.iloc[low : low + 2].tolist()
        upper = pair[1] if len(pair) > 1 else pair[0]
        return _stamp(pair[0] + round((upper - pair[0]) * (position - low)))

    def count_before(self, t_ns: int) -> int:
        return int(self.engine.scalar(before(self.table, t_ns).count()))

    def value_counts_before(self, column: str, t_ns: int) -> dict[str, int]:
        """How often each known value of ``column`` occurs before ``t_ns``."""
        seen = before(self.table, t_ns)
        seen = seen.filter(seen[column].notnull())
        counts = self.engine.fetch(seen.group_by(column).aggregate(n=seen.count()), [column])
        return dict(zip(counts[column].astype(str), counts["n"].astype(int), strict=True))


def _stamp(ns) -> pd.Timestamp:
    """A UTC time; in microseconds when it is a whole number of them, as the ingest stage's
    events are (so the cut-offs derived from it are too)."""
    stamp = pd.Timestamp(int(ns), unit="ns", tz="UTC")
    return stamp.as_unit("us") if int(ns) % 1000 == 0 else stamp


@contextmanager
def on_engine(events: pd.DataFrame | Events, engine: Engine | None = None) -> Iterator[Events]:
    """``events`` on an engine: as given when they already are; a frame moves to ``engine``
    (None: an in-memory DuckDB, closed on exit)."""
    if isinstance(events, Events):
        yield events
        return
    own = engine is None
    engine = connect() if own else engine
    try:
        yield Events(engine, events_on(engine, events))
    finally:
        if own:
            engine.close()
