"""Where the cut-offs go, the label at each, and the categories that get a share column.

For each cut-off ``T`` every feature uses only events with ``timestamp < T``; the
label ``purchased_within_horizon`` is 1 when the user has a purchase in
``[T, T + horizon)``. Cut-offs whose horizon runs past the end of the log are
dropped (never labelled negative).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from personalab.features.params import CutoffParams
from personalab.features.schema import category_share_column


def place_cutoffs(
    log_start: pd.Timestamp, log_end: pd.Timestamp, cutoffs: CutoffParams, horizon_days: float
) -> tuple[list[pd.Timestamp], list[pd.Timestamp]]:
    """Return (kept, dropped) cut-offs; dropped ones have a horizon past ``log_end`` or no history.

    Without explicit dates, the last cut-off is the latest midnight whose horizon
    still ends inside the log, and earlier ones follow every ``every_days``.
    """
    horizon = pd.Timedelta(days=horizon_days)
    if cutoffs.dates:
        candidates = sorted({_utc(pd.Timestamp(d)) for d in cutoffs.dates})
    else:
        last = (log_end - horizon).floor("D")
        steps = cutoffs.over_last_days // cutoffs.every_days
        candidates = [
            last - pd.Timedelta(days=k * cutoffs.every_days) for k in range(steps, -1, -1)
        ]
    kept = [t for t in candidates if t + horizon <= log_end and t > log_start]
    dropped = [t for t in candidates if t not in kept]
    return kept, dropped


def _utc(ts: pd.Timestamp) -> pd.Timestamp:
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def label_purchases(
    events: pd.DataFrame, users: pd.Series, cutoff: pd.Timestamp, horizon_days: float
) -> np.ndarray:
    """1 where the user has a purchase in ``[cutoff, cutoff + horizon)``, else 0."""
    ts = events["timestamp"]
    end = cutoff + pd.Timedelta(days=horizon_days)
    window = (events["event_type"] == "purchase") & (ts >= cutoff) & (ts < end)
    buyers = pd.unique(events.loc[window, "user_id"])
    return users.isin(buyers).to_numpy().astype(np.int8)


def top_categories(events: pd.DataFrame, before: pd.Timestamp, n: int) -> list[str]:
    """The ``n`` most frequent categories of the events before ``before`` (ties by name)."""
    if n == 0 or "category" not in events:
        return []
    seen = events.loc[events["timestamp"] < before, "category"].dropna().astype("str")
    counts = seen.value_counts()
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    chosen, columns = [], set()
    for name, _ in ranked:
        column = category_share_column(name)
        if column not in columns:  # two names with one column name: keep the more frequent
            chosen.append(name)
            columns.add(column)
        if len(chosen) == n:
            break
    return chosen
