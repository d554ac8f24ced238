"""Delimited text files (``.csv``, ``.tsv``, ``.txt``, ``.dat``, compressed or not): one file in,
one row per data line out, with malformed lines kept as rows for quarantine.

Steps: detect the compression from the first bytes (:mod:`.sniff`); take ``sep`` as given or
sniff it; count every line's fields and check the encoding (:mod:`.lines`); stop on a duplicate
column name, a header that is one column holding another delimiter, or a file where no line
fits; then let pandas' C parser read the rest, the malformed lines' bytes left out, and put
those lines back as rows at their place, null but for ``_reject`` (``malformed_line``) and
``_raw_line`` (their text). Identifiers stay text where the caller asks (``dtype``);
:data:`~.base.MISSING_TOKENS`, and only they, mean missing.
"""

from __future__ import annotations

import codecs
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from personalab.ingest.sources.base import (
    MALFORMED_LINE,
    MISSING_TOKENS,
    RAW_LINE_COLUMN,
    REJECT_COLUMN,
    SourceError,
)
from personalab.ingest.sources.lines import BadLine, LineScan, scan_lines, scan_lines_exact
from personalab.ingest.sources.sniff import (
    DELIMITERS,
    WHITESPACE,
    open_binary,
    read_head,
    sniff_sep,
)


class EmptyFileError(SourceError):
    """A file with no data rows (0 bytes, blank, or a header only); a folder skips it."""


@dataclass
class TextRead:
    """The rows of one text file, the separator used and the malformed lines found."""

    frame: pd.DataFrame
    sep: str
    malformed: list[BadLine] = field(default_factory=list)
    rows: np.ndarray | None = None  # each row's 0-based data row in the file (None: in order)
    expected: int = 0  # fields per line (the header's or names')


def read_delimited(
    file: Path,
    *,
    sep: str | None = None,
    header: bool | None = True,
    names: list[str] | None = None,
    encoding: str = "utf-8",
    dtype: Any = None,
    **options: Any,
) -> TextRead:
    """Read one delimited text file (see the module docstring); ``header`` false or None: no
    header line (``names`` name the fields, else they are numbered)."""
    has_header = bool(header)
    if file.stat().st_size == 0:
        raise EmptyFileError(f"{file}: empty file (0 bytes)")
    with open_binary(file) as stream:
        head = read_head(stream)
    if not head.strip():
        raise EmptyFileError(f"{file}: empty file (no header or rows)")
    if b"\r" in head and b"\n" not in head and len(head) > 1:
        raise SourceError(f"{file}: lines end in a bare carriage return (old Mac); convert to \\n")
    sep = sep or sniff_sep(head, prefer_tab=".tsv" in file.name.lower())
    if names is not None:
        _check_unique(names, f"{file}: source.names entries")
    scan = None
    if _byte_oriented(encoding):
        scan = _scan(file, sep, has_header, names, encoding, options)
    frame = _parse(file, sep, has_header, names, encoding, dtype, scan, options)
    if scan is not None and len(frame) != scan.records - len(scan.bad) and not scan.exact:
        scan = _scan_exact(file, sep, has_header, encoding, scan)  # quotes fooled the count
        frame = _parse(file, sep, has_header, names, encoding, dtype, scan, options)
    if scan is not None and len(frame) != scan.records - len(scan.bad):
        raise SourceError(
            f"{file}: cannot split the file into rows reliably ({len(frame)} rows parsed, "
            f"{scan.records - len(scan.bad)} lines counted); check its quoting"
        )
    if scan is None and frame.empty:
        raise EmptyFileError(f"{file}: empty file (no data rows)")
    if scan is None or not scan.bad:
        return TextRead(frame, sep)
    frame, rows = with_malformed(frame, scan)
    return TextRead(frame, sep, scan.bad, rows, scan.expected)


def _scan(
    file: Path,
    sep: str,
    has_header: bool,
    names: list[str] | None,
    encoding: str,
    options: dict[str, Any],
) -> LineScan:
    """Count fields line by line; stop on what cannot be read as the user meant."""
    strict = options.get("encoding_errors", "strict") == "strict"
    with open_binary(file) as stream:
        scan = scan_lines(
            stream,
            file,
            sep,
            header=has_header,
            n_names=len(names) if names else None,
            encoding=encoding,
            check_encoding=strict,
        )
    if has_header and scan.header is None:
        raise EmptyFileError(f"{file}: empty file (no header or rows)")
    if scan.header is not None:
        _check_unique(scan.header, f"{file}: columns")
        _check_one_column(scan.header, sep, file)
        _check_names_not_data(scan.header, file)
    if scan.records == 0:
        raise EmptyFileError(f"{file}: empty file (no data rows)")
    if scan.bad and scan.stray:  # stray quotes can fool the fast count: count as pandas does
        scan = _scan_exact(file, sep, has_header, encoding, scan)
    if scan.bad and len(scan.bad) == scan.records:
        first = scan.bad[0]
        what = "the header's" if has_header else "source.names'" if names else "the"
        raise SourceError(
            f"{file}: line {first.line}: {first.fields} field(s), not {what} {scan.expected}, "
            f"and no line has {scan.expected}: is source.sep right? (read with {describe_sep(sep)})"
        )
    return scan


def _scan_exact(file: Path, sep: str, has_header: bool, encoding: str, scan: LineScan) -> LineScan:
    with open_binary(file) as stream:
        exact = scan_lines_exact(
            stream, sep, header=has_header, expected=scan.expected, encoding=encoding
        )
    return LineScan(scan.header, scan.expected, exact.records, exact.bad, scan.quoted, True, True)


def _parse(
    file: Path,
    sep: str,
    has_header: bool,
    names: list[str] | None,
    encoding: str,
    dtype: Any,
    scan: LineScan | None,
    options: dict[str, Any],
) -> pd.DataFrame:
    """pandas' C parser over the file, the malformed lines' bytes left out."""
    kwargs: dict[str, Any] = {
        "sep": r"\s+" if sep == WHITESPACE else sep,
        "header": 0 if has_header else None,
        "names": None if has_header else names,
        "index_col": False,
        "dtype": dtype,
        "keep_default_na": False,
        "na_values": list(MISSING_TOKENS),
        "encoding": encoding,
        "low_memory": False,
        **options,
    }
    skip = [(b.start, b.end) for b in scan.bad] if scan is not None else []
    try:
        with open_binary(file) as stream:
            source = io.BufferedReader(_Skipping(stream, skip), 1 << 20) if skip else stream
            return pd.read_csv(source, **kwargs)
    except pd.errors.EmptyDataError:
        raise EmptyFileError(f"{file}: empty file (no header or rows)") from None
    except UnicodeDecodeError as err:
        raise SourceError(
            f"{file}: byte 0x{err.object[err.start]:02x} is not valid {encoding}; "
            "set source.encoding (e.g. latin-1)"
        ) from None
    except (pd.errors.ParserError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SourceError(f"{file}: cannot read as csv: {first}") from None


def with_malformed(frame: pd.DataFrame, scan: LineScan) -> tuple[pd.DataFrame, np.ndarray]:
    """``frame`` (the good records, in order) with the malformed ones appended as null rows
    (``_reject`` and ``_raw_line`` set), and every row's 0-based data row in the file.

    Appended, not put back in place: that would copy every column; the good rows keep their
    order and the malformed ones are quarantined whatever their place. Integer and boolean
    columns become nullable so the null rows do not turn them into floats.
    """
    n, bad = scan.records, np.array([b.record for b in scan.bad], dtype=np.int64)
    keep = np.ones(n, dtype=bool)
    keep[bad] = False
    nullable = {
        name: "Int64" if pd.api.types.is_integer_dtype(dtype) else "boolean"
        for name, dtype in frame.dtypes.items()
        if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
    }
    frame = frame.astype(nullable) if nullable else frame
    filler = frame.iloc[:0].reindex(range(bad.size))
    out = pd.concat([frame, filler], ignore_index=True)
    reject = np.full(len(out), None, dtype=object)
    reject[len(frame) :] = MALFORMED_LINE
    text = np.full(len(out), None, dtype=object)
    text[len(frame) :] = [b.text for b in scan.bad]
    out[REJECT_COLUMN] = pd.Series(reject, dtype=object)
    out[RAW_LINE_COLUMN] = pd.Series(text, dtype=object)
    return out, np.concatenate([np.flatnonzero(keep), bad])


def _check_unique(columns: list[str], where: str) -> None:
    """Stop on a name given twice: pandas would rename one (``user_id.1``) and a mapping pick one."""
    seen: dict[str, int] = {}
    for position, name in enumerate(columns, start=1):
        if name in seen:
            raise SourceError(
                f"{where} {seen[name]} and {position} are both named {name!r}; "
                "give every column its own name"
            )
        seen[name] = position


def _check_one_column(header: list[str], sep: str, file: Path) -> None:
    """A header read as one column that holds another delimiter: ``sep`` is wrong."""
    if len(header) != 1:
        return
    for other in (*DELIMITERS, " "):
        if other != sep and other in header[0]:
            raise SourceError(
                f"{file}: the header is one column, {header[0]!r}, which holds {other!r}: "
                f"is source.sep right? (read with {describe_sep(sep)}; null sniffs it)"
            )


def _check_names_not_data(header: list[str], file: Path) -> None:
    """A header whose names are mostly numbers is a data line: the file has no header."""
    numbers = sum(_is_number(name) for name in header)
    if len(header) >= 2 and numbers * 2 > len(header):
        shown = ", ".join(header[:5]) + (", ..." if len(header) > 5 else "")
        raise SourceError(
            f"{file}: the first line looks like data, not a header ({shown}); for a file "
            "without a header set source.header: false and name the fields in source.names"
        )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def describe_sep(sep: str) -> str:
    """A delimiter as a sentence names it (tab, whitespace, ',')."""
    return {"\t": "tab", WHITESPACE: "whitespace"}.get(sep, repr(sep))


def _byte_oriented(encoding: str) -> bool:
    """Whether newline and delimiters are single ASCII bytes in ``encoding`` (not UTF-16/32)."""
    name = codecs.lookup(encoding).name
    return not name.startswith(("utf-16", "utf-32", "utf_16", "utf_32"))


class _Skipping(io.RawIOBase):
    """A binary stream with some byte ranges (sorted, disjoint) left out."""

    def __init__(self, stream: BinaryIO, ranges: list[tuple[int, int]]) -> None:
        self._stream, self._ranges = stream, ranges
        self._pos, self._next = 0, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._next < len(self._ranges) and self._ranges[self._next][0] <= self._pos:
            end = self._ranges[self._next][1]
            while self._pos < end:
                got = len(self._stream.read(min(end - self._pos, 1 << 20)))
                if not got:
                    break
                self._pos += got
            self._next += 1
        limit = len(buffer)
        if self._next < len(self._ranges):
            limit = min(limit, self._ranges[self._next][0] - self._pos)
        data = self._stream.read(limit)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)
