"""The profile: what the log holds, so each later stage can do what the log supports.

Ingest writes it to ``data/interim/profile.json`` (:func:`personalab.ingest.io.save_ingest`)
and its numbers to ``reports/metrics/ingest.json`` (:func:`profile_metrics`). It describes
the valid events (after quarantine, duplicates and bots) and holds no run time, so the same
input gives the same file and DVC sees no change on a re-run. Keys (version 1):

=====================  ==================================================================
key                    value
=====================  ==================================================================
profile_version        1; bumped when a key changes meaning
rows                   valid events
event_types            ``{type: rows}`` for every canonical event type (0 when absent)
has_views              true when there is a ``view`` event; likewise ``has_carts``
                       (``add_to_cart``), ``has_purchases`` (``purchase``), ``has_ratings``
                       (``rate``): what downstream stages branch on
identity               ``user`` or ``session``: what ``user_id`` holds
                       (:mod:`personalab.ingest.sources.identity`)
identity_decision      how it was decided, over the rows read: ``setting``
                       (source.identity), ``reason`` (one sentence), ``rows``,
                       ``rows_with_user_id``, ``rows_with_session_id``, and where each row's
                       identity came from: ``rows_user_id`` (its own), ``rows_stitched``
                       (its session's user), ``rows_session`` (``session:<id>``),
                       ``rows_without_identity`` (quarantined)
users                  distinct ``user_id`` (with ``identity: session``, sessions)
sessions               sessions (the sessions table's rows)
items, categories      distinct ``item_id``, ``category`` (nulls not counted)
first_timestamp        earliest and latest event, ISO 8601 in UTC (null without events);
last_timestamp         ``span_days``: the time between them, in days
granularity            the coarsest unit every timestamp is a whole number of, on the wall
                       clock of ``source.timezone``: ``day`` (dates only), ``hour``,
                       ``minute``, ``second``, ``millisecond``, ``microsecond`` or
                       ``nanosecond``; ``granularity_seconds`` the same in seconds (1 for
                       second, 0.001 for millisecond); null without events
time_ordered           true when the rows that passed validation were in timestamp order as
                       read (ties allowed; files of a folder in name order);
                       ``rows_out_of_order``: rows earlier than one read before them
populated              ``{column: share of events with a value}`` for category, price,
                       quantity, rating, dwell_seconds, scroll_depth, device, channel, and
                       session_id: the share whose session id came from the source (the
                       rest were derived from inactivity gaps)
session_ids            ``source`` (all from the source), ``derived`` (none) or ``mixed``
=====================  ==================================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from personalab.ingest.events import EVENT_TYPES

PROFILE_VERSION = 1
#: optional canonical columns whose share of non-null values the profile reports
POPULATED_COLUMNS = (
    "category", "price", "quantity", "rating", "dwell_seconds", "scroll_depth", "device", "channel",
)  # fmt: skip
#: the events' columns the profile reads
PROFILE_COLUMNS = ("event_type", "timestamp", "user_id", "item_id", *POPULATED_COLUMNS)
#: the event type behind each ``has_<name>`` flag
HAS_EVENTS = {"views": "view", "carts": "add_to_cart", "purchases": "purchase", "ratings": "rate"}
#: timestamp units, coarsest first, in seconds
GRANULARITIES = (
    ("day", 86400.0), ("hour", 3600.0), ("minute", 60.0), ("second", 1.0),
    ("millisecond", 1e-3), ("microsecond", 1e-6), ("nanosecond", 1e-9),
)  # fmt: skip
_TICKS_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


def read_order(chunks: Iterable[np.ndarray]) -> dict[str, Any]:
    """Whether the kept rows' timestamps were in order as read, and how many stepped back behind
    the latest seen before them: ``chunks`` are their ticks (int64, no nulls) in read order,
    e.g. a batch at a time."""
    latest, rows, behind = None, 0, 0
    for ticks in chunks:
        if ticks.size == 0:
            continue
        running = np.maximum.accumulate(ticks)
        if latest is None:
            behind += int(np.count_nonzero(ticks[1:] < running[:-1]))
        else:
            before = np.maximum(np.concatenate(([latest], running[:-1])), latest)
            behind += int(np.count_nonzero(ticks < before))
        latest = running[-1] if latest is None else max(latest, running[-1])
        rows += ticks.size
    if rows < 2:
        return {"time_ordered": True, "rows_out_of_order": 0}
    return {"time_ordered": behind == 0, "rows_out_of_order": behind}


def timestamp_granularity(timestamps: pd.Series, timezone: str = "UTC") -> tuple[str, float] | None:
    """The coarsest unit every timestamp is a whole number of, on the wall clock of ``timezone``.

    Measured on local wall-clock time so a date-only log read in a zone other than UTC is still
    ``day``. ``None`` when there are no timestamps.
    """
    values = timestamps.dropna() if timestamps.hasnans else timestamps
    if values.empty:
        return None
    if isinstance(values.dtype, pd.DatetimeTZDtype) and str(values.dt.tz) != timezone:
        values = values.dt.tz_convert(timezone).dt.tz_localize(None)  # UTC ticks are UTC's wall
    ticks = _ticks(values)
    per_second = _TICKS_PER_SECOND[values.dt.unit]
    for name, seconds in GRANULARITIES:
        step = round(seconds * per_second)
        if step >= 1 and step == seconds * per_second and not (ticks % step).any():
            return name, seconds
    raise AssertionError(f"no granularity for a {values.dtype} column")  # the unit always divides


def build_profile(
    events: pd.DataFrame | Iterable[pd.DataFrame],
    sessions: pd.DataFrame,
    *,
    identity: dict[str, Any],
    order: dict[str, Any],
    source_session_share: float | None,
    timezone: str = "UTC",
) -> dict[str, Any]:
    """The profile of the valid ``events`` (keys in the module docstring); deterministic.

    ``events`` is a frame, or its rows in parts (e.g. the events file a batch at a time: no
    column is then held whole but the distinct users, items and categories). ``identity`` is
    the identity decision (:class:`~personalab.ingest.sources.identity.IdentityDecision` as a
    dict), ``order`` comes from :func:`read_order` on the rows as read, and
    ``source_session_share`` is the share of events whose session id the source gave.
    """
    parts = [events] if isinstance(events, pd.DataFrame) else events
    n, counts, present = 0, dict.fromkeys(EVENT_TYPES, 0), dict.fromkeys(POPULATED_COLUMNS, 0)
    first = last = granularity = None
    distinct: dict[str, list[np.ndarray]] = {"user_id": [], "item_id": [], "category": []}
    for part in parts:
        n += len(part)
        for kind, count in part["event_type"].value_counts().items():  # no copy of categoricals
            counts[kind] = counts.get(kind, 0) + int(count)
        times = part["timestamp"].dropna()
        if len(times):
            low, high = times.min(), times.max()
            first = low if first is None else min(first, low)
            last = high if last is None else max(last, high)
            step = timestamp_granularity(times, timezone)
            granularity = step if granularity is None else min(granularity, step, key=_finest)
        for col in POPULATED_COLUMNS:
            present[col] += int(part[col].notna().sum())
        for col, seen in distinct.items():
            seen.append(part[col].dropna().unique())
    event_types = {name: counts[name] for name in EVENT_TYPES}
    populated = {col: _share(count, n) for col, count in present.items()}
    populated["session_id"] = (
        None if source_session_share is None else round(source_session_share, 6)
    )
    nunique = {
        col: len(pd.unique(np.concatenate(seen))) if seen else 0 for col, seen in distinct.items()
    }
    return {
        "profile_version": PROFILE_VERSION,
        "rows": n,
        "event_types": event_types,
        **{f"has_{flag}": event_types[kind] > 0 for flag, kind in HAS_EVENTS.items()},
        "identity": identity["identity"],
        "identity_decision": {k: v for k, v in identity.items() if k != "identity"},
        "users": nunique["user_id"],
        "sessions": len(sessions),
        "items": nunique["item_id"],
        "categories": nunique["category"],
        "first_timestamp": None if first is None else first.isoformat(),
        "last_timestamp": None if last is None else last.isoformat(),
        "span_days": 0.0 if first is None else round((last - first) / pd.Timedelta(days=1), 6),
        "granularity": None if granularity is None else granularity[0],
        "granularity_seconds": None if granularity is None else granularity[1],
        **order,
        "populated": populated,
        "session_ids": _session_ids(source_session_share),
    }


def _finest(granularity: tuple[str, float]) -> float:
    """Sorts granularities finest first (the finest of the parts' is the whole's)."""
    return granularity[1]


def profile_metrics(profile: dict[str, Any]) -> dict[str, float | int]:
    """The profile's numbers as flat metrics (``profile_*``, ``populated_*``; booleans as 0/1)."""
    out: dict[str, float | int] = {"profile_rows": profile["rows"]}
    out |= {f"profile_rows_{kind}": count for kind, count in profile["event_types"].items()}
    out |= {f"profile_has_{flag}": int(profile[f"has_{flag}"]) for flag in HAS_EVENTS}
    out["profile_identity_session"] = int(profile["identity"] == "session")
    decision = profile["identity_decision"]
    for key in ("rows_stitched", "rows_session", "rows_without_identity"):
        out[f"profile_identity_{key}"] = decision[key]
    for key in ("users", "sessions", "items", "categories", "span_days", "rows_out_of_order"):
        out[f"profile_{key}"] = profile[key]
    out["profile_granularity_seconds"] = _number(profile["granularity_seconds"])
    out["profile_time_ordered"] = int(profile["time_ordered"])
    out |= {f"populated_{col}": _number(share) for col, share in profile["populated"].items()}
    return out


def profile_table(profile: dict[str, Any]) -> pd.DataFrame:
    """The profile as a two-column table (nested keys joined with a dot), for the notebook."""
    rows = []
    for key, value in profile.items():
        if isinstance(value, dict):
            rows += [(f"{key}.{sub}", item) for sub, item in value.items()]
        else:
            rows.append((key, value))
    table = pd.DataFrame(rows, columns=["key", "value"]).astype({"value": object})
    return table.set_index("key")


def _ticks(values: pd.Series) -> np.ndarray:
    """Timestamps as integers in their own unit (no conversion, so nothing can overflow)."""
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    return values.to_numpy(dtype=f"datetime64[{values.dt.unit}]").view("int64")


def _share(count: int, total: int) -> float | None:
    return round(int(count) / total, 6) if total else None


def _number(value: float | None) -> float:
    return float("nan") if value is None else value


def _session_ids(source_share: float | None) -> str | None:
    if source_share is None:
        return None
    if source_share == 1.0:
        return "source"
    return "derived" if source_share == 0.0 else "mixed"
