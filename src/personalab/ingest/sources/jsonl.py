"""JSON-lines files (one JSON object per line, compressed or not): one row per non-blank line,
a line that is not a JSON object kept as a row for quarantine (``malformed_line``).

The whole file is parsed by pandas at once; only when that fails are the bad lines looked
for, by halving: each half that parses is done, each that does not is halved again down to a
few lines checked one by one. Good lines are parsed once more together. So a file with a few
bad lines costs about two fast parses, not a Python loop over every line.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from personalab.ingest.sources.base import SourceError
from personalab.ingest.sources.delimited import EmptyFileError, TextRead, with_malformed
from personalab.ingest.sources.lines import MAX_LINE_CHARS, BadLine, LineScan, check_decodes
from personalab.ingest.sources.sniff import open_binary

#: below this many lines, a failing block is checked line by line
_LEAF_LINES = 16


def read_jsonl(file: Path, encoding: str = "utf-8") -> TextRead:
    """Read one JSON-lines file (see the module docstring)."""
    if file.stat().st_size == 0:
        raise EmptyFileError(f"{file}: empty file (0 bytes)")
    with open_binary(file) as stream:
        data = stream.read().removeprefix(b"\xef\xbb\xbf")
    if not data.strip():
        raise EmptyFileError(f"{file}: empty file (no rows)")
    check_decodes(data, encoding, file, 1)
    text = data.decode(encoding)
    if _every_line_opens_an_object(data):
        try:
            return TextRead(_parse(text), sep="")
        except (ValueError, TypeError):
            pass
    numbered = [
        (number, line) for number, line in enumerate(text.split("\n"), start=1) if line.strip()
    ]
    lines = [line for _, line in numbered]
    opens = np.array([line.startswith("{") for line in lines], dtype=bool)
    odd = [int(i) for i in np.flatnonzero(~opens) if not _is_object(lines[i])]
    rest = np.flatnonzero(opens)
    bad = sorted(odd + [int(rest[i]) for i in _bad_lines([lines[i] for i in rest], 0, rest.size)])
    if len(bad) == len(lines):
        number, line = numbered[0]
        raise SourceError(
            f"{file}: cannot read as jsonl: no line is a JSON object (line {number}: {line[:80]!r})"
        )
    good = np.setdiff1d(np.arange(len(lines)), bad)
    try:
        frame = _parse("\n".join(lines[i] for i in good))
    except (ValueError, TypeError) as err:
        raise SourceError(f"{file}: cannot read as jsonl: {str(err).splitlines()[0]}") from None
    malformed = [
        BadLine(
            record=i,
            line=numbered[i][0],
            start=0,
            end=0,
            fields=0,
            text=lines[i].rstrip("\r")[:MAX_LINE_CHARS],
        )
        for i in bad
    ]
    scan = LineScan(header=None, expected=0, records=len(lines), bad=malformed)
    frame, rows = with_malformed(frame, scan)
    return TextRead(frame, sep="", malformed=malformed, rows=rows)


def _every_line_opens_an_object(data: bytes) -> bool:
    """Whether every line starts with ``{`` (pandas would read a ``[1, 2]`` line as columns)."""
    b = np.frombuffer(data, dtype=np.uint8)
    starts = np.concatenate(([0], np.flatnonzero(b == ord("\n")) + 1))
    first = b[starts[starts < b.size]]
    return bool(np.all((first == ord("{")) | (first == ord("\n")) | (first == ord("\r"))))


def _parse(text: str) -> pd.DataFrame:
    frame = pd.read_json(io.StringIO(text), lines=True, dtype=False)
    if not isinstance(frame, pd.DataFrame):
        raise ValueError("not JSON objects")
    return frame


def _bad_lines(lines: list[str], lo: int, hi: int) -> list[int]:
    """Positions in ``lines[lo:hi]`` of the lines that are not one JSON object each."""
    if hi - lo <= _LEAF_LINES:
        return [i for i in range(lo, hi) if not _is_object(lines[i])]
    try:
        _parse("\n".join(lines[lo:hi]))
        return []
    except (ValueError, TypeError):
        mid = (lo + hi) // 2
        return _bad_lines(lines, lo, mid) + _bad_lines(lines, mid, hi)


def _is_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
