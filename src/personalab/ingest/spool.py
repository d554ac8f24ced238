"""The spool: the parsed rows in a Parquet file, written batch by batch, which the engine reads.

Parsing is batched so no stage of ingest holds the log twice in memory. What is decided on a
whole column is decided before the batches, in a pass over that column alone: how the
timestamps and arrival times are read (their unit, format: a
:class:`~personalab.ingest.timestamps.Reading`), whose rows they are (the identity, applied to
each batch as it is read: :mod:`personalab.ingest.sources.identity`), and which float
identifier columns are whole numbers (:func:`~personalab.ingest.events.whole_number_ids`).
Each batch is then parsed (:func:`~personalab.ingest.events.parse_batch`) and appended to the
spool with ``pos``, its row's place in the log. Label columns are spooled as text; the
categories the whole column would have had are collected on the way
(:attr:`Spool.categories`) and given back to the events that leave the engine
(:func:`contract_schema`).

Rows come from :func:`raw_batches`: slices of ``raw.frame``, or, for a source read in batches
(:attr:`~personalab.ingest.sources.RawEvents.batches`: a large Parquet file), its own batches,
so no column of such a source is ever held whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from personalab.ingest.events import (
    EVENT_TYPE_DTYPE,
    EVENT_TYPES,
    ID_COLUMNS,
    LABEL_COLUMNS,
    NUMERIC_COLUMNS,
    parse_batch,
    whole_number_ids,
)
from personalab.ingest.profile import read_order
from personalab.ingest.sources import (
    CANONICAL_COLUMNS,
    REJECT_COLUMN,
    RawEvents,
    SourceError,
    batched,
)
from personalab.ingest.timestamps import (
    DayMonthCheck,
    Reading,
    Timestamps,
    UndatedNumbersError,
    apply_reading,
    decide_reading,
)
from personalab.ingest.validation import ARRIVAL_COLUMN, epoch_ns

_TEXT = (*ID_COLUMNS, *LABEL_COLUMNS, "event_type")
#: the spool's columns, as :func:`~personalab.ingest.validation.rule_flags` and the rules that
#: relate rows read them (``ns``: the timestamp in epoch nanoseconds)
SCHEMA = pa.schema(
    [
        ("pos", pa.int64()),
        *((name, pa.string()) for name in _TEXT),
        *((name, pa.float64()) for name in NUMERIC_COLUMNS),
        ("ns", pa.int64()),
        ("bad_number", pa.bool_()),
        ("out_of_range", pa.bool_()),
        ("reject", pa.string()),
    ]
)


@dataclass
class Spool:
    """Where the parsed rows are, how many, and what the whole columns decided."""

    path: Path
    rows: int
    read_as: str  # how the timestamps were read (:class:`~personalab.ingest.timestamps.Timestamps`)
    unit: str  # the parsed timestamps' resolution (s, ms, us, ns), given back to the events
    #: per label column, the sorted categories of the whole column, and their dtype
    categories: dict[str, pd.Index] = field(default_factory=dict)
    arrival: bool = False  # the spool has ``arrival_ns``
    #: event type names read through a synonym (name, type), and names that are no type
    synonyms: frozenset[tuple[str, str]] = frozenset()
    unknown_types: frozenset[str] = frozenset()
    warnings: tuple[str, ...] = ()  # what reading may have got wrong (a day-month swap)


def raw_batches(
    raw: RawEvents, rows: int | None = None, columns: list[str] | None = None
) -> Iterator[pd.DataFrame]:
    """The raw rows in batches (index: the rows' positions), every column as read or the
    ``columns`` named (a source read in batches: in its own batches)."""
    if raw.batches is not None:
        yield from raw.batches(columns)
        return
    rows = rows or batched.BATCH_ROWS
    frame = raw.frame if columns is None else raw.frame[columns]
    for start in range(0, len(frame), rows):
        yield frame.iloc[start : start + rows]


def raw_rows(raw: RawEvents, positions: np.ndarray) -> pd.DataFrame:
    """The raw rows at ``positions`` (sorted), every column as read."""
    if raw.batches is None:
        return raw.frame.iloc[positions]
    parts = list(raw.batches(None, positions))
    return pd.concat(parts) if parts else raw.frame.iloc[:0]


def column_reading(raw: RawEvents, column: str, timezone: str) -> Reading:
    """How ``column`` (timestamps or arrival times) is read: decided on the whole column, in a
    pass over it alone (:func:`~personalab.ingest.timestamps.decide_reading`)."""
    parts = (batch[column] for batch in raw_batches(raw, columns=[column]))
    return decide_reading(parts, raw.timestamp_unit, raw.timestamp_format, timezone)


def spool_events(
    raw: RawEvents,
    reading: Reading,
    arrival: Reading | None,
    timezone: str,
    path: Path,
) -> Spool:
    """Parse ``raw`` batch by batch into the spool at ``path``: timestamps as ``reading`` says
    (decided on the whole column), arrival times (when the log has them) as ``arrival`` says."""
    whole = whole_number_ids(raw.frame) | raw.whole_number_ids
    schema = SCHEMA.append(pa.field("arrival_ns", pa.int64())) if arrival is not None else SCHEMA
    seen: dict[str, set[str]] = {name: set() for name in LABEL_COLUMNS}
    kinds: dict[str, np.dtype] = {}
    units: set[str] = set()
    synonyms: set[tuple[str, str]] = set()
    unknown: set[str] = set()
    day_month = DayMonthCheck(reading, timezone)
    start = 0
    # lz4 without dictionaries or statistics (a file read once): twice as fast to write as
    # with dictionaries, and a third of the bytes of no compression (which is slower still)
    plain = {"compression": "lz4", "use_dictionary": False, "write_statistics": False}
    with pq.ParquetWriter(path, schema, **plain) as file, WriteBehind(file) as writer:
        for batch in read_ahead(raw_batches(raw)):
            stop = start + len(batch)
            stamps = _timestamps(batch, "timestamp", reading, timezone)
            day_month.add(batch["timestamp"], stamps.values)
            if stamps.values.notna().any() or not units:
                units.add(stamps.values.dt.unit)
            parsed = parse_batch(batch, stamps, whole)
            frame = parsed.frame
            synonyms |= parsed.synonyms
            unknown |= parsed.unknown_types
            for name in LABEL_COLUMNS:
                categories = frame[name].cat.categories
                seen[name].update(categories)
                kinds.setdefault(name, categories.dtype)
            reject = batch.get(REJECT_COLUMN)
            # column by column in Arrow (labels decoded there: no pandas string copies)
            columns = {
                "pos": pa.array(np.arange(start, stop, dtype=np.int64)),
                **{name: _arrow(frame[name]) for name in (*_TEXT, *NUMERIC_COLUMNS)},
                "ns": _arrow(epoch_ns(frame["timestamp"])),
                "bad_number": pa.array(parsed.bad_number),
                "out_of_range": pa.array(np.asarray(parsed.out_of_range, dtype=bool)),
                "reject": pa.nulls(stop - start)
                if reject is None
                else _arrow(reject.astype("str")),
            }
            if arrival is not None:
                arrived = _timestamps(batch, ARRIVAL_COLUMN, arrival, timezone)
                columns["arrival_ns"] = _arrow(epoch_ns(arrived.values))
            arrays = [columns[f.name].cast(f.type) for f in schema]
            writer.write(pa.Table.from_arrays(arrays, schema=schema))
            start = stop
    return Spool(
        path=path,
        rows=start,
        read_as=reading.read_as,
        unit=max(units, key=_RESOLUTION.index),  # a log has a row: never empty
        categories={
            name: pd.Index(sorted(seen[name]), dtype=kinds.get(name, "str"))
            for name in LABEL_COLUMNS
        },
        arrival=arrival is not None,
        synonyms=frozenset(synonyms),
        unknown_types=frozenset(unknown),
        warnings=tuple(w for w in [day_month.warning()] if w),
    )


_RESOLUTION = ["s", "ms", "us", "ns"]


def _timestamps(batch: pd.DataFrame, column: str, reading: Reading, timezone: str) -> Timestamps:
    """A batch's ``column`` read as ``reading`` says; a yyyymmdd column with a value that is
    not a date stops naming the value's file and row."""
    try:
        return apply_reading(batch[column], reading, timezone)
    except UndatedNumbersError as err:
        row = batch.iloc[err.position]
        where = f"{row['_file']}: row {row['_row']}" if "_file" in batch else "the log"
        raise SourceError(f"{where}: {err}") from None


def kept_order(spool: Spool, bad: np.ndarray) -> dict[str, Any]:
    """:func:`~personalab.ingest.profile.read_order` of the rows not ``bad``, read from the
    spool's timestamps a batch at a time."""

    def ticks() -> Iterator[np.ndarray]:
        start = 0
        for batch in pq.ParquetFile(spool.path, pre_buffer=False).iter_batches(columns=["ns"]):
            ns = batch.column("ns")
            stop = start + len(ns)
            keep = ~bad[start:stop] & ~np.asarray(ns.is_null())
            yield ns.fill_null(0).to_numpy()[keep]
            start = stop

    return read_order(ticks())


def _arrow(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """A column as Arrow (categoricals as dictionaries, nullable ints with nulls)."""
    return pa.array(values, from_pandas=True)


def contract_schema(spool: Spool) -> pa.Schema:
    """The events' Arrow schema in the contract's dtypes, with the pandas metadata that gives
    them back: text as ``str``, labels as the whole column's categories, the timestamp in UTC
    at its parsed resolution."""
    dtypes = {
        **dict.fromkeys(ID_COLUMNS, "str"),
        **{name: pd.CategoricalDtype(spool.categories[name]) for name in LABEL_COLUMNS},
        **dict.fromkeys(NUMERIC_COLUMNS, "float64"),
        "timestamp": pd.DatetimeTZDtype(spool.unit, "UTC"),
        "event_type": EVENT_TYPE_DTYPE,
    }
    empty = pd.DataFrame({name: pd.Series(dtype=dtypes[name]) for name in CANONICAL_COLUMNS})
    return pa.Schema.from_pandas(empty, preserve_index=False)


#: rows of a batch of events leaving the engine, and of a row group of events.parquet: the size
#: of DuckDB's Arrow batches (60 vectors of 2,048 rows), which pass through
#: :meth:`~personalab.engine.Engine.batches` as they come (Spark's are cut to it). Cut to a
#: million rows, each batch was copied whole, and the Parquet writer held a row group of a
#: million rows: 0.6 GiB more at 10 M events
EVENTS_BATCH_ROWS = 122_880


def write_events(engine, expr, order_by: list[str], spool: Spool, path: Path) -> Path:
    """The events of ``expr`` (spool columns) at ``path`` in the contract's dtypes, rows in
    ``order_by`` order: they leave the engine a batch at a time, each given the contract's
    dtypes in Arrow, so the events are never in memory whole."""
    reader = engine.batches(expr, order_by, EVENTS_BATCH_ROWS)
    schema = contract_schema(spool)
    labels = {"event_type": list(EVENT_TYPES)}
    labels |= {name: list(spool.categories[name]) for name in LABEL_COLUMNS}
    # dictionaries where values repeat (labels, users, items): unique ids (event, session)
    # would fill one, be hashed for nothing, and fall back to plain pages (40% of the write)
    repeat = [*labels, "user_id", "item_id"]
    file = pq.ParquetWriter(path, schema, use_dictionary=repeat)  # no batch: a file of no rows
    with file, WriteBehind(file) as writer:
        for batch in reader:
            arrays = [_contract(batch, f, labels.get(f.name)) for f in schema]
            writer.write(pa.Table.from_arrays(arrays, schema=schema))
    return path


def _contract(batch: pa.RecordBatch, field: pa.Field, labels: list[str] | None) -> pa.Array:
    """A column of ``batch`` (engine types) as ``field`` of the contract: the timestamp from
    epoch ns, labels as dictionaries of the whole column's ``labels``."""
    if field.name == "timestamp":
        return batch.column("ns").cast(pa.timestamp("ns", tz="UTC")).cast(field.type)
    values = batch.column(field.name)
    if labels is None:
        return values.cast(field.type)
    dictionary = pa.array(labels, pa.string()).cast(field.type.value_type)
    codes = pc.index_in(values.cast(pa.string()), value_set=dictionary.cast(pa.string()))
    return pa.DictionaryArray.from_arrays(codes.cast(field.type.index_type), dictionary)


class WriteBehind:
    """Writes each table to a Parquet ``file`` in a thread of its own while the next table is
    made (the write releases the GIL): making and writing overlap, with at most one table
    waiting. Leaving the block waits for the last write."""

    def __init__(self, file: pq.ParquetWriter) -> None:
        self.file = file
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="personalab-write")
        self.pending: Future | None = None

    def write(self, table: pa.Table) -> None:
        self._wait()
        self.pending = self.pool.submit(self.file.write_table, table)

    def _wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()  # a failed write raises here

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._wait()
        finally:
            self.pool.shutdown(wait=True)


def read_ahead(items: Iterator[Any]) -> Iterator[Any]:
    """``items`` in order, each made in a thread while the one before is used (reading and
    decoding Parquet release the GIL): at most one item waits. An error making an item is
    raised where that item would have come."""
    end = object()
    with ThreadPoolExecutor(1, thread_name_prefix="personalab-read") as pool:
        coming = pool.submit(next, items, end)
        while (item := coming.result()) is not end:
            coming = pool.submit(next, items, end)
            yield item


class EventsFile:
    """The events in a Parquet file, read a column at a time: what :func:`~personalab.ingest.
    profile.build_profile` and the stage's metrics read (``len``, ``events[column]``), without
    the whole table in memory."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __len__(self) -> int:
        return pq.ParquetFile(self.path).metadata.num_rows

    def __getitem__(self, name: str) -> pd.Series:
        return pd.read_parquet(self.path, columns=[name])[name]

    def chunks(self, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
        """The events (the ``columns`` named, else all) a batch of rows at a time."""
        file = pq.ParquetFile(self.path, pre_buffer=False)
        for batch in file.iter_batches(batch_size=batched.BATCH_ROWS, columns=columns):
            yield batch.to_pandas()
