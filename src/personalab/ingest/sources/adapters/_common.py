"""Helpers the public-format adapters share: finding a format's files, checking a file's shape,
carrying each row's bookkeeping (file, row, a reader's reject reason), and catalogue look-ups."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from personalab.ingest.sources.base import (
    BOOKKEEPING_COLUMNS,
    RAW_LINE_COLUMN,
    REJECT_COLUMN,
    SourceError,
)
from personalab.ingest.sources.files import read_files


def require_columns(frame: pd.DataFrame, columns: tuple[str, ...], where: str, fmt: str) -> None:
    """Stop when a file with a header lacks a column the format documents."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SourceError(
            f"{where}: not a {fmt} file: column(s) {', '.join(missing)} missing (have: {', '.join(_data_columns(frame))})"
        )


def pick_files(path: Path, names: Sequence[str], fmt: str) -> list[Path]:
    """``path`` itself when it is a file; else the files of ``names`` the folder holds, in order."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise SourceError(f"{path}: no such file or folder")
    found = [path / name for name in names if (path / name).is_file()]
    if not found:
        raise SourceError(f"{path}: folder holds no {fmt} file ({', '.join(names)})")
    return found


def read_headerless(file: Path, names: Sequence[str], fmt: str, sep: str) -> pd.DataFrame:
    """A delimited file without a header, every value as text, its fields named ``names``.

    Stops when the lines do not have ``len(names)`` fields, naming the columns that are missing
    (or the count of extra ones): a fixed-layout file is never read with shifted columns.
    """
    frame = read_files(file, "csv", sep=sep, header=False, dtype="string")
    return name_fields(frame, names, str(file), fmt)


def name_fields(frame: pd.DataFrame, names: Sequence[str], where: str, fmt: str) -> pd.DataFrame:
    """Name the numbered fields of a header-less frame, checking there are ``len(names)``."""
    fields = _data_columns(frame)
    if len(fields) != len(names):
        detail = (
            f"missing: {', '.join(names[len(fields) :])}"
            if len(fields) < len(names)
            else f"{len(fields) - len(names)} extra field(s)"
        )
        raise SourceError(
            f"{where}: not a {fmt} file: {len(fields)} field(s) per line, expected {len(names)} "
            f"({', '.join(names)}); {detail}"
        )
    return frame.rename(columns=dict(zip(fields, names, strict=True)))


def bookkeeping(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """The columns that say where each row came from (and, for a line the reader could not
    split, its reject reason and text), to carry onto an adapter's own frame."""
    kept = (*BOOKKEEPING_COLUMNS, REJECT_COLUMN, RAW_LINE_COLUMN)
    return {name: frame[name] for name in kept if name in frame.columns}


def add_reason(frame: pd.DataFrame, where: pd.Series | np.ndarray, reason: str) -> pd.DataFrame:
    """``frame`` with ``reason`` in its reject column on the rows ``where`` holds, unless an
    earlier reason (e.g. the reader's ``malformed_line``) is already there."""
    mask = pd.Series(np.asarray(where, dtype=bool), index=frame.index)
    if not mask.any():
        return frame
    earlier = frame.get(REJECT_COLUMN)
    reasons = pd.Series(np.where(mask, reason, None), index=frame.index, dtype=object)
    out = frame.copy()
    out[REJECT_COLUMN] = reasons if earlier is None else earlier.where(earlier.notna(), reasons)
    return out


def lookup(table: pd.DataFrame, key: str, value: str, where: str) -> pd.Series:
    """``value`` by ``key`` from a catalogue file; a key listed twice with different values
    stops (the join would otherwise pick one silently)."""
    pairs = table[[key, value]].dropna(subset=[key]).drop_duplicates()
    clash = pairs[key].duplicated(keep=False)
    if clash.any():
        first = pairs.loc[clash, key].iloc[0]
        values = pairs.loc[pairs[key] == first, value].astype(str).tolist()
        raise SourceError(
            f"{where}: {key} {first} is listed with different {value}s ({', '.join(values)})"
        )
    return pairs.set_index(key)[value]


def positions(keys: pd.Series, values: pd.Series) -> np.ndarray:
    """Each of ``values``' position in ``keys`` (unique, no nulls), or -1 where absent: a hash
    join on text ids, done by Arrow (several times faster than pandas on ten million rows)."""
    wanted = pa.array(values.astype("string").array)
    known = pa.array(keys.astype("string").array).cast(wanted.type)
    return pc.index_in(wanted, value_set=known).fill_null(-1).to_numpy().astype(np.int64)


def map_text(values: pd.Series, table: pd.Series) -> pd.Series:
    """``values`` (text ids) looked up in ``table`` (indexed by unique text ids); null where
    absent. Like ``values.map(table)``, with the join done by :func:`positions`."""
    at = positions(table.index.to_series(), values)
    found = pd.Series(at >= 0, index=values.index)
    return table.take(np.where(found, at, 0)).set_axis(values.index).where(found)


def as_numbers(values: pd.Series) -> np.ndarray:
    """Text as float64, NaN where it is not a number (Arrow's cast when every value parses: many
    times faster than ``pd.to_numeric`` on text; else ``pd.to_numeric``)."""
    try:
        return (
            pa.array(values.astype("string").array)
            .cast(pa.float64())
            .to_numpy(zero_copy_only=False)
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pd.to_numeric(values, errors="coerce").to_numpy("float64", na_value=np.nan)


def zero_as_missing(values: pd.Series) -> pd.Series:
    """Text values with the number 0 made null (formats where 0 means unknown); other text,
    numbers or not, stays as read so validation can flag what is not a number."""
    is_zero = (pd.to_numeric(values, errors="coerce") == 0).fillna(False).astype(bool)
    return values.where(~is_zero)


def _data_columns(frame: pd.DataFrame) -> list:
    return [c for c in frame.columns if not (isinstance(c, str) and c.startswith("_"))]
