"""CDNOW (Fader and Hardie): the purchase ledger of the customers who first bought at the CDNOW
online music store in the first quarter of 1997, followed to the end of June 1998.

Files (runs of spaces between fields, no header, one purchase a line), as distributed by Bruce
Hardie:

- ``CDNOW_master.txt``: customer id (zero-padded, ``00001``), date (``yyyymmdd``), number of CDs
  bought, dollar value of the purchase.
- ``CDNOW_sample.txt`` (the 1/10 sample): the customer's id in the master file, the customer's
  id in the sample, then the same three fields.

``path`` is one of them or a folder holding them (the master file when both are there: the
sample's customers are a subset of the master's). The layout is told by the field count: 4
fields is the master layout, 5 the sample's; anything else stops, naming the missing fields.

Units and assumptions:

- ``user_id``: the master-file customer id without its leading zeros, in both layouts, so the
  same customer has the same id in either file (``00004`` and ``4``).
- Timestamp: the date as text with ``timestamp_format`` ``%Y%m%d`` (a calendar date, midnight
  in ``source.timezone``), never a number of seconds.
- Each line is one ``purchase``; ``quantity`` is the number of CDs and ``price`` the dollar value
  divided by it (US dollars per CD). A line with 0 CDs keeps ``quantity`` 0 and no price: it is
  quarantined by validation as ``non_positive_quantity`` (never an infinite price). A value that
  is not a number is passed on as read, so validation quarantines it as ``bad_number``.
- The ledger names no products: ``item_id`` is the constant :data:`UNSPECIFIED_ITEM` (a
  purchase needs an item), so item-based steps see a single item.
- No sessions and no event ids: two identical lines (same customer, day, CDs and amount) count
  as one purchase sent twice.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from personalab.ingest.sources.adapters._common import bookkeeping, name_fields, pick_files
from personalab.ingest.sources.base import RawEvents
from personalab.ingest.sources.files import read_files

FMT = "cdnow"
FILES = ("CDNOW_master.txt", "CDNOW_sample.txt")
MASTER = ("customer_id", "date", "cds", "dollars")
SAMPLE = ("customer_id", "sample_id", "date", "cds", "dollars")
UNSPECIFIED_ITEM = "cdnow:unspecified"


def read_cdnow(path: Path) -> RawEvents:
    """One purchase per ledger line (see the module docstring)."""
    file = pick_files(path, FILES, FMT)[0]
    raw = read_files(file, "csv", sep="whitespace", header=False, dtype="string")
    width = sum(1 for c in raw.columns if not (isinstance(c, str) and c.startswith("_")))
    frame = name_fields(raw, SAMPLE if width == len(SAMPLE) else MASTER, str(file), FMT)
    cds, dollars = frame["cds"], frame["dollars"]
    n_cds = pd.to_numeric(cds, errors="coerce").astype("float64")
    amount = pd.to_numeric(dollars, errors="coerce").astype("float64")
    unit_price = (amount / n_cds).where(n_cds > 0)
    # an amount that is not a number goes on as read, for validation to flag as bad_number
    price = unit_price.astype(object).where(amount.notna() | dollars.isna(), dollars.astype(object))
    out = pd.DataFrame(
        {
            "user_id": _without_leading_zeros(frame["customer_id"]),
            "timestamp": frame["date"],
            "event_type": "purchase",
            "item_id": UNSPECIFIED_ITEM,
            "price": price,
            "quantity": cds,
        }
    )
    return RawEvents(
        frame=out.assign(**bookkeeping(frame)),
        description=f"{FMT} {file}",
        timestamp_format="%Y%m%d",
    )


def _without_leading_zeros(ids: pd.Series) -> pd.Series:
    """``00042`` -> ``42``; an id of only zeros stays ``0``; missing stays missing."""
    stripped = ids.str.lstrip("0")
    return stripped.where(stripped != "", "0").where(ids.notna())
