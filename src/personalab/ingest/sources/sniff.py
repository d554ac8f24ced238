"""What a text file is before it is parsed: its compression (from its first bytes, whatever
its name says) and its delimiter (from its first lines, when ``source.sep`` is null).

Compression by magic bytes: gzip, bz2, xz, zstd and zip (one member) are opened as streams of
their decompressed bytes, so ``events.csv`` that is really gzip is read, and ``events.csv.gz``
that is plain text is read too.

The delimiter is one of :data:`DELIMITERS` (comma, tab, semicolon, pipe), counted outside
quoted fields on each of the first lines: the one found the same number of times (at least
once) on every line wins, the most frequent first. When none is, and every line splits on
runs of spaces into the same number (two or more) of fields, the file is ``whitespace``
separated; otherwise comma. A ``::`` file (MovieLens ``ratings.dat``) is its adapter's business.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from personalab.ingest.sources.base import SourceError

#: ``sep`` meaning runs of spaces or tabs
WHITESPACE = "whitespace"
#: what ``sep: null`` chooses from, in order of preference on a tie
DELIMITERS = (",", "\t", ";", "|")
#: magic bytes at the start of a compressed file
MAGIC = {
    "gzip": b"\x1f\x8b",
    "bz2": b"BZh",
    "xz": b"\xfd7zXZ\x00",
    "zstd": b"\x28\xb5\x2f\xfd",
    "zip": b"PK\x03\x04",
}
#: bytes of the file the delimiter is sniffed from (whole lines only), and at most that many lines
SNIFF_BYTES, SNIFF_LINES = 64 * 1024, 100
_QUOTED = re.compile(rb'"(?:[^"]|"")*"')


def detect_compression(head: bytes) -> str | None:
    """The compression the first bytes of a file announce, or None for a plain file."""
    for name, magic in MAGIC.items():
        if head.startswith(magic):
            return name
    return None


@contextmanager
def open_binary(file: Path) -> Iterator[BinaryIO]:
    """The decompressed bytes of ``file`` as a stream (the file itself when not compressed)."""
    with open(file, "rb") as fh:
        head = fh.read(8)
    compression = detect_compression(head)
    if compression is None:
        with open(file, "rb") as stream:
            yield stream
        return
    try:
        with _decompressing(file, compression) as stream:
            yield stream
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile, pa.ArrowException) as err:
        raise SourceError(f"{file}: cannot read as {compression}-compressed: {err}") from None


@contextmanager
def _decompressing(file: Path, compression: str) -> Iterator[BinaryIO]:
    if compression == "gzip":
        with gzip.open(file, "rb") as stream:
            yield stream
    elif compression == "bz2":
        with bz2.open(file, "rb") as stream:
            yield stream
    elif compression == "xz":
        with lzma.open(file, "rb") as stream:
            yield stream
    elif compression == "zstd":
        with pa.input_stream(str(file), compression="zstd") as stream:
            yield stream  # type: ignore[misc]
    else:
        with zipfile.ZipFile(file) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if len(members) != 1:
                listed = ", ".join(m.filename for m in members[:5])
                raise SourceError(
                    f"{file}: a zip archive with {len(members)} files ({listed}); "
                    "unzip it and point source.path at the file or folder"
                )
            with archive.open(members[0]) as stream:
                yield stream


def read_head(stream: BinaryIO, size: int = SNIFF_BYTES) -> bytes:
    """Up to ``size`` bytes from the start of ``stream`` (which must then be reopened or rewound)."""
    chunks, got = [], 0
    while got < size:
        chunk = stream.read(size - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def sniff_sep(head: bytes, prefer_tab: bool = False) -> str:
    """The delimiter of a text file from its first bytes (see the module docstring)."""
    lines = _sample_lines(head)
    if not lines:
        return ","
    unquoted = [_QUOTED.sub(b"", line) for line in lines]
    order = ("\t", *(d for d in DELIMITERS if d != "\t")) if prefer_tab else DELIMITERS
    best, best_count = None, 0
    for sep in order:
        counts = {line.count(sep.encode()) for line in unquoted}
        if len(counts) == 1 and (count := counts.pop()) > best_count:
            best, best_count = sep, count
    if best is not None:
        return best
    if not any(d.encode() in line for line in unquoted for d in DELIMITERS if d != "\t"):
        widths = {len(line.split()) for line in unquoted}
        if len(lines) > 1 and len(widths) == 1 and widths.pop() >= 2:
            return WHITESPACE
    return ","


def _sample_lines(head: bytes) -> list[bytes]:
    """The first whole, non-blank lines of ``head`` (a UTF-8 byte-order mark removed)."""
    head = head.removeprefix(b"\xef\xbb\xbf")
    if len(head) >= SNIFF_BYTES and b"\n" in head:
        head = head[: head.rindex(b"\n")]  # the last line may be cut
    lines = [line.rstrip(b"\r") for line in head.split(b"\n")]
    return [line for line in lines if line.strip()][:SNIFF_LINES]
