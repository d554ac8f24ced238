"""Generic files (``csv``, ``parquet``, ``jsonl``): one file or a folder of them, read as they
are, with each row's ``_file`` and ``_row``; and the mapping of file columns to canonical ones."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from personalab.ingest.sources.base import BOOKKEEPING_COLUMNS, CANONICAL_COLUMNS, SourceError

_EXTENSIONS = {
    "csv": (".csv", ".csv.gz", ".tsv"),
    "parquet": (".parquet", ".pq"),
    "jsonl": (".jsonl", ".json", ".jsonl.gz", ".ndjson"),
}


def list_files(path: Path, fmt: str) -> list[Path]:
    """The file itself, or the files of a folder with the format's extensions (sorted)."""
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(
            p for p in path.iterdir() if p.is_file() and p.name.lower().endswith(_EXTENSIONS[fmt])
        )
        if not files:
            raise SourceError(f"{path}: folder holds no {fmt} file ({', '.join(_EXTENSIONS[fmt])})")
        return files
    raise SourceError(f"{path}: no such file or folder")


def read_files(path: Path, fmt: str, **options: Any) -> pd.DataFrame:
    """Read one file or every file of a folder, adding ``_file`` and ``_row``."""
    frames = []
    for file in list_files(path, fmt):
        frame = _read_one(file, fmt, **options)
        if frame.empty:
            continue
        frame["_file"] = file.name
        frame["_row"] = range(len(frame))
        frames.append(frame)
    if not frames:
        raise SourceError(f"{path}: empty file (no data rows)")
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _read_one(file: Path, fmt: str, **options: Any) -> pd.DataFrame:
    try:
        if file.stat().st_size == 0:
            raise SourceError(f"{file}: empty file (0 bytes)")
        if fmt == "csv":
            return _read_text(file, **options)
        if fmt == "parquet":
            return pd.read_parquet(file, **options)
        if fmt == "jsonl":
            return pd.read_json(file, lines=True, dtype=False, **options)
    except SourceError:
        raise
    except pd.errors.EmptyDataError:
        raise SourceError(f"{file}: empty file (no header or rows)") from None
    except (pd.errors.ParserError, ValueError, OSError, UnicodeDecodeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SourceError(f"{file}: cannot read as {fmt}: {first}") from None
    raise SourceError(f"{file}: unknown file format {fmt!r}")


def map_columns(frame: pd.DataFrame, columns: Mapping[str, str], where: str) -> pd.DataFrame:
    """Rename file columns to canonical names; keep canonical and bookkeeping columns only."""
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        have = ", ".join(c for c in frame.columns if not c.startswith("_"))
        raise SourceError(
            f"{where}: source.columns maps column(s) {', '.join(map(repr, missing))} that the file lacks (have: {have})"
        )
    bad = {src: dst for src, dst in columns.items() if dst not in CANONICAL_COLUMNS}
    if bad:
        src, dst = next(iter(bad.items()))
        raise SourceError(
            f"{where}: source.columns maps {src!r} to {dst!r}, which is not a canonical column ({', '.join(CANONICAL_COLUMNS)})"
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
    keep = [c for c in renamed.columns if c in CANONICAL_COLUMNS or c in BOOKKEEPING_COLUMNS]
    return renamed[keep]


def _read_text(
    file: Path,
    sep: str | None = None,
    header: bool = True,
    names: list[str] | None = None,
    **options: Any,
) -> pd.DataFrame:
    """A delimited text file: ``sep`` (tab for ``.tsv``, else comma, when not given; runs of
    spaces or tabs for ``"whitespace"``), a header line or ``names``."""
    if sep is None:
        sep = "\t" if file.name.endswith(".tsv") else ","
    if sep == "whitespace":
        sep = r"\s+"
    if not header:
        options.update(header=None, names=names)
    return pd.read_csv(file, sep=sep, low_memory=False, **options)
