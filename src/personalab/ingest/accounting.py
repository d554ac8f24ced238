"""Where every row read went: the quarantine table, the stage's metrics, and the accounting
check ``rows_read == rows_valid + rows_quarantined + duplicates_removed + bot_events_removed``."""

from __future__ import annotations

from typing import Any

import pandas as pd

from personalab.ingest.sources import CANONICAL_COLUMNS
from personalab.ingest.sources.base import RAW_LINE_COLUMN
from personalab.ingest.validation import summarise_reasons


def quarantine_table(rows: pd.DataFrame, reasons: pd.Series) -> pd.DataFrame:
    """Rejected rows as read (values as strings), with file, row and reason first."""
    data_cols = [c for c in rows.columns if c in CANONICAL_COLUMNS]
    out = pd.DataFrame(
        {
            "file": rows["_file"].astype("str")
            if "_file" in rows
            else pd.Series(pd.NA, index=rows.index, dtype="str"),
            "row": rows["_row"].astype("int64")
            if "_row" in rows
            else pd.Series(rows.index, index=rows.index),
            "reason": reasons.reindex(rows.index).astype("str"),
        }
    )
    for col in data_cols:
        out[col] = rows[col].astype("str")
    if RAW_LINE_COLUMN in rows:  # a malformed line's text, as it stands in its file
        out["raw_line"] = rows[RAW_LINE_COLUMN].astype("str")
    return out.reset_index(drop=True)


def stage_metrics(
    sessions: pd.DataFrame,
    quarantine: pd.DataFrame,
    bots: pd.DataFrame,
    *,
    rows_read: int,
    profile: dict[str, Any],
    rate: float,
    duplicates: int,
    bot_rows: int,
    late_events: int | None,
    elapsed: float,
) -> dict[str, Any]:
    """The stage's metrics: where every row read went, sizes, and speed; checks the accounting.

    The valid events are counted in ``profile`` (:func:`~personalab.ingest.profile.build_profile`).
    ``late_events_measured`` is 1 when the arrival order was known, and only then is
    ``late_events`` reported (metrics are flat numbers: not measured is not 0).
    """
    metrics: dict[str, Any] = {
        "rows_read": rows_read,
        "rows_valid": profile["rows"],
        "rows_quarantined": len(quarantine),
        "quarantine_rate": rate,
        "duplicates_removed": duplicates,
        "bot_events_removed": bot_rows,
        "bot_users": len(bots),
        "late_events_measured": int(late_events is not None),
        **({} if late_events is None else {"late_events": late_events}),
        "users": profile["users"],
        "items": profile["items"],
        "sessions": len(sessions),
        "events_per_session": profile["rows"] / max(len(sessions), 1),
        "processing_seconds": elapsed,
        "events_per_second": rows_read / elapsed if elapsed > 0 else float("nan"),
    }
    for name, count in summarise_reasons(quarantine["reason"]).items():
        metrics[f"quarantined_{name}"] = int(count)
    check_accounting(metrics)
    return metrics


def check_accounting(metrics: dict[str, Any]) -> None:
    """Every row read is valid, quarantined, a duplicate or a bot's: an invariant, not an input problem."""
    rows_read = metrics["rows_read"]
    accounted = (
        metrics["rows_valid"]
        + metrics["rows_quarantined"]
        + metrics["duplicates_removed"]
        + metrics["bot_events_removed"]
    )
    if accounted != rows_read:  # an invariant, not an input problem
        raise AssertionError(f"row accounting broken: {accounted} accounted for, {rows_read} read")
