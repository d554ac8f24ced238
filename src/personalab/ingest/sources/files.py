"""Generic files (``csv``, ``parquet``, ``jsonl``): one file or a folder of them, read as they
are, with each row's ``_file`` and ``_row``; and the mapping of file columns to canonical ones.

- Text files (:mod:`.delimited`, :mod:`.jsonl`): compression from the content, ``sep``
  sniffed or set, a header or ``names``, ``encoding`` (an undecodable byte names its line),
  and a ragged or unparseable line kept as a row with ``_reject`` = ``malformed_line`` and its
  text in ``_raw_line``, so it is quarantined, not the whole file lost.
- Missing values: the same :data:`~.base.MISSING_TOKENS` mean missing in CSV fields, JSON
  strings and Parquet strings.
- A folder: its files with the format's extensions (compressed or not), in name order; an
  empty or header-only file, or a README/LICENSE, is skipped with a note. A single empty file
  is an error naming it.
- What reading noticed (notes, skipped files, malformed lines, also those read by adapters)
  reaches the :class:`~.base.RawEvents` of :func:`~.read.read_source` through
  :func:`reading_log`, which decorates it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from personalab.ingest.sources.base import (
    BOOKKEEPING_COLUMNS,
    CANONICAL_COLUMNS,
    MALFORMED_LINE,
    MISSING_TOKENS,
    RAW_LINE_COLUMN,
    REJECT_COLUMN,
    RawEvents,
    SourceError,
)
from personalab.ingest.sources.delimited import (
    EmptyFileError,
    TextRead,
    describe_sep,
    read_delimited,
)
from personalab.ingest.sources.jsonl import read_jsonl

_COMPRESSED = ("", ".gz", ".bz2", ".xz", ".zst", ".zip")
_EXTENSIONS = {
    "csv": tuple(e + c for e in (".csv", ".tsv", ".txt", ".dat") for c in _COMPRESSED),
    "parquet": (".parquet", ".pq"),
    "jsonl": tuple(e + c for e in (".jsonl", ".json", ".ndjson") for c in _COMPRESSED),
}
#: files of a folder that are documentation, not data (matched on the start of the name)
_DOCUMENTATION = ("readme", "license", "licence", "notice", "changelog", "copying")
_LONGEST_TOKEN = max(len(token.encode()) for token in MISSING_TOKENS)
#: columns besides the canonical ones that travel with each row
_CARRIED = (*BOOKKEEPING_COLUMNS, REJECT_COLUMN, RAW_LINE_COLUMN)


@dataclass
class ReadLog:
    """What reading noticed besides the rows, collected while a source is read."""

    encoding: str | None = None  # the source's encoding, for readers that do not set one
    notes: list[str] = field(default_factory=list)
    files_skipped: int = 0
    malformed: list[tuple[str, int, str]] = field(default_factory=list)  # file, row, text


_LOG: ContextVar[ReadLog | None] = ContextVar("personalab_read_log", default=None)
_Reader = TypeVar("_Reader", bound=Callable[..., RawEvents])


def reading_log(read: _Reader) -> _Reader:
    """Decorate a source reader (:func:`~.read.read_source`): every file read inside it, by an
    adapter too, reads in its ``encoding`` unless the adapter sets one, and reports its notes,
    skipped files and malformed lines, which end up on the returned :class:`RawEvents`."""

    @functools.wraps(read)
    def wrapper(*args: Any, **kwargs: Any) -> RawEvents:
        log = ReadLog(encoding=kwargs.get("encoding"))
        token = _LOG.set(log)
        try:
            raw = read(*args, **kwargs)
        finally:
            _LOG.reset(token)
        return attach_log(raw, log)

    return wrapper  # type: ignore[return-value]


def attach_log(raw: RawEvents, log: ReadLog) -> RawEvents:
    """Put the log on ``raw``: notes, skipped files, and each malformed line marked on its row
    (found by ``_file`` and ``_row``; an adapter may have rebuilt the frame), or added as a row
    when the reader's output no longer has it."""
    raw.notes = [*log.notes, *raw.notes]
    raw.files_skipped += log.files_skipped
    if not log.malformed:
        return raw
    marks = pd.DataFrame(log.malformed, columns=["_file", "_row", RAW_LINE_COLUMN])
    frame = raw.frame
    if "_file" not in frame or "_row" not in frame:  # rows not traceable: keep the lines apart
        frame = frame.assign(_file=pd.NA, _row=-1)
    rows = frame[["_file", "_row"]].astype({"_file": "str", "_row": "int64"})
    rows["_at"] = np.arange(len(frame))
    rows = rows.loc[rows["_row"].isin(marks["_row"])]
    hits = rows.merge(marks, on=["_file", "_row"])
    at = hits["_at"].to_numpy()
    none = pd.Series(None, index=frame.index, dtype=object)
    reject = np.array(frame.get(REJECT_COLUMN, none), dtype=object)  # a writable copy
    text = np.array(frame.get(RAW_LINE_COLUMN, none), dtype=object)
    reject[at], text[at] = MALFORMED_LINE, hits[RAW_LINE_COLUMN].to_numpy(object)
    frame[REJECT_COLUMN] = pd.Series(reject, index=frame.index, dtype=object)
    frame[RAW_LINE_COLUMN] = pd.Series(text, index=frame.index, dtype=object)
    lost = marks.merge(rows[["_file", "_row"]], how="left", indicator=True)
    lost = lost.loc[lost["_merge"] == "left_only"].drop(columns="_merge")
    if len(lost):
        lost[REJECT_COLUMN] = MALFORMED_LINE
        frame = pd.concat([frame, lost], ignore_index=True)
    raw.frame = frame
    return raw


def list_files(path: Path, fmt: str) -> list[Path]:
    """The file itself, or the files of a folder with the format's extensions (sorted)."""
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(
            p for p in path.iterdir() if p.is_file() and p.name.lower().endswith(_EXTENSIONS[fmt])
        )
        if not files:
            listed = ", ".join(e for e in _EXTENSIONS[fmt] if not e.endswith(_COMPRESSED[1:]))
            compressed = ", compressed or not" if fmt != "parquet" else ""
            raise SourceError(f"{path}: folder holds no {fmt} file ({listed}{compressed})")
        return files
    raise SourceError(f"{path}: no such file or folder")


def read_files(path: Path, fmt: str, **options: Any) -> pd.DataFrame:
    """Read one file or every file of a folder, adding ``_file`` and ``_row`` (the 0-based data
    row in its file); malformed lines are rows with ``_reject`` and ``_raw_line`` set."""
    log = _LOG.get()
    if log is not None and log.encoding and fmt != "parquet":
        options.setdefault("encoding", log.encoding)
    files = list_files(path, fmt)
    frames, skipped, sniffed = [], [], {}
    for file in files:
        if path.is_dir() and file.name.lower().startswith(_DOCUMENTATION):
            skipped.append(f"{file}: skipped (documentation, not data)")
            continue
        try:
            read = _read_one(file, fmt, **options)
        except EmptyFileError as err:
            if not path.is_dir():
                raise
            skipped.append(f"{err}; skipped")
            continue
        frame = read.frame
        if fmt == "csv" and not options.get("sep") and read.sep is not None:
            sniffed.setdefault(describe_sep(read.sep), file.name)
        # one category per file: a file name per row would be the largest column of a big log
        codes = np.full(len(frame), files.index(file), dtype=np.int32)
        frame["_file"] = pd.Categorical.from_codes(codes, [f.name for f in files])
        frame["_row"] = np.arange(len(frame)) if read.rows is None else read.rows
        frames.append(frame)
        if read.malformed:
            _log_malformed(log, file, read)
    if log is not None:
        if sniffed:
            seps = ", ".join(
                f"{sep} ({name})" if len(sniffed) > 1 else sep for sep, name in sniffed.items()
            )
            log.notes.append(f"{path}: fields separated by {seps}, as sniffed (source.sep sets it)")
        log.notes.extend(skipped)
        log.files_skipped += len(skipped)
    if not frames:
        raise SourceError(f"{path}: no data rows in any file ({'; '.join(skipped)})")
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    frame["_file"] = frame["_file"].cat.remove_unused_categories()
    return frame


def _log_malformed(log: ReadLog | None, file: Path, read: TextRead) -> None:
    first = read.malformed[0]
    detail = (
        f"{first.fields} field(s), not {read.expected}" if read.expected else "not a JSON object"
    )
    note = (
        f"{file}: {len(read.malformed)} malformed line(s) quarantined as {MALFORMED_LINE} "
        f"(first: line {first.line}, {detail})"
    )
    if log is not None:
        log.notes.append(note)
        log.malformed.extend((file.name, b.record, b.text) for b in read.malformed)


def _read_one(file: Path, fmt: str, **options: Any) -> TextRead:
    if fmt == "csv":
        return read_delimited(file, **options)
    if fmt == "jsonl":
        read = read_jsonl(file, options.get("encoding") or "utf-8")
        read.frame = blank_missing_tokens(read.frame)
        return read
    if fmt == "parquet":
        return TextRead(_read_parquet(file, **options), sep="")
    raise SourceError(f"{file}: unknown file format {fmt!r}")


def _read_parquet(file: Path, **options: Any) -> pd.DataFrame:
    if file.stat().st_size == 0:
        raise EmptyFileError(f"{file}: empty file (0 bytes)")
    try:
        frame = pd.read_parquet(file, **options)
    except (ValueError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SourceError(f"{file}: cannot read as parquet: {first}") from None
    twice = frame.columns[frame.columns.duplicated()]
    if len(twice):
        where = [i + 1 for i, name in enumerate(frame.columns) if name == twice[0]]
        raise SourceError(
            f"{file}: columns {where[0]} and {where[1]} are both named {twice[0]!r}; "
            "give every column its own name"
        )
    if frame.empty:
        raise EmptyFileError(f"{file}: empty file (no data rows)")
    return blank_missing_tokens(frame)


def _may_hold_tokens(values: pd.Series) -> bool:
    """False when no value is as short as the longest token (a cheap pass on Arrow-backed text,
    which spares the look-up on identifier columns of millions of rows)."""
    if getattr(values.dtype, "storage", None) != "pyarrow":
        return True
    lengths = pc.binary_length(pa.array(values))
    return bool(pc.any(pc.less_equal(lengths, _LONGEST_TOKEN)).as_py())


def blank_missing_tokens(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with :data:`~.base.MISSING_TOKENS` in its text columns made null (as in CSV)."""
    changed = {}
    for name, values in frame.items():
        if isinstance(values.dtype, pd.CategoricalDtype):
            hits = [c for c in values.cat.categories if c in MISSING_TOKENS]
            if hits:
                changed[name] = values.cat.remove_categories(hits)
        elif values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            if not _may_hold_tokens(values):
                continue
            try:
                missing = values.isin(MISSING_TOKENS)
            except TypeError:  # unhashable values (nested JSON): compare the text ones only
                missing = values.map(lambda v: isinstance(v, str) and v in MISSING_TOKENS)
            if missing.any():
                changed[name] = values.where(~missing)
    if not changed:
        return frame
    out = frame.copy(deep=False)
    for name, values in changed.items():
        out[name] = values
    return out


def dropped_note(frame: pd.DataFrame, columns: Mapping[str, str], shown: int = 8) -> list[str]:
    """A sentence for the run naming the file's columns :func:`map_columns` drops (neither
    mapped nor canonical, or shadowed by a mapped one), so a column meant to be kept is seen."""
    targets = set(columns.values())
    kept = (*CANONICAL_COLUMNS, *_CARRIED, "arrival")
    dropped = [
        str(c)
        for c in frame.columns
        if not str(c).startswith("_") and c not in columns and (c not in kept or c in targets)
    ]
    if not dropped:
        return []
    more = f" and {len(dropped) - shown} more" if len(dropped) > shown else ""
    return [
        f"columns: {', '.join(dropped[:shown])}{more} dropped (neither mapped in source.columns "
        "nor a canonical name); map one to a canonical column to keep it"
    ]


def map_columns(frame: pd.DataFrame, columns: Mapping[str, str], where: str) -> pd.DataFrame:
    """Rename file columns to canonical names; keep canonical and bookkeeping columns only
    (and ``arrival``: when each row arrived, which makes late events measurable)."""
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        have = ", ".join(c for c in frame.columns if not c.startswith("_"))
        raise SourceError(
            f"{where}: source.columns maps column(s) {', '.join(map(repr, missing))} that the file lacks (have: {have})"
        )
    bad = {src: dst for src, dst in columns.items() if dst not in (*CANONICAL_COLUMNS, "arrival")}
    if bad:
        src, dst = next(iter(bad.items()))
        raise SourceError(
            f"{where}: source.columns maps {src!r} to {dst!r}, which is not a canonical column ({', '.join(CANONICAL_COLUMNS)}) nor arrival"
        )
    targets = list(columns.values())
    shared = sorted({dst for dst in targets if targets.count(dst) > 1})
    if shared:
        raise SourceError(
            f"{where}: source.columns maps several columns to {', '.join(map(repr, shared))}"
        )
    # an explicit mapping wins over a file column that already has the target's name
    shadowed = [c for c in frame.columns if c in targets and c not in columns]
    renamed = frame.drop(columns=shadowed).rename(columns=dict(columns))
    keep = [c for c in renamed.columns if c in (*CANONICAL_COLUMNS, *_CARRIED, "arrival")]
    return renamed[keep]
