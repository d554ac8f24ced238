"""The canonical events table: its vocabulary, and parsing raw rows into canonical dtypes.

Parsing never drops a row: a value that cannot be parsed becomes null and is
flagged, so the rules in :mod:`personalab.ingest.validation` can quarantine it.
What happens next lives apart: validation rules and late events
(:mod:`~personalab.ingest.validation`), event ids and duplicates
(:mod:`~personalab.ingest.duplicates`), bots (:mod:`~personalab.ingest.bots`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from personalab.ingest.sources import CANONICAL_COLUMNS, RawEvents

EVENT_TYPES = (
    "view",
    "click",
    "scroll",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "purchase",
    "rate",
)
ITEM_EVENTS = ("view", "click", "add_to_cart", "remove_from_cart", "purchase", "rate")
NUMERIC_COLUMNS = ("price", "quantity", "rating", "dwell_seconds", "scroll_depth")
ID_COLUMNS = ("event_id", "user_id", "session_id", "item_id")
LABEL_COLUMNS = ("category", "device", "channel")  # few distinct values: stored as categoricals
EVENT_TYPE_DTYPE = pd.CategoricalDtype(list(EVENT_TYPES))
_OFFSET = r"(?:[Zz]|[+-]\d{2}:?\d{2})\s*$"  # a timestamp string that names its zone


@dataclass
class Parsed:
    """Typed columns plus, per row, the parsing problems found."""

    frame: pd.DataFrame
    bad_number: np.ndarray


def parse_events(raw: RawEvents, timezone: str = "UTC") -> Parsed:
    """Turn raw columns into canonical dtypes; unparseable values become null and are flagged."""
    src = raw.frame
    n = len(src)
    out = pd.DataFrame(index=src.index)
    for name in ID_COLUMNS:
        out[name] = (
            _to_id_string(src[name])
            if name in src
            else pd.Series(np.nan, index=src.index, dtype="str")
        )
    for name in LABEL_COLUMNS:
        out[name] = (
            _to_id_string(src[name]).astype("category")
            if name in src
            else pd.Categorical([np.nan] * n)
        )
    out["timestamp"] = parse_timestamps(
        src["timestamp"], raw.timestamp_unit, raw.timestamp_format, timezone
    )
    out["event_type"] = _normalise_labels(src["event_type"])
    bad_number = np.zeros(n, dtype=bool)
    for name in NUMERIC_COLUMNS:
        if name not in src:
            out[name] = np.nan
            continue
        values = pd.to_numeric(src[name], errors="coerce").astype("float64")
        bad_number |= (values.isna() & src[name].notna()).to_numpy()
        out[name] = values
    return Parsed(frame=out, bad_number=bad_number)


def parse_timestamps(
    values: pd.Series, unit: str | None, fmt: str | None, timezone: str = "UTC"
) -> pd.Series:
    """Parse epochs (``unit``), strptime strings (``fmt``) or ISO 8601 to UTC; failures become NaT."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert(
            "UTC"
        )
    if unit is not None or pd.api.types.is_numeric_dtype(values.dtype):
        numbers = pd.to_numeric(values, errors="coerce")
        return pd.to_datetime(numbers, unit=unit or "s", utc=True, errors="coerce")
    text = values.astype("str")
    # strings with an offset (or Z) are exact; naive strings are read in ``timezone``
    parsed = pd.to_datetime(text, format=fmt or "ISO8601", errors="coerce", utc=True)
    if timezone != "UTC":
        naive = ~text.str.contains(_OFFSET, regex=True, na=False)
        if naive.any():
            local = pd.to_datetime(text[naive], format=fmt or "ISO8601", errors="coerce")
            local = local.dt.tz_localize(
                timezone, ambiguous="NaT", nonexistent="NaT"
            ).dt.tz_convert("UTC")
            parsed = parsed.copy()
            parsed[naive] = local
    return parsed


def _to_id_string(values: pd.Series) -> pd.Series:
    """Identifiers as strings: floats that are whole numbers lose their '.0'; blanks become null."""
    if pd.api.types.is_float_dtype(values.dtype):
        whole = values.dropna()
        if (whole == np.floor(whole)).all():
            values = values.astype("Int64")
    text = values.astype("str").str.strip()
    return text.where(text != "")


def _normalise_labels(values: pd.Series) -> pd.Series:
    """Stripped, lower-cased labels as a categorical (the work is done once per distinct value)."""
    labels = values.astype("category")
    cleaned = pd.Index(labels.cat.categories.astype(str)).str.strip().str.lower()
    uniques, inverse = np.unique(np.asarray(cleaned, dtype=object), return_inverse=True)
    codes = labels.cat.codes.to_numpy()
    new_codes = inverse[np.maximum(codes, 0)] if inverse.size else np.zeros_like(codes)
    new_codes = np.where(codes >= 0, new_codes, -1)
    return pd.Series(pd.Categorical.from_codes(new_codes, categories=uniques), index=values.index)


def canonical_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns in the contract's order, event_type as a categorical."""
    out = frame[list(CANONICAL_COLUMNS)].copy()
    out["event_type"] = out["event_type"].astype(EVENT_TYPE_DTYPE)
    return out
