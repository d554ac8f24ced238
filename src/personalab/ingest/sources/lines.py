"""Counting the fields of every line of a delimited file, fast, to find the malformed ones.

pandas' C parser reads the bulk but cannot say which line is ragged: it pads a short line with
nulls and, depending on where it stands, takes a long one's first field as an index. So before
parsing, :func:`scan_lines` counts each record's fields with numpy over chunks of the raw bytes
(a record ends at a newline outside double quotes; a field ends at the delimiter outside
them), checks the encoding of each chunk (naming the line of an undecodable byte), and returns
the records whose field count differs from the header's (or from ``names``).

The quote count is exact for RFC 4180 quoting. A file with stray quotes inside fields
(``12" pizza``), which the parsers take literally, may look ragged to it: when a file with
quotes has lines that look wrong, :func:`scan_lines_exact` counts again with Python's csv
module, which parses quotes as pandas does (slower, so only then).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from personalab.ingest.sources.base import SourceError
from personalab.ingest.sources.sniff import WHITESPACE

#: bytes read per step of the scan
CHUNK_BYTES = 16 * 1024 * 1024
#: at most this many characters of a malformed line are kept for the quarantine table
MAX_LINE_CHARS = 4000
#: from this many lines on, a file where most lines are malformed is misread, not malformed
MISREAD_AFTER = 1000
_NEWLINE, _QUOTE = ord("\n"), ord('"')
_SPACES = np.array([ord(" "), ord("\t"), ord("\r"), _NEWLINE], dtype=np.uint8)
_QUOTED_TEXT = re.compile(r'"(?:[^"]|"")*"')


@dataclass
class BadLine:
    """A record whose field count is not the header's."""

    record: int  # 0-based data row (header and blank lines not counted)
    line: int  # 1-based line of the file where it starts
    start: int  # byte offset of its first byte (in the decompressed stream)
    end: int  # byte offset just after its newline
    fields: int
    text: str


@dataclass
class LineScan:
    """What the scan found: the header's fields, how many data records, and the bad ones."""

    header: list[str] | None
    expected: int
    records: int
    bad: list[BadLine] = field(default_factory=list)
    quoted: bool = False  # the file holds a double quote
    stray: bool = False  # ... one not at a field's edge, which the quote count may misread
    exact: bool = False  # counted by :func:`scan_lines_exact`


def scan_lines(
    stream: BinaryIO,
    file: Path,
    sep: str,
    *,
    header: bool,
    n_names: int | None,
    encoding: str,
    check_encoding: bool = True,
) -> LineScan:
    """Count the fields of every record of ``stream`` (the decompressed bytes of ``file``)."""
    state = _ScanState(header=header, expected=n_names, encoding=encoding)
    carry, offset, line = b"", 0, 1  # ``carry``: a record cut by the chunk's end
    while True:
        data = stream.read(CHUNK_BYTES)
        buf = carry + data if carry else data
        if not buf:
            break
        quoted = b'"' in buf
        state.quoted |= quoted
        ends, newlines, quotes = _record_ends(buf, quoted)
        if data and ends.size == 0:  # one record longer than a chunk: read on
            carry = buf
            continue
        stop = int(ends[-1]) + 1 if data else len(buf)
        if not data and (not ends.size or ends[-1] != len(buf) - 1):
            ends = np.append(ends, len(buf))  # a last line without a newline
        part = buf[:stop]
        if check_encoding:
            check_decodes(part, encoding, file, line)
        if quotes is not None:
            quotes = quotes[quotes < stop]
            state.stray = state.stray or _has_stray_quotes(part, quotes, sep)
        state.add(part, ends, _fields(part, ends, sep, quotes), newlines, offset, line)
        if (
            not state.stray
            and state.records >= MISREAD_AFTER
            and len(state.bad) * 2 > state.records
        ):
            raise SourceError(state.misread(file, sep))
        offset, line = offset + stop, line + part.count(b"\n")
        carry = buf[stop:]
        if not data:
            break
    return state.result(sep)


@dataclass
class _ScanState:
    header: bool
    expected: int | None
    encoding: str
    header_bytes: bytes | None = None
    records: int = 0
    quoted: bool = False
    stray: bool = False
    bad: list[BadLine] = field(default_factory=list)

    def add(
        self,
        part: bytes,
        ends: np.ndarray,
        fields: np.ndarray,
        newlines: np.ndarray,
        offset: int,
        line: int,
    ) -> None:
        """Take the records of one chunk: the header first, then count and check data records."""
        starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
        keep = fields > 0  # blank lines are no records, as in pandas
        starts, ends, fields = starts[keep], ends[keep], fields[keep]
        if self.header and self.header_bytes is None and starts.size:
            self.header_bytes = part[starts[0] : ends[0]]
            self.expected = int(fields[0])
            starts, ends, fields = starts[1:], ends[1:], fields[1:]
        if self.expected is None and fields.size:  # no header, no names: the usual count
            self.expected = int(np.bincount(fields).argmax())
        wrong = np.flatnonzero(fields != self.expected)
        lines = line + np.searchsorted(newlines, starts[wrong])
        for k, at, start, end in zip(wrong, lines, starts[wrong], ends[wrong], strict=True):
            text = part[start:end].decode(self.encoding, errors="replace").rstrip("\r\n")
            self.bad.append(
                BadLine(
                    record=self.records + int(k),
                    line=int(at),
                    start=offset + int(start),
                    end=offset + min(int(end) + 1, len(part)),
                    fields=int(fields[k]),
                    text=text[:MAX_LINE_CHARS],
                )
            )
        self.records += int(fields.size)

    def misread(self, file: Path, sep: str) -> str:
        """The message when most lines do not have the expected count: the reading is wrong."""
        first = self.bad[0]
        shown = {"\t": "tab", WHITESPACE: "whitespace"}.get(sep, repr(sep))
        return (
            f"{file}: {len(self.bad)} of the first {self.records} lines do not have "
            f"{self.expected} fields (line {first.line} has {first.fields}): the file is not "
            f"read as it is written; is source.sep right (read with {shown}), and "
            "source.header?"
        )

    def result(self, sep: str) -> LineScan:
        names = None
        if self.header_bytes is not None:
            names = split_header(self.header_bytes, self.encoding, sep)
        return LineScan(names, self.expected or 0, self.records, self.bad, self.quoted, self.stray)


def split_header(raw: bytes, encoding: str, sep: str) -> list[str]:
    """The column names of a header line as pandas reads them (quotes removed, BOM dropped)."""
    text = raw.decode(encoding, errors="replace").rstrip("\r\n").removeprefix("\ufeff")
    if sep == WHITESPACE:
        return [name.strip('"') for name in text.split()]
    return next(csv.reader([text], delimiter=sep), [])


def _record_ends(buf: bytes, quoted: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Positions of the newlines that end a record (outside quotes), of every newline, and of
    the quotes (None when the chunk has none). A byte is inside quotes when an odd number of
    quotes stands before it: a look-up per newline or delimiter, not a pass over every byte."""
    b = np.frombuffer(buf, dtype=np.uint8)
    newlines = np.flatnonzero(b == _NEWLINE)
    if not quoted:
        return newlines, newlines, None
    quotes = np.flatnonzero(b == _QUOTE)
    return newlines[_outside(quotes, newlines)], newlines, quotes


def _outside(quotes: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Which ``positions`` stand outside quotes (an even number of quotes before them)."""
    return (np.searchsorted(quotes, positions) & 1) == 0


def _fields(part: bytes, ends: np.ndarray, sep: str, quotes: np.ndarray | None) -> np.ndarray:
    """Fields per record of ``part`` (records end at ``ends``); 0 for a blank line.
    ``quotes``: positions of the quotes (None: none)."""
    b = np.frombuffer(part, dtype=np.uint8)
    bounds = np.concatenate(([0], ends + 1)).astype(np.int64)
    bounds[-1] = min(bounds[-1], len(b))
    if sep == WHITESPACE:
        word = ~np.isin(b, _SPACES)
        starts = np.flatnonzero(word & ~np.concatenate(([False], word[:-1])))
        if quotes is not None:  # a quoted space does not start a word
            starts = starts[_outside(quotes, starts)]
        return _per_record(starts, bounds)
    hits = np.flatnonzero(b == ord(sep))
    if quotes is not None:
        hits = hits[_outside(quotes, hits)]
    fields = _per_record(hits, bounds) + 1
    maybe_blank = np.flatnonzero(fields == 1)
    if maybe_blank.size:  # a line of spaces only is blank too
        solid = np.flatnonzero(~np.isin(b, _SPACES))
        fields[maybe_blank] = np.minimum(_per_record(solid, bounds)[maybe_blank], 1)
    return fields


def _has_stray_quotes(part: bytes, quotes: np.ndarray, sep: str) -> bool:
    """Whether a quote stands inside a field (``12" pizza``), not at its edge: RFC 4180 quoting
    opens at a field's start (or doubles a quote) and closes at its end (or doubles one)."""
    b = np.frombuffer(part, dtype=np.uint8)
    edges = (" ", "\t") if sep == WHITESPACE else (sep,)
    before = np.array([ord(c) for c in (*edges, "\n", '"')], dtype=np.uint8)
    after = np.array([ord(c) for c in (*edges, "\n", "\r", '"')], dtype=np.uint8)
    opening, closing = quotes[0::2], quotes[1::2]
    prev = b[opening[opening > 0] - 1]
    nxt = b[closing[closing < b.size - 1] + 1]
    return bool(not np.isin(prev, before).all() or not np.isin(nxt, after).all())


def _per_record(positions: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """How many of the (sorted) ``positions`` fall in each record ``[bounds[i], bounds[i+1])``."""
    return np.diff(np.searchsorted(positions, bounds)).astype(np.int64)


def check_decodes(part: bytes, encoding: str, file: Path, line: int) -> None:
    """Stop at the first byte ``encoding`` cannot decode, naming its line."""
    if part.isascii():
        return
    try:
        part.decode(encoding)
    except UnicodeDecodeError as err:
        at = line + part.count(b"\n", 0, err.start)
        raise SourceError(
            f"{file}: line {at}: byte 0x{part[err.start]:02x} is not valid {encoding}; "
            "set source.encoding (e.g. latin-1)"
        ) from None


def scan_lines_exact(
    stream: BinaryIO, sep: str, *, header: bool, expected: int, encoding: str
) -> LineScan:
    """The records and bad lines as Python's csv module splits them (quotes as pandas reads them)."""
    lines = _Lines(stream, encoding)
    if sep == WHITESPACE:
        records: Iterator[list[str]] = (_QUOTED_TEXT.sub("x", text).split() for text in lines)
    else:
        records = csv.reader(lines, delimiter=sep)
    scan = LineScan(header=None, expected=expected, records=0)
    before, line = 0, 1
    for fields in records:
        start, next_line = before, lines.count + 1
        before = lines.offset
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            lines.take()
            line = next_line
            continue
        text = lines.take()
        if header and scan.header is None:
            scan.header = fields
            line = next_line
            continue
        if len(fields) != expected:
            text = text[:MAX_LINE_CHARS].rstrip("\r\n")
            scan.bad.append(BadLine(scan.records, line, start, before, len(fields), text))
        scan.records += 1
        line = next_line
    return scan


class _Lines:
    """Decoded lines of a binary stream, tracking the byte offset after the last line given."""

    def __init__(self, stream: BinaryIO, encoding: str) -> None:
        self._stream, self._encoding = stream, encoding
        self.offset, self.count = 0, 0
        self._since: list[str] = []

    def __iter__(self) -> Iterator[str]:
        for raw in self._stream:
            self.offset += len(raw)
            self.count += 1
            text = raw.decode(self._encoding, errors="replace")
            self._since.append(text)
            yield text

    def take(self) -> str:
        """The text of the lines given since the last call (one record's lines)."""
        text, self._since = "".join(self._since), []
        return text
