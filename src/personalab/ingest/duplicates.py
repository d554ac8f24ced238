"""Event ids and duplicates: ids for sources without them, re-sent events, and ids reused for
different events (Ibis expressions: one definition for every engine).

A re-sent event carries the id of one seen earlier in the file; the first arrival
is kept. A row without an event id gets ``row-<pos>``, ``pos`` being the first row
(in the order read) with the same content, so identical rows count as re-sends; unless every
timestamp is a whole quarter-hour (:func:`coarse_times`: a log of dates or hours), where two
identical rows may be two events (two views of an item in a day) and each row is its own.

An id that valid rows share with *different* content (:func:`conflicting_ids`) is not a
re-send: which row is the event cannot be told, so every row of that id is quarantined as
``conflicting_event_id`` (none is kept, none counts as a duplicate). Content is user, session,
time, event type, item, price, quantity and rating (a re-send may carry an updated dwell or
scroll depth).
"""

from __future__ import annotations

import ibis

CONTENT = ("user_id", "session_id", "ns", "event_type", "item_id", "price", "quantity", "rating")
#: timestamps that are all whole multiples of this cannot tell a re-sent event from a repeat
COARSE_NS = 15 * 60 * 10**9
COARSE_NOTE = (
    "duplicates: every timestamp is a whole quarter-hour or coarser, so identical rows "
    "without an event id may be separate events (two views of an item in a day): each is "
    "kept (events with ids are still de-duplicated by id)"
)


#: a clock of whole minutes: identical rows are still taken as re-sends, and the note says so
MINUTE_NS = 60 * 10**9


def coarse_times(rows: ibis.Table, step_ns: int = COARSE_NS) -> ibis.Value:
    """True when every timestamp (``ns``) is a whole multiple of ``step_ns`` (by default a
    quarter-hour)."""
    return (rows.ns % step_ns == 0).all()


def minute_note(removed: int) -> str:
    """The note when identical rows were removed from a log of whole-minute timestamps."""
    return (
        f"duplicates: {removed:,} rows identical to an earlier one (user, session, time, type, "
        "item, price, quantity, rating) were removed as re-sent events; every timestamp is a "
        "whole minute, so some may be separate events (two views of an item within a minute). "
        "Give the log event ids (or finer timestamps) to tell them apart"
    )


#: the share of the rows read, removed as identical to an earlier one, over which ingest warns
MANY_DUPLICATES = 0.1


def many_duplicates_warning(removed: int, rows_read: int) -> str | None:
    """A warning when identical rows without event ids were more than :data:`MANY_DUPLICATES`
    of the log: more often separate events than re-sends (an order's units, one line each)."""
    if not rows_read or removed <= MANY_DUPLICATES * rows_read:
        return None
    return (
        f"duplicates: {removed:,} of {rows_read:,} rows ({removed / rows_read:.0%}) were removed as "
        "re-sent events, being identical to an earlier row (user, session, time, type, item, "
        "price, quantity, rating). If they are separate events (the units of an order, one line "
        "each), give each row an event_id (in source.query, e.g. order_id || '-' || "
        "order_item_id AS event_id) or count them in quantity"
    )


def conflicting_ids(rows: ibis.Table) -> ibis.Table:
    """The ``event_id`` values ``rows`` share with more than one content (one column)."""
    content = [c for c in CONTENT if c in rows.columns]
    known = rows.filter(rows.event_id.notnull())
    counts = known.group_by("event_id").agg(n=known.count())
    repeated = known.semi_join(counts.filter(counts.n > 1), "event_id")  # few rows: compare those
    variants = repeated.select("event_id", *content).distinct()
    counted = variants.group_by("event_id").agg(n=variants.count())
    return counted.filter(counted.n > 1).select("event_id")


def with_content_ids(rows: ibis.Table, by_content: bool = True) -> ibis.Table:
    """``rows`` with a missing ``event_id`` set to ``row-<pos>`` of the first row of its content
    (without ``by_content``: of the row itself)."""
    content = [rows[c] for c in CONTENT if c in rows.columns]
    first = rows.pos.min().over(group_by=content) if by_content else rows.pos
    return rows.mutate(event_id=rows.event_id.fill_null("row-" + first.cast("string")))


def duplicate_positions(rows: ibis.Table) -> ibis.Table:
    """The ``pos`` of every repeat of an ``event_id`` (the first by ``pos`` is kept): one
    column, few rows. The window sorts only ``pos`` and ``event_id``, not every column of
    ``rows``, so the rows are kept by an anti-join on this small table."""
    narrow = rows.select("pos", "event_id")
    arrival = ibis.row_number().over(group_by=narrow.event_id, order_by=narrow.pos)
    marked = narrow.mutate(duplicate=arrival > 0)
    return marked.filter(marked.duplicate).select("pos")
