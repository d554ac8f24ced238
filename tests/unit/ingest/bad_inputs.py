"""Helpers for bad-input cases: write a small file, ingest it as a user would, check the books.

Each case ends in a named error or in quarantine reasons; every case that completes must
account for every row: ``rows_read == valid + quarantined + duplicates + bot events``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from personalab.ingest.params import IngestParams
from personalab.ingest.pipeline import IngestResult, run_ingest


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def ingest(folder: Path, path: Path | str, fmt: str = "csv", **source: Any) -> IngestResult:
    """Run the ingest stage on ``path`` with the given ``source`` params (no quarantine stop)."""
    values = {"source": {"format": fmt, "path": str(path), **source}, "max_quarantine_rate": 1.0}
    return run_ingest(IngestParams.from_mapping(values, source="params/ingest.yaml"), folder)


def assert_accounted(result: IngestResult) -> None:
    m = result.metrics
    assert m["rows_read"] == (
        m["rows_valid"] + m["rows_quarantined"] + m["duplicates_removed"] + m["bot_events_removed"]
    ), m


def reasons(result: IngestResult) -> dict[str, int]:
    """Quarantined rows per reason."""
    if result.quarantine.empty:
        return {}
    return result.quarantine["reason"].value_counts().to_dict()
