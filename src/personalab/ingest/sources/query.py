"""Mapping by SQL (``source.query``): one DuckDB SELECT over the file(s), as the table ``raw``.

A rename (``source.columns``) cannot add a millisecond offset to a date, fall back from a
missing user id to the session, build a per-user timeline from relative days or cast
yyyymmdd numbers to dates; one SELECT can, and DuckDB runs it in-process on the rows as read.

- The file(s) are read by :func:`~personalab.ingest.sources.files.read_files` (so ``sep``,
  ``header``, ``names`` and ``encoding`` apply) and registered as ``raw``, with ``_file`` and
  ``_row``. Rows the reader rejected (``_reject``) skip the query and go on to quarantine.
- The query runs on a private connection that sees ``raw`` only (no files, no Python
  variables), in UTC. It must be a single SELECT (``WITH`` included).
- Its output columns must be canonical; others are dropped with a note. A ``TIMESTAMP`` it
  computes flows on as a datetime (read in ``source.timezone``), a ``TIMESTAMPTZ`` as an instant.
- Traceability: a query that selects ``_file`` and ``_row`` keeps them; otherwise they are
  carried from ``raw`` when the output is ``raw``'s rows one-to-one and in order (a
  projection, possibly a filter that dropped nothing), else the output rows are numbered,
  with a note.
- Any DuckDB error stops with ``params/ingest.yaml: source.query: <DuckDB's first line>``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from personalab.ingest.sources.base import (
    BOOKKEEPING_COLUMNS,
    CANONICAL_COLUMNS,
    ID_COLUMNS,
    RAW_LINE_COLUMN,
    REJECT_COLUMN,
    RawEvents,
    SourceError,
)
from personalab.ingest.sources.files import read_files

#: how every message of this module starts: the params file and key the user edits
WHERE = "params/ingest.yaml: source.query"
#: the name of the rows as read, inside the query
TABLE = "raw"
#: ``_file`` of output rows that cannot be traced to a row of the file(s)
NUMBERED_FILE = "source.query"
#: plan operators that keep each input row in place (a filter keeps order; counts are checked)
_IN_PLACE_OPERATORS = frozenset({"PROJECTION", "FILTER"})
_KEPT_COLUMNS = (*CANONICAL_COLUMNS, "arrival", *BOOKKEEPING_COLUMNS, REJECT_COLUMN)
_KEPT_BOOKKEEPING = (*BOOKKEEPING_COLUMNS, REJECT_COLUMN, RAW_LINE_COLUMN)


@dataclass
class QueryOutput:
    """The query's rows (canonical columns, ``_file``, ``_row``) and what the user should know."""

    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def read_query_source(
    path: Path,
    fmt: str,
    query: str,
    *,
    sep: str | None = None,
    header: bool = True,
    names: list[str] | None = None,
    encoding: str = "utf-8",
) -> RawEvents:
    """Read ``path`` as it is and map it with ``query``; the rows read and out are in ``extra``."""
    options: dict[str, Any] = {}
    if fmt == "csv":
        # read as text, then typed by :func:`typed_columns` ("007" is not 7)
        options = {"sep": sep, "header": header, "names": names, "encoding": encoding}
        options["dtype"] = "string"
    frame = read_files(path, fmt, **options)
    if fmt == "csv":
        frame = typed_columns(frame)
    out = run_query(frame, query)
    notes = [f"{WHERE}: {len(out.frame)} rows from {len(frame)} rows read", *out.notes]
    return RawEvents(
        frame=out.frame,
        description=f"{path} (source.query)",
        extra={"query_rows_read": len(frame), "query_rows_out": len(out.frame)},
        notes=notes,
    )


#: a whole number of three digits or more written with a leading zero (``007``, ``0108775``):
#: an identifier's way, kept as text (two digits, as in ``08`` o'clock or month ``03``, are
#: numbers: a code that short is rare, and a time field often is)
_LEADING_ZERO = r"^\s*0\d{2,}\s*$"


def typed_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """A CSV's columns, read as text, as numbers where every value is one, unless a value is
    written with a leading zero (:data:`_LEADING_ZERO`): a customer or product code such as
    ``00012347`` stays text as written, whatever its column's name (a number type would make it
    ``12347`` before the query could cast it back). Columns named like canonical identifiers
    always stay text."""
    changed = {}
    for name in frame.columns:
        values = frame[name]
        if (
            name in ID_COLUMNS
            or name in _KEPT_BOOKKEEPING
            or not pd.api.types.is_string_dtype(values.dtype)
        ):
            continue
        present = values.notna()
        if not present.any() or values[present].str.contains(_LEADING_ZERO).any():
            continue
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.notna().sum() == present.sum():
            changed[name] = numbers
    return frame.assign(**changed) if changed else frame


def run_query(frame: pd.DataFrame, query: str) -> QueryOutput:
    """Run ``query`` over ``frame`` (rows as read, with ``_file`` and ``_row``) as ``raw``.

    Returns canonical columns plus ``_file``/``_row`` (and ``_reject`` when the reader or the
    query flagged rows); raises :class:`SourceError` naming ``source.query``.
    """
    rejected = _rejected_mask(frame)
    rows = frame.loc[~rejected] if rejected.any() else frame
    rows = rows.drop(columns=[REJECT_COLUMN, RAW_LINE_COLUMN], errors="ignore")
    rows = _restore_integers(rows)
    con = _connect()
    try:
        statement = _one_select(con, query)
        con.register(TABLE, rows)
        out, in_place = _execute(con, statement, list(rows.columns))
    finally:
        con.close()
    in_place = in_place and len(out) == len(rows)
    if out.empty:
        raise SourceError(f"{WHERE}: the query yields no rows (from {len(rows)} rows read)")
    out, notes = _keep_canonical(out)
    out, trace_note = _trace_rows(out, rows, in_place=in_place)
    notes += trace_note
    if rejected.any():
        kept = [c for c in frame.columns if c in _KEPT_COLUMNS or c == RAW_LINE_COLUMN]
        out = pd.concat([out, frame.loc[rejected, kept]], ignore_index=True)
        notes.append(f"{WHERE}: {int(rejected.sum())} rows the reader rejected skip the query")
    return QueryOutput(frame=out.reset_index(drop=True), notes=notes)


def _rejected_mask(frame: pd.DataFrame) -> np.ndarray:
    if REJECT_COLUMN not in frame:
        return np.zeros(len(frame), dtype=bool)
    return frame[REJECT_COLUMN].notna().to_numpy()


def _restore_integers(frame: pd.DataFrame) -> pd.DataFrame:
    """Integer columns with blanks as nullable integers: pandas reads them as floats, and
    ``CAST(x AS VARCHAR)`` of a float id would give ``'278.0'``."""
    changed = {}
    for name in frame.columns:
        values = frame[name]
        if values.dtype != np.float64:
            continue
        numbers = values.to_numpy()
        present = ~np.isnan(numbers)
        if present.all() or not present.any():
            continue  # no blanks: the file wrote floats; all blank: nothing to restore
        kept = numbers[present]
        if (
            np.all(np.isfinite(kept))
            and np.all(kept == np.floor(kept))
            and np.abs(kept).max() < 2**53
        ):
            changed[name] = values.astype("Int64")
    return frame.assign(**changed) if changed else frame


def _connect() -> duckdb.DuckDBPyConnection:
    """A private in-memory connection that reads only what is registered on it, in UTC."""
    con = duckdb.connect(
        config={"enable_external_access": False, "python_enable_replacements": False}
    )
    con.execute("SET TimeZone = 'UTC'")  # casts between TIMESTAMP and TIMESTAMPTZ: same anywhere
    return con


def _one_select(con: duckdb.DuckDBPyConnection, query: str) -> str:
    """The text of the query's single SELECT; anything else (or a syntax error) stops."""
    try:
        statements = con.extract_statements(query)
    except duckdb.Error as err:
        raise SourceError(f"{WHERE}: {_first_line(err)}") from None
    if len(statements) != 1:
        raise SourceError(
            f"{WHERE}: give one SELECT statement, not {len(statements)} (separated by ';')"
        )
    kind = statements[0].type.name
    if kind != "SELECT":
        raise SourceError(
            f"{WHERE}: only a SELECT (or WITH ... SELECT) over `{TABLE}` is run, not a {kind} statement"
        )
    return statements[0].query


def _execute(
    con: duckdb.DuckDBPyConnection, statement: str, columns: list[str]
) -> tuple[pd.DataFrame, bool]:
    """The query's rows, and whether they are ``raw``'s rows in place (one-to-one, in order)."""
    try:
        in_place = _keeps_rows_in_place(con, statement)
        relation = con.sql(statement)  # one SELECT (checked): nothing else runs
        names = list(relation.columns)
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise SourceError(
                f"{WHERE}: the SELECT yields {', '.join(map(repr, twice))} more than once"
            )
        table = relation.to_arrow_table()
    except duckdb.Error as err:
        message = _first_line(err)
        if isinstance(err, duckdb.BinderException | duckdb.CatalogException):
            have = ", ".join(c for c in columns if c != REJECT_COLUMN)
            message += f" (`{TABLE}` has columns: {have})"
        raise SourceError(f"{WHERE}: {message}") from None
    return _to_frame(table), in_place


def _to_frame(table: pa.Table) -> pd.DataFrame:
    """The query's Arrow rows as pandas. Integer identifiers become text first, so a nullable
    BIGINT id is not widened to a float (which rounds ids above 2**53); other DECIMALs (a
    ``sum`` of integers is a HUGEINT) become floats rather than Python objects."""
    for i, name in enumerate(table.column_names):
        kind = table.schema.field(i).type
        exact = pa.types.is_integer(kind) or pa.types.is_decimal(kind)
        if name in ID_COLUMNS and exact:
            table = table.set_column(i, name, pc.cast(table.column(i), pa.string()))
        elif pa.types.is_decimal(kind):
            table = table.set_column(i, name, pc.cast(table.column(i), pa.float64()))
    return table.to_pandas(date_as_object=False)  # a DATE is a datetime at midnight


def _keeps_rows_in_place(con: duckdb.DuckDBPyConnection, statement: str) -> bool:
    """Whether the plan is one scan of ``raw`` under projections and filters only.

    With DuckDB's insertion order kept, such a plan yields ``raw``'s rows in order; if no row
    was filtered out (the caller compares counts), output row ``i`` is ``raw``'s row ``i``.
    """
    scan = _plan_operators(con, f"SELECT * FROM {TABLE}")
    operators = _plan_operators(con, statement)
    others = [op for op in operators if op not in _IN_PLACE_OPERATORS]
    return len(scan) == 1 and others == scan


def _plan_operators(con: duckdb.DuckDBPyConnection, statement: str) -> list[str]:
    """The physical operators of a statement's plan (DuckDB's JSON explain), depth first."""
    _, text = con.execute(f"EXPLAIN (FORMAT json) {statement}").fetchone()
    stack, names = list(json.loads(text)), []
    while stack:
        node = stack.pop()
        names.append(node.get("name", ""))
        stack.extend(node.get("children", []))
    return names


def _keep_canonical(out: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Canonical and bookkeeping columns; the names of the others in a note."""
    dropped = [c for c in out.columns if c not in _KEPT_COLUMNS]
    if not dropped:
        return out, []
    note = (
        f"{WHERE}: dropped column(s) {', '.join(map(repr, dropped))}, which are not canonical "
        f"({', '.join(CANONICAL_COLUMNS)})"
    )
    return out.drop(columns=dropped), [note]


def _trace_rows(
    out: pd.DataFrame, rows: pd.DataFrame, *, in_place: bool
) -> tuple[pd.DataFrame, list[str]]:
    """``_file`` and ``_row`` for every output row: selected, carried from ``raw``, or numbered."""
    chosen = [c for c in BOOKKEEPING_COLUMNS if c in out]
    if len(chosen) == 2:
        row = out["_row"]
        if not pd.api.types.is_integer_dtype(row.dtype) or row.isna().any():
            raise SourceError(
                f"{WHERE}: `_row` must be {TABLE}._row (a whole number on every row), got {row.dtype}"
                + (" with nulls" if row.isna().any() else "")
            )
        if out["_file"].isna().any():
            raise SourceError(f"{WHERE}: `_file` must be {TABLE}._file (never null)")
        return out.assign(_file=out["_file"].astype("str"), _row=row.astype("int64")), []
    if chosen:
        raise SourceError(
            f"{WHERE}: select both `_file` and `_row` (or neither), not only {chosen[0]!r}"
        )
    if in_place:  # row i of the output is row i of raw
        carried = rows[list(BOOKKEEPING_COLUMNS)].reset_index(drop=True)
        return out.assign(_file=carried["_file"].astype("str"), _row=carried["_row"]), []
    note = (
        f"{WHERE}: the query's rows are not the rows read one-to-one in order, so quarantine "
        f"rows name `{NUMBERED_FILE}` and the output row; select `_file` and `_row` to keep "
        "each row's place in its file"
    )
    return out.assign(_file=NUMBERED_FILE, _row=np.arange(len(out), dtype="int64")), [note]


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
