"""A large Parquet file read in batches: the rows a generic ``parquet`` source gives, without
holding the file in memory.

:func:`read_parquet_batched` checks what the whole-file reader checks (empty file, a file
Parquet cannot read, duplicate column names, the column mapping, constants, required columns,
the columns the identity needs) from the file's schema and holds no column whole: its rows
come from :attr:`~.base.RawEvents.batches`, :data:`BATCH_ROWS` at a time (any subset of the
columns, for the passes that decide on a whole column: identity, timestamps, whole-number ids),
mapped, with constants, missing tokens, event types, ``_file`` and ``_row`` as the whole-file
reader gives them. A file of at most one batch is read whole (:func:`~.files.read_files`): the
rows are the same either way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from personalab.ingest.sources.base import (
    CANONICAL_COLUMNS,
    ID_COLUMNS,
    RawEvents,
    SourceError,
    map_event_types,
    require_columns,
)
from personalab.ingest.sources.delimited import EmptyFileError
from personalab.ingest.sources.files import blank_missing_tokens, map_columns
from personalab.ingest.sources.identity import IDENTITIES
from personalab.ingest.sources.identity import _require_columns as require_identity_columns

#: rows read (and parsed) at a time
BATCH_ROWS = 1_000_000
_LABELS = ("category", "device", "channel")


def parquet_rows(path: Path) -> int | None:
    """The rows of a Parquet file, or None when ``path`` is not one file Parquet can open."""
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except (ValueError, OSError):
        return None


def read_parquet_batched(
    path: Path,
    columns: Mapping[str, str],
    constants: Mapping[str, Any],
    event_types: Mapping[str, str],
    identity: str,
    rows: int | None = None,
) -> RawEvents:
    """The rows of the Parquet file ``path`` as a :class:`RawEvents` read in batches of
    ``rows`` (default :data:`BATCH_ROWS`; see the module docstring)."""
    rows = rows or BATCH_ROWS
    file = pq.ParquetFile(path)
    names = file.schema_arrow.names
    twice = [name for i, name in enumerate(names) if name in names[:i]]
    if twice:
        where = [i + 1 for i, name in enumerate(names) if name == twice[0]]
        raise SourceError(
            f"{path}: columns {where[0]} and {where[1]} are both named {twice[0]!r}; "
            "give every column its own name"
        )
    if file.metadata.num_rows == 0:
        raise EmptyFileError(f"{path}: empty file (no data rows)")
    template = pd.DataFrame(columns=[*names, "_file", "_row"])
    mapped = list(map_columns(template, columns, str(path)).columns)
    source = {dst: src for src, dst in columns.items()}
    source = {name: source.get(name, name) for name in mapped if name not in ("_file", "_row")}
    for name in constants:
        if name not in CANONICAL_COLUMNS:
            raise SourceError(
                f"{path}: constant field {name!r} is not a canonical column ({', '.join(CANONICAL_COLUMNS)})"
            )
    order = [*mapped, *(name for name in constants if name not in mapped)]
    require_columns(order, path, query=False)
    if identity in IDENTITIES:  # else apply_identity names the setting
        require_identity_columns(pd.DataFrame(columns=order), str(path), identity)

    n = file.metadata.num_rows
    template = pd.DataFrame(columns=order).astype("object")
    template["_file"] = pd.Categorical([], categories=[path.name])
    template["_row"] = np.zeros(0, dtype=np.int64)

    def batches(
        wanted: list[str] | None = None, positions: np.ndarray | None = None
    ) -> Iterator[pd.DataFrame]:
        wanted = list(template.columns) if wanted is None else wanted
        sources = list(dict.fromkeys(source[name] for name in wanted if name in source))
        start = 0
        # no pre-buffering: a reader that pre-buffers keeps every range it read until closed
        # (215 MB per 10 M rows), and is slower here
        with pq.ParquetFile(path, pre_buffer=False) as reader:
            for batch in reader.iter_batches(batch_size=rows, columns=sources):
                stop = start + batch.num_rows
                index = np.arange(start, stop)
                if positions is not None:  # only these rows (sorted) leave Arrow
                    lo, hi = np.searchsorted(positions, [start, stop])
                    index = positions[lo:hi]
                    batch = batch.take(pa.array(index - start))
                start = stop
                if not len(index):
                    continue
                frame = blank_missing_tokens(batch.to_pandas())
                frame = frame.rename(columns={source[n]: n for n in wanted if n in source})
                frame.index = (
                    pd.Index(index) if positions is not None else pd.RangeIndex(index[0], stop)
                )
                for name, value in constants.items():
                    if name in wanted:
                        frame[name] = value
                if "event_type" in frame and event_types:
                    frame["event_type"] = map_event_types(frame["event_type"], event_types)
                if "_file" in wanted:
                    frame["_file"] = pd.Categorical.from_codes(
                        np.zeros(len(index), dtype=np.int8), [path.name]
                    )
                if "_row" in wanted:
                    frame["_row"] = index
                yield frame[[name for name in wanted if name in frame]]

    floats = [  # only float columns can hold ids that are whole numbers
        name
        for name in order
        if name in (*ID_COLUMNS, *_LABELS)
        and name in source
        and pa.types.is_floating(file.schema_arrow.field(source[name]).type)
    ]
    return RawEvents(
        frame=template,
        description=str(path),
        batches=batches,
        n_rows=n,
        whole_number_ids=_whole_number_ids(batches, floats),
    )


def _whole_number_ids(batches, floats: list[str]) -> frozenset[str]:
    """The float identifier and label columns whose values are all whole numbers: a first
    pass over those columns alone (most files have none)."""
    if not floats:
        return frozenset()
    whole = dict.fromkeys(floats, True)
    for batch in batches(floats):
        for name, values in batch.items():
            present = values.dropna()
            finite = bool(np.isfinite(present).all())
            whole[name] = whole[name] and finite and bool((present == np.floor(present)).all())
    return frozenset(name for name, flag in whole.items() if flag)
