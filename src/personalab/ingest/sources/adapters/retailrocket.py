"""RetailRocket ``events.csv``: timestamp (ms), visitorid, event (view/addtocart/transaction),
itemid, transactionid."""

from __future__ import annotations

from pathlib import Path

from personalab.ingest.sources.adapters._common import require_columns
from personalab.ingest.sources.base import RawEvents
from personalab.ingest.sources.files import map_columns, read_files


def read_retailrocket(path: Path) -> RawEvents:
    if path.is_dir() and (path / "events.csv").is_file():
        path = path / "events.csv"
    frame = read_files(
        path, "csv", dtype={"visitorid": "string", "itemid": "string", "transactionid": "string"}
    )
    require_columns(frame, ("timestamp", "visitorid", "event", "itemid"), str(path), "retailrocket")
    out = frame.rename(columns={"visitorid": "user_id", "event": "event_type", "itemid": "item_id"})
    out["event_type"] = out["event_type"].replace(
        {"addtocart": "add_to_cart", "transaction": "purchase"}
    )
    return RawEvents(
        frame=map_columns(out, {}, str(path)),
        description=f"retailrocket {path}",
        timestamp_unit="ms",
    )
