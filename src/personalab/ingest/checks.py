"""The ingest stage's row checks: parse every row into the spool, apply the validation rules and
the rules that relate rows (late arrivals, conflicting event ids), and quarantine what fails.

:func:`validate_rows` returns a :class:`Checked`: the rows that passed, as an engine table, with
the quarantine table and what reading and checking found (notes and warnings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from personalab.engine import Engine
from personalab.ingest.accounting import quarantine_table
from personalab.ingest.duplicates import CONTENT, conflicting_ids
from personalab.ingest.events import LABEL_COLUMNS
from personalab.ingest.messages import items_notes, late_notes, synonym_notes, too_many_rejected
from personalab.ingest.params import IngestParams
from personalab.ingest.sources import REJECT_COLUMN, RawEvents
from personalab.ingest.sources.base import MALFORMED_LINE
from personalab.ingest.spool import Spool, column_reading, kept_order, raw_rows, spool_events
from personalab.ingest.timestamps import timestamp_notes
from personalab.ingest.validation import (
    ARRIVAL_COLUMN,
    arrival_known,
    late_positions,
    plausible_window,
    rating_scale,
    reasons_text,
    require_arrival_order,
    rule_flags,
    rule_frame,
)

#: the spool's columns of the events (with ``pos``, without ``reject``): the rows that pass are
#: read from the spool again, less the few that failed (found by ``pos``). At 10 M events,
#: copying every column of every checked row into the engine took 12.7 s; keeping only the
#: failed rows takes 5 to 6 s
KEY_COLUMNS = ("pos", "event_id", *CONTENT, "dwell_seconds", *LABEL_COLUMNS, "scroll_depth")


@dataclass
class Checked:
    """What validation leaves: the rows that passed (an engine table), the quarantine table and
    rate, late events (None when not measured), the time order, how timestamps were read."""

    clean: Any
    rows: Any  # the failed rows' ``pos`` and flags: cached, ``clean`` reads it (release once read)
    spool: Spool
    quarantine: pd.DataFrame
    rate: float
    late_events: int | None
    order: dict[str, Any]
    read_as: str
    notes: list[str]  # how the rows were read and checked, in sentences
    warnings: list[str] = field(default_factory=list)  # what may be wrong with the answer


def validate_rows(
    raw: RawEvents, params: IngestParams, rows_read: int, engine: Engine, folder: Path
) -> Checked:
    """Parse and check every row.

    Rows sharing an event id with other content are quarantined as ``conflicting_event_id``
    (only among rows that pass every other rule). Late events are counted among all rows when
    they are quarantined, else among those otherwise valid. Releases ``raw.frame`` (keeps its
    rejected rows); raises :class:`QuarantineRateError` (carrying the quarantine table) when
    too many rows fail.
    """
    require_arrival_order(raw.frame, params)  # parameter errors first, before any work
    window = plausible_window(params.plausible_timestamps, pd.Timestamp.now(tz="UTC"))
    timezone = params.source.timezone
    reading = column_reading(raw, "timestamp", timezone)  # decided on the whole column
    arrival = column_reading(raw, ARRIVAL_COLUMN, timezone) if ARRIVAL_COLUMN in raw.frame else None
    known = arrival is not None or arrival_known(params)
    spool = spool_events(raw, reading, arrival, timezone, folder / "parsed.parquet")
    pa.default_memory_pool().release_unused()  # Arrow's allocator keeps what parsing freed
    parsed = engine.read_parquet(spool.path)
    malformed = parsed.reject.fill_null("") == MALFORMED_LINE  # no fields to check: its one reason
    items = bool(engine.scalar(parsed.item_id.notnull().any()))  # a log without: item rule off
    scale, scale_notes, scale_warnings = rating_scale(parsed, engine, params.rating_range)
    warnings = [*spool.warnings, *scale_warnings]
    flagged = rule_flags(parsed, scale, window, items)
    rules = {rule: flag & ~malformed for rule, flag in flagged.items()}
    failing = ibis.or_(*rules.values()) | parsed.reject.notnull()
    rows = parsed.select("pos", "event_id", *CONTENT, **rules, bad=failing)
    quarantine_late = params.late_events == "quarantine"
    if known:
        lateness = round(params.allowed_lateness_minutes * 60e9)
        late = late_positions(parsed, lateness, spool.arrival)
        rows = rows.mutate(late=rows.pos.isin(late.pos))
        rows = rows.mutate(bad=rows.bad | rows.late) if quarantine_late else rows
    conflicts = conflicting_ids(rows.filter(~rows.bad)).mutate(conflict=True)
    rows = rows.left_join(conflicts, "event_id").drop("event_id_right")
    rows = rows.mutate(conflict=rows.conflict.fill_null(False) & ~rows.bad)
    late = rows.late if known else ibis.literal(False)
    # the rows that failed, or were late: few, so kept (``pos`` and flags) for ``clean`` below
    held = engine.cache(
        rows.filter(rows.bad | rows.conflict | late).select(
            "pos", "bad", "conflict", *rules, late=late
        )
    )
    marked = engine.fetch(held, order_by=["pos"])
    flags = rule_frame(marked, late_events=quarantine_late)
    bad = np.zeros(rows_read, dtype=bool)
    bad[flags.index.to_numpy()] = (marked["bad"] | marked["conflict"]).to_numpy(dtype=bool)
    late_events = None
    if known:
        late_at = marked["late"].to_numpy(dtype=bool)
        late_events = int(
            late_at.sum() if quarantine_late else (late_at & ~bad[marked["pos"]]).sum()
        )
    flags = flags.loc[bad[flags.index.to_numpy()]]
    order = kept_order(spool, bad)
    rejected = raw_rows(raw, np.flatnonzero(bad))
    pa.default_memory_pool().release_unused()  # what reading the source batches left
    extra = rejected[REJECT_COLUMN].set_axis(flags.index) if REJECT_COLUMN in rejected else None
    reasons = reasons_text(flags, extra).set_axis(rejected.index)
    quarantine = quarantine_table(rejected, reasons)
    if raw.batches is None:
        raw.frame = rejected  # release the raw rows: only the rejected ones are still needed
    rate = len(quarantine) / rows_read
    if rate > params.max_quarantine_rate:
        raise too_many_rejected(
            raw.description, quarantine, rows_read, params, spool.unknown_types, spool.read_as
        )
    failed = held.filter(held.bad | held.conflict).select("pos")
    clean = parsed.select(*KEY_COLUMNS).anti_join(failed, "pos")
    notes = [*timestamp_notes(spool.read_as), *synonym_notes(spool.synonyms), *scale_notes]
    notes += [*items_notes(items), *late_notes(late_events)]
    return Checked(
        clean, held, spool, quarantine, rate, late_events, order, spool.read_as, notes, warnings
    )
