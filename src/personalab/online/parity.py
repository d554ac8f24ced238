"""The online row against the features stage's, on a log: the check behind the claim that a row
folded from the store plus live events is the row the features stage would build.

:func:`parity_gaps` builds a store at ``S`` from the log before it, sends each chosen user's
events in ``[S, T)`` as a request's live events, and compares the answer with
:func:`personalab.features.build.features_at` at ``T`` on the log before ``S`` plus those
events: every column, numbers to ``tolerance`` (relative, and absolute near 0).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from personalab.features.build import features_at
from personalab.features.plan import FeaturesPlan
from personalab.online.features import OnlineFeatures
from personalab.online.history import FLOATS, STRINGS
from personalab.online.store import FILE, OnlineStore, store_of_frame

TOLERANCE = 1e-9


def live_events(events: pd.DataFrame) -> list[dict[str, Any]]:
    """Canonical events as a request's live events (missing values left out)."""
    out = []
    for row in events.itertuples(index=False):
        event = {"timestamp": row.timestamp.isoformat(), "event_type": str(row.event_type)}
        for name in STRINGS:
            value = getattr(row, name)
            if name != "event_type" and not pd.isna(value):
                event[name] = str(value)
        for name in FLOATS:
            value = getattr(row, name)
            if not pd.isna(value):
                event[name] = float(value)
        out.append(event)
    return out


def same(a: Any, b: Any, tolerance: float = TOLERANCE) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= tolerance * max(1.0, abs(b))


def parity_gaps(
    events: pd.DataFrame,
    plan: FeaturesPlan,
    as_of: pd.Timestamp,
    at: pd.Timestamp,
    users: Sequence[str],
    session_gap_ns: int = 30 * 60 * 10**9,
    tolerance: float = TOLERANCE,
) -> pd.DataFrame:
    """Every column where the online row of a user in ``users`` differs from the features
    stage's (``user_id``, ``column``, ``online``, ``stage``; no rows: none differs). A user the
    log has no event of before ``as_of`` is a visitor described by their live events alone."""
    past = events[events["timestamp"] < as_of]
    window = events[(events["timestamp"] >= as_of) & (events["timestamp"] < at)]
    gaps = []
    with tempfile.TemporaryDirectory(prefix="personalab-parity-") as scratch:
        path = Path(scratch) / FILE
        store_of_frame(past, plan, as_of, path, session_gap_ns)
        online = OnlineFeatures(OnlineStore(path))
        for user in users:
            mine = window[window["user_id"].astype(str) == str(user)]
            mine = mine.sort_values("timestamp", kind="stable")
            row = online.row(str(user), live_events(mine), at.isoformat())
            stage = features_at(pd.concat([past, mine]), at, plan)
            stage = stage[stage["user_id"] == str(user)]
            if row is None or stage.empty:
                if row is not None or not stage.empty:
                    gaps.append((user, "(row)", row is not None, not stage.empty))
                continue
            expected = stage.iloc[0]
            for column, value in row.items():
                if not same(value, expected[column], tolerance):
                    gaps.append((user, column, value, expected[column]))
    return pd.DataFrame(gaps, columns=["user_id", "column", "online", "stage"])
