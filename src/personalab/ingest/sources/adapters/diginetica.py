"""Diginetica (CIKM Cup 2016, track 2): shop sessions with item views and purchases.

Files (semicolon-separated, with a header line), as documented by the CIKM Cup:

- ``train-item-views.csv``: ``sessionId;userId;itemId;timeframe;eventdate``; each line an item
  page seen: a ``view``.
- ``train-purchases.csv``: ``sessionId;userId;timeframe;eventdate;ordernumber;itemId``; each line
  an item bought: a ``purchase`` (``ordernumber`` has no canonical column and is dropped).
- ``product-categories.csv`` (optional, folder only): ``itemId;categoryId``, joined on the item
  to give ``category``.

``path`` is a folder holding the views and/or purchases file (and optionally the categories), or
one views or purchases file (told apart by its ``ordernumber`` column). ``products.csv``
(``itemId;pricelog2;product.name.tokens``) is not read: ``pricelog2`` is a rounded log2 of the
price, so ``2 ** pricelog2`` would be off by up to a factor of 1.4 and is not given as a price.
Queries and search clicks (``train-queries.csv``, ``train-clicks.csv``) are not read either.

Units and assumptions:

- Timestamp: ``eventdate`` (``yyyy-mm-dd``, the session's date) at midnight plus ``timeframe``,
  the milliseconds since the session began. The real time of day is not in the data, so order
  *within* a session is exact while sessions of one day all start at midnight. The date is read
  in ``source.timezone`` (UTC by default). A ``timeframe`` that is not a number, is negative, or
  is more than :data:`MAX_TIMEFRAME_MS` (a year) leaves the timestamp null, so the row is
  quarantined as ``bad_timestamp`` (never an overflowed date).
- Identity: ``userId`` is empty on most rows (the shopper was not signed in). The adapter keeps
  ``userId`` (empty = null) and ``sessionId``, and the identity step decides: with ``source.identity:
  auto`` a log where fewer than half the rows have a user id is keyed by session
  (``session:<sessionId>``); otherwise each row without a user id takes its session's user, or
  ``session:<sessionId>`` (a per-row fallback).
- No quantity and no price; no event ids (identical lines count as re-sends).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from personalab.ingest.sources.adapters._common import (
    bookkeeping,
    lookup,
    map_text,
    pick_files,
    require_columns,
)
from personalab.ingest.sources.base import RawEvents
from personalab.ingest.sources.files import read_files

FMT = "diginetica"
FILES = ("train-item-views.csv", "train-purchases.csv")
CATEGORIES = "product-categories.csv"
VIEWS = ("sessionId", "userId", "itemId", "timeframe", "eventdate")
PURCHASES = ("sessionId", "userId", "timeframe", "eventdate", "ordernumber", "itemId")
#: a longer offset from the session's date is not believed (and could overflow a date)
MAX_TIMEFRAME_MS = 366 * 86_400_000


def read_diginetica(path: Path) -> RawEvents:
    """Views and purchases with their category (see the module docstring)."""
    frames = [_read_file(file) for file in pick_files(path, FILES, FMT)]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if path.is_dir() and (path / CATEGORIES).is_file():
        file = path / CATEGORIES
        table = read_files(file, "csv", sep=";", dtype="string")
        require_columns(table, ("itemId", "categoryId"), str(file), FMT)
        categories = lookup(table, "itemId", "categoryId", str(file))
        frame["category"] = map_text(frame["item_id"], categories)
    return RawEvents(frame=frame, description=f"{FMT} {path}")


def _read_file(file: Path) -> pd.DataFrame:
    """One views or purchases file as canonical columns."""
    frame = read_files(file, "csv", sep=";", dtype="string")
    is_purchases = "ordernumber" in frame.columns or "purchase" in file.name.lower()
    require_columns(frame, PURCHASES if is_purchases else VIEWS, str(file), FMT)
    out = pd.DataFrame(
        {
            "user_id": frame["userId"],
            "session_id": frame["sessionId"],
            "timestamp": session_times(frame["eventdate"], frame["timeframe"]),
            "event_type": "purchase" if is_purchases else "view",
            "item_id": frame["itemId"],
        }
    )
    return out.assign(**bookkeeping(frame))


def session_times(dates: pd.Series, offsets_ms: pd.Series) -> pd.Series:
    """Naive datetimes: each ``yyyy-mm-dd`` date at midnight plus its offset in milliseconds;
    null where either cannot be read or the offset is negative or beyond a year."""
    day = pd.to_datetime(dates, format="%Y-%m-%d", errors="coerce")
    ms = pd.to_numeric(offsets_ms, errors="coerce").astype("float64")
    ms = ms.where((ms >= 0) & (ms <= MAX_TIMEFRAME_MS))
    offset = pd.to_timedelta(np.round(ms.to_numpy()), unit="ms")
    return day + offset
