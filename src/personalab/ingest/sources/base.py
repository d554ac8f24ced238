"""What every reader produces: canonical column names, the raw-rows container, the error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from personalab.core.errors import InputError

CANONICAL_COLUMNS = (
    "event_id", "user_id", "session_id", "timestamp", "event_type", "item_id", "category",
    "price", "quantity", "rating", "dwell_seconds", "scroll_depth", "device", "channel",
)  # fmt: skip
REQUIRED_COLUMNS = ("user_id", "timestamp", "event_type")
ID_COLUMNS = ("event_id", "user_id", "session_id", "item_id")
FILE_FORMATS = ("csv", "parquet", "jsonl")
#: adapters may flag rows they reject themselves in this column (the reason, else null)
REJECT_COLUMN = "_reject"
BOOKKEEPING_COLUMNS = ("_file", "_row")


class SourceError(InputError, ValueError):
    """The source cannot be read as asked: the message names the file and what is wrong."""


@dataclass
class RawEvents:
    """Rows as read, renamed to canonical columns, plus how to parse them."""

    frame: pd.DataFrame
    description: str
    timestamp_unit: str | None = None  # for numeric epochs: s, ms, us, ns
    timestamp_format: str | None = None  # strptime format; None = ISO 8601
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def has_event_id(self) -> bool:
        return "event_id" in self.frame and bool(self.frame["event_id"].notna().any())
