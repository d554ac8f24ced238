"""Sessions: split each user's time-ordered events at inactivity gaps, and summarise them.

A gap of at least ``gap`` between two consecutive events of a user starts a new
session (so with the default 30 minutes, an event exactly 30 minutes after the
previous one opens a new session). A source's own session ids are kept; derived
ids are ``<user_id>-s<n>`` with ``n`` counting that user's sessions from 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from personalab.ingest.events import EVENT_TYPES

DEFAULT_GAP = pd.Timedelta(minutes=30)


def sort_order(
    events: pd.DataFrame, user_col: str = "user_id", time_col: str = "timestamp"
) -> np.ndarray:
    """Row positions that order events by user, then time (ties keep their input order)."""
    codes, _ = pd.factorize(events[user_col], sort=True)
    times = events[time_col].to_numpy(dtype="datetime64[ns]").view("int64")
    return np.lexsort((times, codes))


def sort_events(
    events: pd.DataFrame, user_col: str = "user_id", time_col: str = "timestamp"
) -> pd.DataFrame:
    """Events ordered by user, then time (ties keep their input order)."""
    return events.take(sort_order(events, user_col, time_col)).reset_index(drop=True)


def session_starts(
    events: pd.DataFrame, gap: pd.Timedelta, user_col: str = "user_id", time_col: str = "timestamp"
) -> np.ndarray:
    """True where an event opens a session; ``events`` must be sorted by user and time."""
    if gap <= pd.Timedelta(0):
        raise ValueError(f"session gap must be positive, got {gap}")
    starts = _user_starts(events[user_col])
    times = events[time_col].to_numpy(dtype="datetime64[ns]").view("int64")
    if len(events) > 1:
        starts[1:] |= np.diff(times) >= gap.value
    return starts


def assign_sessions(
    events: pd.DataFrame,
    gap: pd.Timedelta = DEFAULT_GAP,
    user_col: str = "user_id",
    time_col: str = "timestamp",
    session_col: str = "session_id",
) -> pd.Series:
    """Session id per event: the source's where it has one, else derived from inactivity gaps.

    ``events`` must be sorted by user and time (see :func:`sort_events`).
    """
    starts = session_starts(events, gap, user_col, time_col)
    index = np.cumsum(starts) - 1  # session number of each event
    first = np.flatnonzero(starts)
    user_first = _user_starts(events[user_col])[first]
    # ordinal of each session within its user: 1, 2, ... restarting at each new user
    running = np.arange(1, first.size + 1)
    ordinal = running - np.maximum.accumulate(np.where(user_first, running - 1, 0))
    users = events[user_col].iloc[first].astype("str").reset_index(drop=True)
    names = users + "-s" + pd.Series(ordinal).astype("str")
    derived = pd.Series(
        names.to_numpy()[index] if first.size else [], index=events.index, dtype="str"
    )
    if session_col in events:
        own = events[session_col].astype("str")
        derived = own.where(own.notna(), derived)
    return derived.rename(session_col)


def build_sessions(events: pd.DataFrame) -> pd.DataFrame:
    """One row per session: user, start, end, duration, counts per event type, items, revenue, device."""
    codes, uniques = pd.factorize(events["session_id"], sort=False)
    n = len(uniques)
    ns = events["timestamp"].to_numpy(dtype="datetime64[ns]").view("int64")
    first = np.unique(codes, return_index=True)[1]
    if n and _contiguous(codes):
        start = np.minimum.reduceat(ns, first)
        end = np.maximum.reduceat(ns, first)
    else:
        start = np.full(n, np.iinfo(np.int64).max)
        end = np.full(n, np.iinfo(np.int64).min)
        np.minimum.at(start, codes, ns)
        np.maximum.at(end, codes, ns)
    out = pd.DataFrame(
        {
            "session_id": pd.Series(np.asarray(uniques), dtype="str"),
            "user_id": events["user_id"].iloc[first].astype("str").to_numpy(),
            "start": pd.to_datetime(start, utc=True),
            "end": pd.to_datetime(end, utc=True),
        }
    )
    out["duration_seconds"] = (end - start) / 1e9
    out["n_events"] = np.bincount(codes, minlength=n)
    type_codes = pd.Categorical(events["event_type"], categories=list(EVENT_TYPES)).codes
    known = type_codes >= 0
    counts = np.bincount(
        codes[known] * len(EVENT_TYPES) + type_codes[known], minlength=n * len(EVENT_TYPES)
    )
    counts = counts.reshape(n, len(EVENT_TYPES))
    for k, name in enumerate(EVENT_TYPES):
        out[f"n_{name}"] = counts[:, k]
    item_codes, _ = pd.factorize(events["item_id"])
    has_item = item_codes >= 0
    n_item_codes = int(item_codes.max()) + 1 if item_codes.size else 1
    pairs = np.unique(codes[has_item].astype(np.int64) * n_item_codes + item_codes[has_item])
    out["n_items"] = np.bincount(pairs // n_item_codes, minlength=n)
    is_purchase = (events["event_type"] == "purchase").to_numpy()
    quantity = np.nan_to_num(events["quantity"].to_numpy(dtype=float), nan=1.0)
    amount = np.nan_to_num(events["price"].to_numpy(dtype=float) * quantity)
    out["revenue"] = np.bincount(codes, weights=np.where(is_purchase, amount, 0.0), minlength=n)
    if "device" in events:
        out["device"] = events["device"].iloc[first].astype("str").to_numpy()
    return out.sort_values(["user_id", "start"], ignore_index=True)


def _user_starts(users: pd.Series) -> np.ndarray:
    values, _ = pd.factorize(users)
    starts = np.ones(len(values), dtype=bool)
    if len(values) > 1:
        starts[1:] = values[1:] != values[:-1]
    return starts


def _contiguous(codes: np.ndarray) -> bool:
    """True when each code's rows form one block (sessions in sorted events)."""
    if codes.size == 0:
        return True
    return int(np.count_nonzero(codes[1:] != codes[:-1])) + 1 == int(codes.max()) + 1
