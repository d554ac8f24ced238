"""Reading event sources: generic files with a column mapping, and adapters for public formats.

- :mod:`.base`: canonical column names, :class:`RawEvents` (rows as read, with ``_file`` and
  ``_row``), :class:`SourceError`
- :mod:`.files`: reading one file or a folder of csv / parquet / jsonl; mapping columns
- :mod:`.batched`: a Parquet file larger than a batch, read in batches
- :mod:`.adapters`: one module per public format
- :mod:`.read`: :func:`read_source`, which dispatches on the format and applies constants,
  required columns and the event-type vocabulary
"""

from personalab.ingest.sources.base import (
    CANONICAL_COLUMNS,
    REJECT_COLUMN,
    REQUIRED_COLUMNS,
    RawEvents,
    SourceError,
)
from personalab.ingest.sources.read import FORMATS, read_source

__all__ = [
    "CANONICAL_COLUMNS",
    "FORMATS",
    "REJECT_COLUMN",
    "REQUIRED_COLUMNS",
    "RawEvents",
    "SourceError",
    "read_source",
]
