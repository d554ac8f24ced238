"""Sessions: split each user's time-ordered events at inactivity gaps, and summarise them.

A gap of at least ``gap`` between two consecutive events of a user starts a new
session (so with the default 30 minutes, an event exactly 30 minutes after the
previous one opens a new session). A source's own session ids are kept; derived
ids are ``<user_id>-s<n>`` with ``n`` counting that user's sessions from 1.

Both functions are Ibis expressions (one definition for every engine) over a table with
``user_id``, ``ns`` (the timestamp in epoch nanoseconds) and ``pos`` (the row's place in the
log: ties in time keep it), and the canonical columns.
"""

from __future__ import annotations

import ibis

from personalab.ingest.events import EVENT_TYPES

DEFAULT_GAP_NS = 30 * 60 * 10**9
#: the order of events: by user, then time, then the order they were read in
EVENT_ORDER = ("user_id", "ns", "pos")


def assign_sessions(events: ibis.Table, gap_ns: int = DEFAULT_GAP_NS) -> ibis.Table:
    """``events`` with ``session_id`` filled: the source's where it has one, else derived from gaps."""
    if gap_ns <= 0:
        raise ValueError(f"session gap must be positive, got {gap_ns} ns")
    by_user = ibis.window(group_by=events.user_id, order_by=[events.ns, events.pos])
    previous = events.ns.lag().over(by_user)
    marked = events.mutate(_start=(previous.isnull() | (events.ns - previous >= gap_ns)))
    numbered = marked.mutate(
        _ordinal=marked._start.cast("int64").cumsum(
            group_by=marked.user_id, order_by=[marked.ns, marked.pos]
        )
    )
    derived = numbered.user_id.concat("-s", numbered._ordinal.cast("string"))
    return numbered.mutate(session_id=numbered.session_id.fill_null(derived)).drop(
        "_start", "_ordinal"
    )


def build_sessions(events: ibis.Table) -> ibis.Table:
    """One row per session: user, start, end (epoch ns), duration, counts per event type,
    distinct items, revenue, device; with ``first_pos`` (its first event's ``pos``).

    A session's user and device are its first event's, in the order by user, time, ``pos``.
    Order the result by ``user_id``, ``start``, ``first_pos``.
    """
    has_device = "device" in events.columns
    # the window sorts only the columns it needs (each one carried costs time at scale)
    keys = events.select("session_id", "user_id", "ns", "pos", *(["device"] if has_device else []))
    rank = ibis.row_number().over(
        group_by=keys.session_id, order_by=[keys.user_id, keys.ns, keys.pos]
    )
    first = (
        keys.mutate(_rank=rank)
        .filter(lambda t: t._rank == 0)
        .select(
            "session_id",
            "user_id",
            first_pos="pos",
            **({"device": "device"} if has_device else {}),
        )
    )
    is_purchase = events.event_type == "purchase"
    amount = (events.price * events.quantity.fill_null(1.0)).fill_null(0.0)
    counts = {f"n_{name}": (events.event_type == name).cast("int64").sum() for name in EVENT_TYPES}
    totals = events.group_by("session_id").agg(
        start=events.ns.min(),
        end=events.ns.max(),
        n_events=events.count(),
        **counts,
        n_items=events.item_id.nunique(),
        revenue=ibis.ifelse(is_purchase, amount, 0.0).sum(),
    )
    out = first.join(totals, "session_id")
    columns = ["session_id", "user_id", "start", "end"]
    return out.select(
        *columns,
        duration_seconds=(out.end - out.start) / 1e9,
        n_events=out.n_events,
        **{name: out[name] for name in counts},
        n_items=out.n_items,
        revenue=out.revenue,
        **({"device": out.device} if has_device else {}),
        first_pos=out.first_pos,
    )
