"""The canonical events table: its vocabulary, and parsing raw rows into canonical dtypes.

Parsing never drops a row: a value that cannot be parsed becomes null and is
flagged, so the rules in :mod:`personalab.ingest.validation` can quarantine it.
Timestamps are read by :mod:`personalab.ingest.timestamps` (units, formats, the range
datetime64[ns] holds). What happens next lives apart: validation rules and late events
(:mod:`~personalab.ingest.validation`), event ids and duplicates
(:mod:`~personalab.ingest.duplicates`), bots (:mod:`~personalab.ingest.bots`), all run on the
engine (:mod:`personalab.engine`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from personalab.ingest.sources import RawEvents, SourceError
from personalab.ingest.timestamps import Timestamps, UndatedNumbersError, read_timestamps

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
#: common names of the canonical event types in public logs and analytics exports, read as them
#: (after lower-casing, with spaces and hyphens as underscores: "Add to cart" is add_to_cart);
#: ``source.event_types`` maps a name before this does, so a log can mean something else by one
EVENT_SYNONYMS = {
    name: canonical
    for canonical, names in {
        "view": ("pageview", "page_view", "pv", "views", "product_view", "item_view",
                 "view_item", "detail", "detail_view", "product_detail"),
        "click": ("clicks", "item_click", "click_item"),
        "add_to_cart": ("addtocart", "add_cart", "cart", "carts", "add_to_basket",
                        "addtobasket", "basket"),
        "remove_from_cart": ("removefromcart", "remove_cart", "remove_from_basket"),
        "purchase": ("transaction", "transactions", "buy", "order", "orders", "purchased",
                     "purchases"),
        "rate": ("rating", "ratings", "rated"),
        "search": ("searches", "query"),
        "scroll": ("scrolls",),
    }.items()
    for name in names
}  # fmt: skip


@dataclass
class Parsed:
    """Typed columns plus, per row, the parsing problems found, and how timestamps were read."""

    frame: pd.DataFrame
    bad_number: np.ndarray
    #: a timestamp that parsed to a date datetime64[ns] cannot hold (nulled, never wrapped)
    out_of_range: np.ndarray | None = None
    #: how the timestamp column was read (see :class:`Timestamps`)
    timestamps_read_as: str = "iso8601"
    #: the event type names read as canonical ones (:data:`EVENT_SYNONYMS`), and the names
    #: that are none (quarantined as unknown_event_type)
    synonyms: frozenset[tuple[str, str]] = frozenset()
    unknown_types: frozenset[str] = frozenset()


def parse_events(raw: RawEvents, timezone: str = "UTC") -> Parsed:
    """Turn raw columns into canonical dtypes; unparseable values become null and are flagged.

    A non-finite number (``inf``, ``-inf``, ``1e400``) in a numeric column is ``bad_number``
    and becomes null, so no total (session revenue, dwell) can become infinite. The whole
    frame is one batch of :func:`parse_batch`.
    """
    stamps = read_timestamp_column(raw, timezone)
    return parse_batch(raw.frame, stamps, whole_number_ids(raw.frame))


def whole_number_ids(frame: pd.DataFrame) -> frozenset[str]:
    """The identifier and label columns of float dtype whose values are all whole numbers (read
    as integers: ``17850.0`` is ``"17850"``): decided on the whole column, once."""
    return frozenset(
        name
        for name in (*ID_COLUMNS, *LABEL_COLUMNS)
        if name in frame and pd.api.types.is_float_dtype(frame[name].dtype) and _whole(frame[name])
    )


def parse_batch(src: pd.DataFrame, stamps: Timestamps, whole: frozenset[str]) -> Parsed:
    """:func:`parse_events` on a batch of rows, with what is decided on whole columns given: the
    rows' parsed timestamps (``stamps``, aligned by position) and :func:`whole_number_ids`."""
    n = len(src)
    out = pd.DataFrame(index=src.index)
    for name in ID_COLUMNS:
        out[name] = (
            _to_id_string(src[name], name in whole)
            if name in src
            else pd.Series(np.nan, index=src.index, dtype="str")
        )
    for name in LABEL_COLUMNS:
        out[name] = (
            _to_id_string(src[name], name in whole).astype("category")
            if name in src
            else pd.Categorical([np.nan] * n)
        )
    out["timestamp"] = pd.Series(stamps.values.array, index=src.index)
    out["event_type"], synonyms = _event_types(src["event_type"])
    bad_number = np.zeros(n, dtype=bool)
    for name in NUMERIC_COLUMNS:
        if name not in src:
            out[name] = np.nan
            continue
        values = pd.to_numeric(src[name], errors="coerce").astype("float64")
        finite = np.isfinite(values.to_numpy())
        bad_number |= ~finite & src[name].notna().to_numpy()
        out[name] = values.where(finite)
    return Parsed(
        frame=out,
        bad_number=bad_number,
        out_of_range=stamps.out_of_range,
        timestamps_read_as=stamps.read_as,
        synonyms=frozenset(synonyms),
        unknown_types=frozenset(set(out["event_type"].cat.categories) - set(EVENT_TYPES)),
    )


def read_timestamp_column(raw: RawEvents, timezone: str) -> Timestamps:
    """:func:`read_timestamps` on the raw timestamp column; an ambiguous column stops naming its file and row."""
    try:
        return read_timestamps(
            raw.frame["timestamp"], raw.timestamp_unit, raw.timestamp_format, timezone
        )
    except UndatedNumbersError as err:
        row = raw.frame.iloc[err.position]
        where = f"{row['_file']}: row {row['_row']}" if "_file" in raw.frame else raw.description
        raise SourceError(f"{where}: {err}") from None


def _whole(values: pd.Series) -> bool:
    """Every value given is a finite whole number (``inf`` is no id)."""
    present = values.dropna()
    return bool(np.isfinite(present).all() and (present == np.floor(present)).all())


def _to_id_string(values: pd.Series, whole: bool | None = None) -> pd.Series:
    """Identifiers as strings: floats that are whole numbers lose their '.0' (``whole``: decided
    on the whole column, else on ``values``); blanks become null."""
    if pd.api.types.is_float_dtype(values.dtype) and (_whole(values) if whole is None else whole):
        values = values.astype("Int64")
    text = values.astype("str").str.strip()
    return text.where(text != "")


def _normalise_labels(values: pd.Series, meaning: Any = None) -> pd.Series:
    """Stripped, lower-cased labels as a categorical (the work is done once per distinct value);
    ``meaning``: what a cleaned label stands for (by default itself)."""
    labels = values.astype("category")
    cleaned = pd.Index(labels.cat.categories.astype(str)).str.strip().str.lower()
    if meaning is not None:
        cleaned = pd.Index([meaning(name) for name in cleaned], dtype=object)
    uniques, inverse = np.unique(np.asarray(cleaned, dtype=object), return_inverse=True)
    codes = labels.cat.codes.to_numpy()
    new_codes = inverse[np.maximum(codes, 0)] if inverse.size else np.zeros_like(codes)
    new_codes = np.where(codes >= 0, new_codes, -1)
    return pd.Series(pd.Categorical.from_codes(new_codes, categories=uniques), index=values.index)


def _event_types(values: pd.Series) -> tuple[pd.Series, set[tuple[str, str]]]:
    """The event types (:func:`_normalise_labels`; a name with spaces or hyphens for underscores
    is the canonical type it spells, a name in :data:`EVENT_SYNONYMS` the type it names), and
    the (name, type) pairs read through a synonym."""
    read: set[tuple[str, str]] = set()

    def meaning(name: str) -> str:
        key = re.sub(r"[\s\-]+", "_", name)
        if key in EVENT_SYNONYMS:
            read.add((name, EVENT_SYNONYMS[key]))
            return EVENT_SYNONYMS[key]
        return key if key in EVENT_TYPES else name

    return _normalise_labels(values, meaning), read
