"""Read an event source into raw rows with canonical column names.

Generic files (``csv``, ``parquet``, ``jsonl``) take a ``columns`` mapping from the
file's names to canonical names (identity when omitted) and optional constant
fields. Adapters know well-known public formats:

===============  ============================================================================
format           what it reads
===============  ============================================================================
retailrocket     ``events.csv``: timestamp (ms), visitorid, event (view/addtocart/transaction),
                 itemid, transactionid
rees46           monthly CSVs: event_time, event_type (view/cart/remove_from_cart/purchase),
                 product_id, category_id, category_code, brand, price, user_id, user_session
movielens        ``u.data`` (tab-separated), ``ratings.dat`` (``::``) or ``ratings.csv``; each
                 rating becomes a ``rate`` event
online_retail    UCI Online Retail as CSV: InvoiceNo, StockCode, Description, Quantity,
                 InvoiceDate, UnitPrice, CustomerID, Country; each line is a purchase, the
                 invoice is the session, invoices starting with C are cancellations
                 (quarantined as ``cancelled_invoice``)
===============  ============================================================================

Values are left as read (strings stay strings); parsing and validation happen in
:mod:`personalab.ingest.events`. Each row keeps ``_file`` and ``_row`` (0-based data row in
that file) so a quarantined row can be found in its source.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from personalab.ingest.sources import batched
from personalab.ingest.sources.adapters import ADAPTER_READERS, ADAPTERS
from personalab.ingest.sources.base import (
    CANONICAL_COLUMNS,
    FILE_FORMATS,
    ID_COLUMNS,
    RawEvents,
    SourceError,
    map_event_types,
    require_columns,
)
from personalab.ingest.sources.files import dropped_note, map_columns, read_files, reading_log
from personalab.ingest.sources.identity import apply_identity
from personalab.ingest.sources.query import read_query_source

FORMATS = ("synthetic", *FILE_FORMATS, *ADAPTERS)


@reading_log  # notes, skipped files and malformed lines (also an adapter's) reach the result
def read_source(
    fmt: str,
    path: Path | str,
    columns: Mapping[str, str] | None = None,
    constants: Mapping[str, Any] | None = None,
    event_types: Mapping[str, str] | None = None,
    timestamp_unit: str | None = None,
    timestamp_format: str | None = None,
    *,
    sep: str | None = None,
    header: bool = True,
    names: list[str] | None = None,
    encoding: str = "utf-8",
    identity: str = "auto",
    query: str | None = None,
) -> RawEvents:
    """Read ``path`` in format ``fmt`` (a generic file format or an adapter name).

    ``sep``, ``header``, ``names`` and ``encoding`` say how a generic text file is read (an
    adapter knows its own); ``timestamp_unit`` ``None`` or ``"auto"`` leaves the unit to the
    adapter or to parsing; ``identity`` (auto, user or session) says whose rows they are
    (:mod:`personalab.ingest.sources.identity`).
    """
    path = Path(path)
    if query is not None and fmt not in FILE_FORMATS:
        raise SourceError(
            f"params/ingest.yaml: source.query: only with format {', '.join(FILE_FORMATS)}, not {fmt!r}"
        )
    if query is not None:  # one DuckDB SELECT over the file(s) as `raw` (sources/query.py)
        text = {"sep": sep, "header": header, "names": names, "encoding": encoding}
        raw = read_query_source(path, fmt, query, **text)
    elif fmt in ADAPTERS:
        raw = ADAPTER_READERS[fmt](path)
    elif fmt == "parquet" and (batched.parquet_rows(path) or 0) > batched.BATCH_ROWS:
        raw = batched.read_parquet_batched(
            path, columns or {}, constants or {}, event_types or {}, identity
        )
        apply_identity(raw, identity)
        raw.timestamp_unit = None if timestamp_unit in (None, "auto") else timestamp_unit
        raw.timestamp_format = timestamp_format
        return raw
    elif fmt in FILE_FORMATS:
        # identifiers stay text in CSV (no "007" -> 7); other columns are inferred as usual
        id_sources = [src for src, dst in (columns or {}).items() if dst in ID_COLUMNS]
        id_sources += [c for c in ID_COLUMNS if c not in (columns or {})]
        text = {"sep": sep, "header": header, "names": names, "encoding": encoding}
        frame = read_files(
            path,
            fmt,
            **({"dtype": dict.fromkeys(id_sources, "string"), **text} if fmt == "csv" else {}),
        )
        dropped = dropped_note(frame, columns or {})
        frame = map_columns(frame, columns or {}, str(path))
        raw = RawEvents(frame=frame, description=str(path), notes=dropped)
    else:
        raise SourceError(
            f"{path}: unknown source format {fmt!r}; expected one of: {', '.join(FORMATS)}"
        )
    frame = raw.frame
    for name, value in (constants or {}).items():
        if name not in CANONICAL_COLUMNS:
            raise SourceError(
                f"{path}: constant field {name!r} is not a canonical column ({', '.join(CANONICAL_COLUMNS)})"
            )
        frame[name] = value
    require_columns(list(frame.columns), path, query is not None)
    if event_types:
        frame["event_type"] = map_event_types(frame["event_type"], event_types)
    raw.frame = frame
    apply_identity(raw, identity)  # user_id := each row's identity (user, or session)
    if timestamp_unit not in (None, "auto"):
        raw.timestamp_unit = timestamp_unit
    raw.timestamp_format = timestamp_format or raw.timestamp_format
    return raw
