"""Reading a timestamp column into UTC: epoch units, strptime formats, ISO 8601, and the range
``datetime64[ns]`` can hold.

How a column is read (the first that applies):

- datetimes (Parquet): kept; naive ones are local time in ``timezone``;
- numbers, or any column with an explicit ``timestamp_unit`` (s, ms, us, ns): epochs in that unit;
- numbers with a ``timestamp_format``: each number is read as its digits with the format
  (``20260131`` with ``%Y%m%d``; ``20260131093000`` with ``%Y%m%d%H%M%S``);
- numbers with neither (``timestamp_unit: auto``, the default): the unit is inferred from the
  median magnitude of the column (below 1e11: seconds, 1e14: milliseconds, 1e17: microseconds,
  else nanoseconds). A column whose median lies in 19000101..21001231 holds yyyymmdd dates,
  not epoch seconds of August 1970: it is read as yyyymmdd when every value is a valid date,
  else the stage stops (:class:`UndatedNumbersError`) asking for ``timestamp_format: "%Y%m%d"``;
- text: strptime ``timestamp_format``, else ISO 8601; strings with an offset (or Z) are exact,
  naive ones are local time in ``timezone``. A naive time that does not exist or happens twice
  in that zone (a DST gap or overlap) becomes NaT, i.e. ``bad_timestamp``. A text column of bare
  numbers that ISO 8601 cannot read is read as numbers (above).

Nothing overflows or wraps: magnitudes are checked before any conversion to nanoseconds, and a
date outside 1677-09-22..2262-04-11 becomes NaT with ``out_of_range`` set, which validation
quarantines as ``implausible_timestamp`` (as it does dates outside the plausibility window).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from personalab.core.errors import InputError

#: the dates datetime64[ns] holds (pandas' limits, rounded inwards to whole days)
NS_BOUNDS = (pd.Timestamp("1677-09-22", tz="UTC"), pd.Timestamp("2262-04-11", tz="UTC"))
_NS_PER_UNIT = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
#: median magnitude below which an epoch column is in this unit (1e11 s is year 5138; 1e11 ms 1973)
_UNIT_LIMITS = (("s", 1e11), ("ms", 1e14), ("us", 1e17))
YYYYMMDD_RANGE = (19000101, 21001231)
#: seconds per unit of numeric timestamps, reported as the metric ``timestamp_unit_seconds``
UNIT_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "yyyymmdd": 86400.0}
_OFFSET = r"(?:[Zz]|[+-]\d{2}:?\d{2})\s*$"  # a timestamp string that names its zone
_NUMBER = r"\s*[+-]?\d+(?:\.\d*)?\s*"


class UndatedNumbersError(InputError, ValueError):
    """A column of 8-digit numbers that are not all yyyymmdd dates: ambiguous without a format."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position  # of the first value that is not a date


@dataclass
class Timestamps:
    """A parsed timestamp column, and how it was read."""

    values: pd.Series  # UTC; NaT where unparseable or out of range
    out_of_range: np.ndarray  # parsed to a date datetime64[ns] cannot hold (set to NaT)
    #: "s", "ms", "us", "ns" (numeric epochs), "yyyymmdd", "format", "iso8601" or "datetime"
    read_as: str


@dataclass(frozen=True)
class Reading:
    """How a timestamp column is read, decided on the whole column (:func:`decide_reading`) and
    then applied to any part of it (:func:`apply_reading`): a column parsed batch by batch reads
    every value as the whole column would."""

    kind: str  # "datetime", "text" or "numbers"
    unit: str | None = None  # numbers: s, ms, us, ns or yyyymmdd (None with ``fmt``)
    fmt: str | None = None  # strptime format of text, or of numbers' digits

    @property
    def read_as(self) -> str:
        """See :attr:`Timestamps.read_as`."""
        if self.kind == "datetime":
            return "datetime"
        if self.fmt is not None and (self.kind == "text" or self.unit is None):
            return "format"
        return "iso8601" if self.kind == "text" else str(self.unit)


def read_timestamps(
    values: pd.Series, unit: str | None, fmt: str | None, timezone: str = "UTC"
) -> Timestamps:
    """Parse a timestamp column to UTC (see the module docstring); failures become NaT."""
    return apply_reading(values, decide_reading([values], unit, fmt, timezone), timezone)


def decide_reading(
    parts: Iterable[pd.Series], unit: str | None, fmt: str | None, timezone: str = "UTC"
) -> Reading:
    """How the column made of ``parts`` (its values in order, e.g. batch by batch) is read: by
    its dtype, an explicit unit or format, and for numbers without a unit the median magnitude
    of the whole column. Text is read as ISO 8601 unless no value of any part parses and every
    value is a bare number (the parts are then read until that is known)."""
    unit = None if unit in (None, "auto") else unit
    parts = iter(parts)
    first = next(parts)
    if isinstance(first.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(first.dtype):
        return Reading("datetime")
    if unit is not None:
        return Reading("numbers", unit=unit)
    text = not pd.api.types.is_numeric_dtype(first.dtype)
    if text and fmt is not None:
        return Reading("text", fmt=fmt)
    if fmt is not None:
        return Reading("numbers", fmt=fmt)
    magnitudes, present = [], False
    for values in itertools.chain([first], parts):
        if text:
            given = values.notna().to_numpy()
            present = present or bool(given.any())
            if _parse_text(values.astype("str"), None, timezone).notna().any():
                return Reading("text")
            if not values[given].astype("str").str.fullmatch(_NUMBER).all():
                return Reading("text")
        magnitudes.append(_magnitudes(pd.to_numeric(values, errors="coerce")))
    if text and not present:
        return Reading("text")
    return Reading("numbers", unit=_unit_of(np.concatenate(magnitudes)))


def apply_reading(values: pd.Series, reading: Reading, timezone: str = "UTC") -> Timestamps:
    """``values`` (the whole column or any part of it) read as ``reading`` says, to UTC;
    failures become NaT. Raises :class:`UndatedNumbersError` (position within ``values``) when
    a value of a yyyymmdd column is not a date."""
    if reading.kind == "datetime":
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            return _within_bounds(values.dt.tz_convert("UTC"), "datetime")
        local = values.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
        return _within_bounds(local.dt.tz_convert("UTC"), "datetime")
    if reading.kind == "text":
        return _within_bounds(
            _parse_text(values.astype("str"), reading.fmt, timezone), reading.read_as
        )
    numbers = pd.to_numeric(values, errors="coerce")
    if reading.unit is None:
        return _within_bounds(_parse_text(_digits(numbers), reading.fmt, timezone), "format")
    if reading.unit == "yyyymmdd":
        parsed = _parse_text(_digits(numbers), "%Y%m%d", timezone)
        _require_dates(numbers, parsed)
        return _within_bounds(parsed, "yyyymmdd")
    return _from_epochs(numbers, reading.unit)


def infer_epoch_unit(numbers: pd.Series) -> str:
    """The unit of an epoch column from its median magnitude, or "yyyymmdd" for 8-digit dates."""
    return _unit_of(_magnitudes(numbers))


def _magnitudes(numbers: pd.Series) -> np.ndarray:
    """The finite, non-zero magnitudes of a numeric column (what its unit is inferred from)."""
    magnitude = np.abs(numbers.to_numpy(dtype="float64", na_value=np.nan))
    return magnitude[np.isfinite(magnitude) & (magnitude > 0)]


def _unit_of(magnitude: np.ndarray) -> str:
    """The epoch unit of a column with these magnitudes (:func:`infer_epoch_unit`)."""
    if magnitude.size == 0:
        return "s"
    median = float(np.median(magnitude))
    if YYYYMMDD_RANGE[0] <= median <= YYYYMMDD_RANGE[1]:
        return "yyyymmdd"
    return next((unit for unit, limit in _UNIT_LIMITS if median < limit), "ns")


def timestamp_metrics(read_as: str) -> dict[str, float]:
    """``timestamp_unit_seconds``: the unit numeric timestamps were read in (86400 for yyyymmdd;
    absent when the timestamps were text or datetimes)."""
    return {"timestamp_unit_seconds": UNIT_SECONDS[read_as]} if read_as in UNIT_SECONDS else {}


def timestamp_notes(read_as: str) -> list[str]:
    """A sentence for the run on how numeric timestamps were read (none for text or datetimes)."""
    if read_as == "yyyymmdd":
        return ["timestamps: 8-digit numbers read as yyyymmdd dates, not epoch seconds"]
    if read_as in UNIT_SECONDS:
        return [
            f"timestamps: numbers read as epoch {read_as} (source.timestamp_unit sets the unit)"
        ]
    return []


def _from_epochs(numbers: pd.Series, unit: str) -> Timestamps:
    """Epochs to UTC, checking magnitudes before scaling to nanoseconds (no overflow, no wrap)."""
    per = _NS_PER_UNIT[unit]
    lo, hi = (bound.value for bound in NS_BOUNDS)
    if pd.api.types.is_integer_dtype(numbers.dtype) and not numbers.isna().any():
        ints = numbers.to_numpy(dtype="int64")  # exact, even for nanosecond epochs
        known = np.ones(ints.size, dtype=bool)
        inside = (ints >= -(-lo // per)) & (ints <= hi // per)
        ns = np.where(inside, ints, 0) * per
    else:
        floats = numbers.to_numpy(dtype="float64", na_value=np.nan)
        known = np.isfinite(floats)
        with np.errstate(invalid="ignore", over="ignore"):
            scaled = floats * per
            inside = known & (scaled >= lo) & (scaled <= hi)
        ns = np.round(np.where(inside, scaled, 0.0)).astype("int64")
    ns[~inside] = np.iinfo(np.int64).min  # NaT
    stamps = pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC")
    return Timestamps(
        values=pd.Series(stamps, index=numbers.index), out_of_range=known & ~inside, read_as=unit
    )


def _parse_text(text: pd.Series, fmt: str | None, timezone: str) -> pd.Series:
    """Strings with ``fmt`` (else ISO 8601) to UTC; naive ones are local time in ``timezone``."""
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


def _within_bounds(stamps: pd.Series, read_as: str) -> Timestamps:
    """NaT (and ``out_of_range``) for dates outside what datetime64[ns] holds."""
    outside = (stamps.notna() & ((stamps < NS_BOUNDS[0]) | (stamps > NS_BOUNDS[1]))).to_numpy()
    if outside.any():
        stamps = stamps.where(~outside)
    return Timestamps(values=stamps, out_of_range=outside, read_as=read_as)


def _digits(numbers: pd.Series) -> pd.Series:
    """Whole numbers as their decimal digits (20260131.0 -> "20260131"); others null."""
    floats = numbers.to_numpy(dtype="float64", na_value=np.nan)
    whole = np.isfinite(floats) & (floats == np.floor(floats)) & (np.abs(floats) < 2**53)
    text = np.where(whole, floats, 0).astype("int64").astype(str).astype(object)
    text[~whole] = None
    return pd.Series(text, index=numbers.index, dtype="str")


def _require_dates(numbers: pd.Series, parsed: pd.Series) -> None:
    """Stop when an 8-digit column has a value that is not a yyyymmdd date (see the module doc)."""
    bad = (numbers.notna() & parsed.isna()).to_numpy()
    if not bad.any():
        return
    position = int(np.flatnonzero(bad)[0])
    digits = _digits(numbers.iloc[[position]]).iloc[0]
    value = digits if isinstance(digits, str) else repr(float(numbers.iloc[position]))
    sample = numbers[~bad & numbers.notna().to_numpy()]
    like = f" like {_digits(sample.head(1)).iloc[0]}" if len(sample) else ""
    raise UndatedNumbersError(
        f"timestamp {value} is not a yyyymmdd date, but the column holds 8-digit numbers{like} "
        "that would read as epoch seconds in 1970; set params/ingest.yaml: "
        'source.timestamp_format: "%Y%m%d" (values that are not dates are then quarantined as '
        "bad_timestamp), or source.timestamp_unit: s if they really are epoch seconds",
        position,
    )


def swapped_format(fmt: str | None) -> str | None:
    """``fmt`` with its day and month swapped when it has both (``%m/%d/%Y`` -> ``%d/%m/%Y``)."""
    if fmt is None or "%d" not in fmt or "%m" not in fmt:
        return None
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


#: the reading given is doubted when it spans at least this many times the swapped one's span ...
SWAP_SPAN_RATIO = 3.0
#: ... and at least this much longer (a log of a few days read as months apart)
SWAP_SPAN_EXCESS = pd.Timedelta(days=14)


class DayMonthCheck:
    """Whether a column read with a format naming both day and month (``reading``) also reads
    with the two swapped, batch by batch, and the span of each reading. When every value reads
    both ways, the wrong reading spreads a log of a few days over months (a UCI Online Retail
    sample of 1 to 9 December 2010 read with ``%m/%d/%Y`` spans January to September):
    :meth:`warning` says so when the reading given spans far longer than the swapped one."""

    def __init__(self, reading: Reading, timezone: str) -> None:
        self.reading, self.timezone = reading, timezone
        self.swapped = swapped_format(reading.fmt) if reading.kind != "datetime" else None
        self.both = self.swapped is not None and reading.unit is None
        self.spans: dict[str, list[pd.Timestamp]] = {}

    def add(self, values: pd.Series, parsed: pd.Series) -> None:
        """One batch: its raw ``values`` and their ``parsed`` reading."""
        if not self.both:
            return
        text = (
            values.astype("str")
            if self.reading.kind == "text"
            else _digits(pd.to_numeric(values, errors="coerce"))
        )
        other = _parse_text(text, self.swapped, self.timezone)
        read = parsed.notna().to_numpy()
        if not read.any():
            return
        if other[read].isna().any():
            self.both = False
            return
        for name, stamps in (("given", parsed[read]), ("swapped", other[read])):
            low, high = stamps.min(), stamps.max()
            seen = self.spans.setdefault(name, [low, high])
            seen[:] = [min(seen[0], low), max(seen[1], high)]

    def warning(self) -> str | None:
        """The warning when the swapped reading looks like the log's (else None)."""
        if not self.both or len(self.spans) < 2:
            return None
        (g0, g1), (s0, s1) = self.spans["given"], self.spans["swapped"]
        given, swapped = g1 - g0, s1 - s0
        if given < SWAP_SPAN_RATIO * swapped or given - swapped < SWAP_SPAN_EXCESS:
            return None
        return (
            f"every timestamp also reads with day and month swapped ('{self.swapped}'): read "
            f"with source.timestamp_format '{self.reading.fmt}', as given, they span "
            f"{given.days} days ({g0:%Y-%m-%d} to {g1:%Y-%m-%d}); swapped, {swapped.days} days "
            f"({s0:%Y-%m-%d} to {s1:%Y-%m-%d}). The events were read as given: if the log is "
            "the shorter period, set the format with day and month the other way round"
        )
