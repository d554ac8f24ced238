"""Hand-made raw event rows shared by the ingest unit tests (parsing, validation, duplicates)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from personalab.ingest.events import parse_events
from personalab.ingest.sources import RawEvents
from personalab.ingest.validation import find_violations, reasons_text

CLEAN = {
    "user_id": "u1",
    "timestamp": "2024-01-01T12:00:00Z",
    "event_type": "view",
    "item_id": "i1",
    "price": 9.5,
    "quantity": 1.0,
    "rating": np.nan,
    "dwell_seconds": 3.0,
    "scroll_depth": 0.5,
}
T0 = pd.Timestamp("2024-01-01 12:00", tz="UTC")


def _raw(rows: list[dict], unit: str | None = None, fmt: str | None = None) -> RawEvents:
    return RawEvents(
        frame=pd.DataFrame(rows), description="test.csv", timestamp_unit=unit, timestamp_format=fmt
    )


def _reasons(rows: list[dict], rating_range=(0.0, 5.0), timezone: str = "UTC") -> dict[int, str]:
    """Row position -> reason text, for the rows that broke a rule."""
    flags = find_violations(parse_events(_raw(rows), timezone=timezone), rating_range)
    return reasons_text(flags).to_dict()
