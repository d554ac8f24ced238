"""What validation says: the stop when too many rows are rejected (with what to change in
``params/ingest.yaml``), and the notes on how the rows were read and checked."""

from __future__ import annotations

from typing import Any

import pandas as pd

from personalab.core.errors import InputError
from personalab.ingest.events import EVENT_TYPES
from personalab.ingest.validation import summarise_reasons


class QuarantineRateError(InputError, RuntimeError):
    """Too large a share of the source failed validation; ``quarantine`` holds the rejected rows
    (:func:`personalab.ingest.io.run_keeping_quarantine` writes them before the stop)."""

    def __init__(self, message: str, quarantine: pd.DataFrame | None = None) -> None:
        super().__init__(message)
        self.quarantine = quarantine


def too_many_rejected(
    source: str,
    quarantine: pd.DataFrame,
    rows_read: int,
    params: Any,
    unknown: frozenset[str],
    read_as: str = "",
) -> QuarantineRateError:
    """The stop when more than ``params.max_quarantine_rate`` of the rows were rejected: the
    share, the top reasons and, when unknown event types are among them, their names."""
    rate = len(quarantine) / rows_read
    top = summarise_reasons(quarantine["reason"], top=3)
    listed = ", ".join(f"{reason} ({count})" for reason, count in top.items())
    return QuarantineRateError(
        f"{source}: {len(quarantine)} of {rows_read} rows ({rate:.1%}) failed validation, "
        f"more than max_quarantine_rate {params.max_quarantine_rate:.1%}; top reasons: {listed}"
        + unknown_types_hint(unknown if "unknown_event_type" in top else frozenset())
        + (timestamp_hint(quarantine, params.source) if "bad_timestamp" in top else "")
        + (implausible_hint(quarantine, params, read_as) if "implausible_timestamp" in top else "")
        + (item_hint(quarantine) if "missing_item_id" in top else ""),
        quarantine,
    )


def _with_reason(quarantine: pd.DataFrame, reason: str) -> pd.Series:
    """Which quarantined rows have ``reason`` among their reasons (``a;b`` when several)."""
    return quarantine["reason"].str.split(";").map(lambda reasons: reason in reasons)


def _reasons_timestamps(quarantine: pd.DataFrame, reason: str) -> pd.Series:
    """The timestamps, as read from the file, of the quarantined rows with ``reason``."""
    if "timestamp" not in quarantine:
        return pd.Series()
    return quarantine.loc[_with_reason(quarantine, reason), "timestamp"]


def item_hint(quarantine: pd.DataFrame) -> str:
    """For the stop on too many rejected rows: which event types came without an item, and how
    to keep such rows out (page views that show no product, as in Coveo's ``pageview``)."""
    kinds = (
        quarantine.loc[_with_reason(quarantine, "missing_item_id"), "event_type"]
        .astype(str)
        .value_counts()
        .head(3)
    )
    listed = ", ".join(f"{kind} ({count:,})" for kind, count in kinds.items())
    return (
        f"; rows without an item: {listed}. If they are pages that show no item, leave them out "
        "in source.query (WHERE the item column IS NOT NULL); ingest keeps an item event only "
        "with its item"
    )


def timestamp_hint(quarantine: pd.DataFrame, source: Any) -> str:
    """For the stop on too many rejected rows: a timestamp as read that could not be parsed,
    how it was read, and the params that read it otherwise."""
    values = _reasons_timestamps(quarantine, "bad_timestamp")
    values = values[values.notna() & (values != "<NA>") & (values != "nan")]
    if values.empty:
        return "; the rows have no timestamp: map a column to it in source.columns"
    read = (
        f"with source.timestamp_format {source.timestamp_format!r}"
        if source.timestamp_format
        else "as ISO 8601 or an epoch number"
    )
    if "timestamp" in (source.constants or {}):
        return f"; source.constants.timestamp {values.iloc[0]!r} could not be read {read}"
    value = str(values.iloc[0])
    return f"; timestamps such as {value!r} could not be read {read}: " + _format_fix(
        values, source.timestamp_format
    )


def _format_fix(values: pd.Series, tried: str | None, sample: int = 2000) -> str:
    """What to set for timestamps that could not be read: the common pattern that reads the
    most of them (up to ``sample`` distinct values), both when two read as many (day and month
    that no value tells apart), else the pattern codes."""
    distinct = values.astype("str").str.strip().drop_duplicates().head(sample)
    shares = {
        pattern: float(pd.to_datetime(distinct, format=pattern, errors="coerce").notna().mean())
        for pattern in COMMON_FORMATS
        if pattern != tried
    }
    best = max(shares.values())
    epochs = ", or source.timestamp_unit for epoch numbers"
    if best == 0:
        return (
            "set source.timestamp_format to their pattern (as in strptime: %d day, %m month, "
            "%Y year, %H:%M:%S time, %I:%M %p a 12-hour clock)" + epochs
        )
    found = [pattern for pattern, share in shares.items() if share == best]
    share = "" if best == 1 else f" ({best:.0%} of their {len(distinct):,} distinct values)"
    if len(found) > 1:
        listed = " and as ".join(f'"{pattern}"' for pattern in found)
        return (
            f"they read as {listed}{share}: no value tells which; set source.timestamp_format "
            "to the log's own" + epochs
        )
    return f'they read as "{found[0]}"{share}: set source.timestamp_format to it' + epochs


def implausible_hint(quarantine: pd.DataFrame, params: Any, read_as: str) -> str:
    """For the stop on too many rejected rows: a timestamp outside ``plausible_timestamps``, how
    numbers were read, and what small numbers read as seconds usually are (they land in 1970)."""
    values = _reasons_timestamps(quarantine, "implausible_timestamp")
    start, end = params.plausible_timestamps
    value = str(values.iloc[0]) if len(values) else ""
    window = f"{start} to {end or 'now'}"
    hint = f"; timestamps such as {value!r} fall outside plausible_timestamps ({window})"
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    if read_as == "s" and abs(number) < 1e8:  # NaN compares False
        hint += (
            " as read, epoch seconds of 1970-1973: numbers this small are more likely Excel serial "
            "days (40,513 is 2010-12-01; convert them in source.query: TIMESTAMP '1899-12-30' + "
            "to_seconds(CAST(round(ts * 86400) AS BIGINT))) or times counted from the log's start"
        )
    elif read_as in ("s", "ms", "us", "ns"):
        hint += f" as read, epoch {read_as}: set source.timestamp_unit if that is not their unit"
    return hint + "; widen plausible_timestamps for a log that truly lies outside it"


#: patterns tried on a timestamp that could not be read, to suggest one that reads it
COMMON_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M", "%Y/%m/%d",
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M",
    "%m/%d/%Y", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%d-%m-%Y %H:%M", "%d-%m-%Y",
    "%Y%m%d", "%Y%m%d%H%M%S", "%d %b %Y", "%b %d, %Y",
    "%m/%d/%Y %I:%M %p", "%m/%d/%Y %I:%M:%S %p", "%d/%m/%Y %I:%M %p", "%d/%m/%Y %I:%M:%S %p",
    "%m/%d/%y %H:%M", "%d/%m/%y %H:%M", "%m/%d/%y", "%d/%m/%y",
    "%d %b %Y %H:%M:%S", "%d %b %Y %H:%M", "%b %d, %Y %H:%M:%S", "%b %d, %Y %H:%M",
    "%a, %d %b %Y %H:%M:%S",
)  # fmt: skip


def synonym_notes(synonyms: frozenset[tuple[str, str]]) -> list[str]:
    """A sentence for the run naming the event type names read as canonical types."""
    if not synonyms:
        return []
    read = ", ".join(f"{name!r} as {kind}" for name, kind in sorted(synonyms))
    return [
        f"event types: {read} (common names of these types; to read one otherwise, map it in "
        "source.event_types)"
    ]


def unknown_types_hint(unknown: frozenset[str], shown: int = 6) -> str:
    """For the stop on too many rejected rows: the event type names that are none, and how to
    map them."""
    if not unknown:
        return ""
    names = sorted(unknown)
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    listed = ", ".join(repr(name) for name in names[:shown]) + more
    example = ", ".join(f"{name}: view" for name in names[:2])
    return (
        f"; the log's event types {listed} are none of {', '.join(EVENT_TYPES)}: map them in "
        f"source.event_types (e.g. {{{example}}}), or raise max_quarantine_rate to drop them"
    )


def items_notes(items: bool) -> list[str]:
    """A sentence for the run when the log has no item ids."""
    if items:
        return []
    return [
        "items: the log has no item ids (item_id is empty on every row): its views, carts and "
        "purchases are kept without items, and the recommenders are skipped"
    ]


def late_notes(late_events: int | None) -> list[str]:
    """A sentence for the run when late events were not measured."""
    if late_events is not None:
        return []
    return [
        "late events: not measured (arrival order unknown: set source.arrival_ordered "
        "or map an arrival column)"
    ]


def one_time_notes(profile: dict[str, Any]) -> list[str]:
    """A sentence for the run when every event has the same time (a log without timestamps
    given one by ``source.constants``, or a snapshot)."""
    if profile["rows"] < 2 or profile["first_timestamp"] != profile["last_timestamp"]:
        return []
    return [
        f"timestamps: every event has the same time ({profile['first_timestamp']}), so the "
        "parts that need time cannot run (features' cut-offs and labels, so segments and "
        "intent; time splits and windows), a user's events make one session (unless the log "
        "names sessions) in the file's order, and the recommenders learn from the pairs alone: map a time column to "
        "timestamp if the log has one"
    ]
