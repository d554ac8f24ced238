"""REES46 monthly CSVs: event_time, event_type (view/cart/remove_from_cart/purchase),
product_id, category_id, category_code, brand, price, user_id, user_session.

``event_time`` (``2019-10-01 00:00:00 UTC``) is UTC. ``cart`` is ``add_to_cart``. The category
is ``category_code`` (``electronics.smartphone``), or the numeric ``category_id`` where the code
is empty (about a third of the rows), so an item always has one. ``brand`` has no canonical
column and is dropped. A folder's monthly files are read in name order (``2019-Nov.csv``
before ``2019-Oct.csv``): the profile may call the log out of time order, which changes
nothing the stages do.
"""

from __future__ import annotations

from pathlib import Path

from personalab.ingest.sources.adapters._common import require_columns
from personalab.ingest.sources.base import RawEvents
from personalab.ingest.sources.files import map_columns, read_files


def read_rees46(path: Path) -> RawEvents:
    frame = read_files(
        path, "csv", dtype={"product_id": "string", "category_id": "string", "user_id": "string"}
    )
    require_columns(
        frame, ("event_time", "event_type", "product_id", "user_id"), str(path), "rees46"
    )
    out = frame.rename(
        columns={"event_time": "timestamp", "product_id": "item_id", "user_session": "session_id"}
    )
    out["event_type"] = out["event_type"].replace({"cart": "add_to_cart"})
    if "category_code" in out:
        out["category"] = out["category_code"].fillna(out.get("category_id"))
    elif "category_id" in out:
        out["category"] = out["category_id"]
    if out["timestamp"].dtype != "datetime64[ns, UTC]":
        out["timestamp"] = out["timestamp"].astype("string").str.removesuffix(" UTC")
    return RawEvents(
        frame=map_columns(out, {}, str(path)),
        description=f"rees46 {path}",
        timestamp_format="%Y-%m-%d %H:%M:%S",
    )
