"""The spool: the parsed rows in a Parquet file, written batch by batch, which the engine reads.

Parsing is batched so no stage of ingest holds the log twice in memory. What is decided on a
whole column is decided once, before the batches: how the timestamps are read (their unit,
format, the yyyymmdd check: :func:`~personalab.ingest.events.read_timestamp_column` on that
column alone), the arrival times, and which float identifier columns are whole numbers
(:func:`~personalab.ingest.events.whole_number_ids`). Each batch is then parsed
(:func:`~personalab.ingest.events.parse_batch`) and appended to the spool with ``pos``, its
row's place in the log. Label columns are spooled as text; the categories the whole column
would have had are collected on the way (:attr:`Spool.categories`) and given back to the
events that leave the engine (:func:`contract_schema`).

Rows come from :func:`raw_batches`: slices of ``raw.frame``, or, for a source read in batches
(:attr:`~personalab.ingest.sources.RawEvents.batches`), each batch joined to the slice of the
columns kept whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

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
from personalab.ingest.sources import CANONICAL_COLUMNS, RawEvents, batched
from personalab.ingest.timestamps import Timestamps
from personalab.ingest.validation import epoch_ns

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


def raw_batches(raw: RawEvents, rows: int | None = None) -> Iterator[pd.DataFrame]:
    """The raw rows in batches (index: the rows' positions), every column as read (a source
    read in batches: in its own batches)."""
    rows = rows or batched.BATCH_ROWS
    if raw.batches is None:
        for start in range(0, len(raw.frame), rows):
            yield raw.frame.iloc[start : start + rows]
        return
    order = [*raw.columns, *(c for c in raw.frame if c not in raw.columns)]  # identity's
    start = 0
    for batch in raw.batches():
        stop = start + len(batch)
        kept = raw.frame.iloc[start:stop]
        batch = batch.set_axis(kept.index)
        joined = pd.concat([batch, kept.drop(columns=[c for c in kept if c in batch])], axis=1)
        yield joined[[c for c in order if c in joined]]
        start = stop


def raw_rows(raw: RawEvents, positions: np.ndarray) -> pd.DataFrame:
    """The raw rows at ``positions`` (sorted), every column as read."""
    if raw.batches is None:
        return raw.frame.iloc[positions]
    parts, start = [], 0
    for batch in raw_batches(raw):
        stop = start + len(batch)
        lo, hi = np.searchsorted(positions, [start, stop])
        if hi > lo:
            parts.append(batch.iloc[positions[lo:hi] - start])
        start = stop
    if not parts:
        return next(raw_batches(raw, 1)).iloc[:0]
    return pd.concat(parts)


def spool_events(
    raw: RawEvents, stamps: Timestamps, arrival: pd.Series | None, path: Path
) -> Spool:
    """Parse ``raw`` batch by batch into the spool at ``path``; ``stamps`` are the whole
    timestamp column parsed, ``arrival`` the arrival times in epoch ns (or None)."""
    whole = whole_number_ids(raw.frame) | raw.whole_number_ids
    reject = raw.frame.get("_reject")
    schema = SCHEMA.append(pa.field("arrival_ns", pa.int64())) if arrival is not None else SCHEMA
    seen: dict[str, set[str]] = {name: set() for name in LABEL_COLUMNS}
    kinds: dict[str, np.dtype] = {}
    start = 0
    with pq.ParquetWriter(path, schema, compression="lz4") as writer:
        for batch in raw_batches(raw):
            stop = start + len(batch)
            part = Timestamps(
                values=stamps.values.iloc[start:stop],
                out_of_range=stamps.out_of_range[start:stop],
                read_as=stamps.read_as,
            )
            parsed = parse_batch(batch, part, whole)
            frame = parsed.frame
            for name in LABEL_COLUMNS:
                categories = frame[name].cat.categories
                seen[name].update(categories)
                kinds.setdefault(name, categories.dtype)
            # column by column in Arrow (labels decoded there: no pandas string copies)
            columns = {
                "pos": pa.array(np.arange(start, stop, dtype=np.int64)),
                **{name: _arrow(frame[name]) for name in (*_TEXT, *NUMERIC_COLUMNS)},
                "ns": _arrow(epoch_ns(frame["timestamp"])),
                "bad_number": pa.array(parsed.bad_number),
                "out_of_range": pa.array(np.asarray(parsed.out_of_range, dtype=bool)),
                "reject": pa.nulls(stop - start)
                if reject is None
                else _arrow(reject.iloc[start:stop].astype("str")),
            }
            if arrival is not None:
                columns["arrival_ns"] = _arrow(arrival.iloc[start:stop])
            arrays = [columns[f.name].cast(f.type) for f in schema]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            start = stop
    return Spool(
        path=path,
        rows=start,
        read_as=stamps.read_as,
        unit=stamps.values.dt.unit,
        categories={
            name: pd.Index(sorted(seen[name]), dtype=kinds.get(name, "str"))
            for name in LABEL_COLUMNS
        },
        arrival=arrival is not None,
    )


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


def write_events(engine, expr, order_by: list[str], spool: Spool, path: Path) -> Path:
    """The events of ``expr`` (spool columns) at ``path`` in the contract's dtypes, rows in
    ``order_by`` order: they leave the engine a batch at a time, each given the contract's
    dtypes in Arrow, so the events are never in memory whole."""
    reader = engine.batches(expr, order_by, batched.BATCH_ROWS)
    schema = contract_schema(spool)
    labels = {"event_type": list(EVENT_TYPES)}
    labels |= {name: list(spool.categories[name]) for name in LABEL_COLUMNS}
    with pq.ParquetWriter(path, schema) as writer:  # no batch: a file of no rows
        for batch in reader:
            arrays = [_contract(batch, f, labels.get(f.name)) for f in schema]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
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
