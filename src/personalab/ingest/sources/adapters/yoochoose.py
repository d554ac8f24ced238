"""YooChoose (RecSys Challenge 2015): anonymous shop sessions with their clicks and buys.

Files (comma-separated, no header, one event a line), as documented by the challenge:

- ``yoochoose-clicks.dat``: Session ID, Timestamp, Item ID, Category. Each line is a click on
  an item (an item page seen) and becomes a ``view``.
- ``yoochoose-buys.dat``: Session ID, Timestamp, Item ID, Price, Quantity. Each line is an item
  bought and becomes a ``purchase``.

``path`` is a folder holding either or both (clicks first, then buys; other files, such as
``yoochoose-test.dat``, are not read: its sessions belong to the challenge's test split), or
one file. A single file is a clicks file when its name says ``clicks`` or ``test``, a buys file
when it says ``buys``, else by its field count (4: clicks, 5: buys).

Units and assumptions:

- Timestamp: ISO 8601 in UTC with milliseconds and ``Z`` (``2014-04-07T10:51:09.277Z``).
- Identity: the log has no user ids; the session is the identity. The adapter gives
  ``session_id`` and no ``user_id``, and the identity step (:mod:`..identity`, ``source.identity:
  auto`` or ``session``) makes every row's ``user_id`` ``session:<session_id>``.
- Category: kept as read (``S`` marks a special offer, 1-12 are categories, 8-10 digit numbers
  are brands), except ``0``, which the challenge documents as missing: null.
- Price and quantity: a ``0`` means unknown (about half the buys carry ``0,0``): null, so the
  row is kept as a purchase without an amount instead of being quarantined as a zero quantity.
  Price is in the shop's unstated currency units, as given.
- No event ids: identical lines count as re-sends (content-hash ids).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from personalab.ingest.sources.adapters._common import (
    bookkeeping,
    name_fields,
    pick_files,
    zero_as_missing,
)
from personalab.ingest.sources.base import RawEvents
from personalab.ingest.sources.files import read_files

FMT = "yoochoose"
FILES = ("yoochoose-clicks.dat", "yoochoose-buys.dat")
CLICKS = ("session_id", "timestamp", "item_id", "category")
BUYS = ("session_id", "timestamp", "item_id", "price", "quantity")


def read_yoochoose(path: Path) -> RawEvents:
    """Clicks as views and buys as purchases, keyed by session (see the module docstring)."""
    frames = [_read_file(file) for file in pick_files(path, FILES, FMT)]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return RawEvents(frame=frame, description=f"{FMT} {path}")


def _read_file(file: Path) -> pd.DataFrame:
    """One clicks or buys file as canonical columns (values as text)."""
    raw = read_files(file, "csv", sep=",", header=False, dtype="string")
    name = file.name.lower()
    width = sum(1 for c in raw.columns if not (isinstance(c, str) and c.startswith("_")))
    is_buys = "buys" in name or ("clicks" not in name and "test" not in name and width == 5)
    frame = name_fields(raw, BUYS if is_buys else CLICKS, str(file), FMT)
    out = pd.DataFrame(
        {
            "session_id": frame["session_id"],
            "timestamp": frame["timestamp"],
            "event_type": "purchase" if is_buys else "view",
            "item_id": frame["item_id"],
        }
    )
    if is_buys:
        out["price"] = zero_as_missing(frame["price"])
        out["quantity"] = zero_as_missing(frame["quantity"])
    else:
        is_zero = (frame["category"].str.strip() == "0").fillna(False).astype(bool)
        out["category"] = frame["category"].where(~is_zero)
    return out.assign(**bookkeeping(frame))
