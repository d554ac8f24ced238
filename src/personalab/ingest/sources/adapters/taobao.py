"""Taobao UserBehavior (Alibaba, Tianchi data set 649): user behaviour on Taobao, 2017-11-25 to
2017-12-03 (China time).

File ``UserBehavior.csv`` (comma-separated, no header; any file name, or a folder holding
``UserBehavior.csv``), as documented by Tianchi: ``user_id,item_id,category_id,behavior_type,
timestamp``. A copy that starts with that line as a header is read too (the line is skipped).

Units and assumptions:

- ``timestamp``: Unix epoch seconds (UTC). Rows outside the nominal nine days exist in the
  data (a few dozen in the first 100,000 rows, back to 2017-09); they are kept: only
  ``plausible_timestamps`` (params) decides what is implausible.
- ``behavior_type``: ``pv`` (page view) -> ``view``, ``cart`` -> ``add_to_cart``, ``buy`` ->
  ``purchase``. ``fav`` (item added to favourites) has no canonical event type and no honest
  stand-in (a favourite is neither a view nor a cart), so it is left as ``fav`` and quarantined
  as ``unknown_event_type`` (about 3% of rows); map it in ``params/ingest.yaml:
  source.event_types`` (e.g. ``{fav: click}``) to keep those rows as another type.
- ``category_id`` is the ``category``. No sessions (derived from gaps), no price, no event ids
  (identical lines count as re-sends).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from personalab.ingest.sources.adapters._common import bookkeeping, pick_files, read_headerless
from personalab.ingest.sources.base import RawEvents

FMT = "taobao"
FILES = ("UserBehavior.csv",)
NAMES = ("user_id", "item_id", "category_id", "behavior_type", "timestamp")
EVENT_TYPES = {"pv": "view", "cart": "add_to_cart", "buy": "purchase"}


def read_taobao(path: Path) -> RawEvents:
    """Views, carts and purchases (``fav`` kept as read; see the module docstring)."""
    file = pick_files(path, FILES, FMT)[0]
    frame = read_headerless(file, NAMES, FMT, sep=",")
    first = frame[list(NAMES)].head(1).apply(lambda col: col.str.strip().str.lower())
    if len(first) and first.iloc[0].fillna("").tolist() == list(NAMES):  # a header line
        frame = frame.iloc[1:]
    out = pd.DataFrame(
        {
            "user_id": frame["user_id"],
            "timestamp": frame["timestamp"],
            "event_type": frame["behavior_type"].str.strip().str.lower().replace(EVENT_TYPES),
            "item_id": frame["item_id"],
            "category": frame["category_id"],
        }
    )
    return RawEvents(
        frame=out.assign(**bookkeeping(frame)), description=f"{FMT} {file}", timestamp_unit="s"
    )
