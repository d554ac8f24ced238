"""What every reader produces: canonical column names, the raw-rows container, the error."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from personalab.core.errors import InputError

CANONICAL_COLUMNS = (
    "event_id", "user_id", "session_id", "timestamp", "event_type", "item_id", "category",
    "price", "quantity", "rating", "dwell_seconds", "scroll_depth", "device", "channel",
)  # fmt: skip
REQUIRED_COLUMNS = ("timestamp", "event_type")
#: a log needs one of these (source.identity says which is the identity; see .identity)
IDENTITY_COLUMNS = ("user_id", "session_id")
ID_COLUMNS = ("event_id", "user_id", "session_id", "item_id")
FILE_FORMATS = ("csv", "parquet", "jsonl")
#: adapters may flag rows they reject themselves in this column (the reason, else null)
REJECT_COLUMN = "_reject"
BOOKKEEPING_COLUMNS = ("_file", "_row")
#: the reader's reason for a line it could not split into the header's fields (or parse as JSON)
MALFORMED_LINE = "malformed_line"
#: the text of a malformed line as it stands in the file (null on every other row)
RAW_LINE_COLUMN = "_raw_line"
#: values that mean "missing" in every file format (CSV fields, JSON strings, Parquet strings);
#: compared exactly, so "na" or " NA " are values, not missing
MISSING_TOKENS = ("", "NA", "N/A", "n/a", "#N/A", "null", "NULL", "None", "NaN", "nan", "<NA>")


def as_text(value: Any) -> Any:
    """A number as the text a text column holds for it (``2.0`` as ``"2"``); text, missing
    values and anything else unchanged."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return value
    if value != value:  # NaN: missing
        return value
    return str(int(value)) if float(value).is_integer() else str(value)


def map_event_types(values: pd.Series, event_types: Mapping[str, str]) -> pd.Series:
    """``source.event_types`` applied to an event-type column: a numeric code (Tmall's
    ``action_type`` 0-3) by its text, so ``{0: click}`` maps it whatever type it was read as."""

    def named(value: Any) -> Any:
        text = as_text(value)
        return event_types.get(text, text) if isinstance(text, str) else value

    return values.map(named)


class SourceError(InputError, ValueError):
    """The source cannot be read as asked: the message names the file and what is wrong."""


def require_columns(names: list[str], path: Any, query: bool) -> None:
    """Stop when the mapped columns ``names`` lack a :data:`REQUIRED_COLUMNS` one."""
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        present = [c for c in names if not c.startswith("_")]
        raise SourceError(
            f"{path}: required column(s) {', '.join(missing)} missing after mapping "
            f"(have: {', '.join(present) or 'none'}); "
            + ("select them in source.query" if query else "map them in source.columns")
            + " or set them in source.constants"
        )


@dataclass
class RawEvents:
    """Rows as read, renamed to canonical columns, plus how to parse them."""

    frame: pd.DataFrame
    description: str
    timestamp_unit: str | None = None  # for numeric epochs: s, ms, us, ns
    timestamp_format: str | None = None  # strptime format; None = ISO 8601
    extra: dict[str, Any] = field(default_factory=dict)
    #: how the input was read, in sentences (a skipped empty file, malformed lines quarantined)
    notes: list[str] = field(default_factory=list)
    #: files of a folder left out (0 bytes, header only, documentation), each with a note
    files_skipped: int = 0
    #: a source read in batches (a large Parquet file): ``batches(columns, positions)`` yields
    #: its rows batch after batch (the ``columns`` named, else every column, with ``_file`` and
    #: ``_row``; only the rows at ``positions``, sorted, when given); ``frame`` is then an
    #: empty frame of its columns and ``n_rows`` its rows
    batches: Callable[..., Iterator[pd.DataFrame]] | None = None
    n_rows: int = 0
    #: with ``batches``: float identifier columns whose values are all whole numbers
    whole_number_ids: frozenset[str] = frozenset()

    @property
    def rows(self) -> int:
        """The rows read."""
        return self.n_rows if self.batches is not None else len(self.frame)

    @property
    def has_event_id(self) -> bool:
        if "event_id" not in self.frame:
            return False
        if self.batches is None:
            return bool(self.frame["event_id"].notna().any())
        return any(bool(b["event_id"].notna().any()) for b in self.batches(["event_id"]))
