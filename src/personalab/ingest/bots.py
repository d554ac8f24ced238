"""Bots: per-user activity statistics and the rules that flag a user as a bot.

Bot rules (a user is a bot when any holds; defaults in ``BotRules``): more than
``max_events_per_minute`` events in one clock minute; more than
``max_events_per_day`` in one day; or at least ``min_views_for_dwell_rule`` views
with dwell recorded of which ``zero_dwell_share`` or more have zero dwell.

The rate rules count distinct moments, not rows: events of a user that share a timestamp
count once. A basket logged as one line per item (UCI Online Retail: a 40-item invoice
shares one minute) is one action, not 40; a bot's burst has a new timestamp per event.
(A log whose clock is coarser than the rule, e.g. whole minutes, cannot show more than one
moment a minute: the per-minute rule then never fires there.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field


class BotRules(BaseModel):
    """Thresholds that mark a user as a bot (any rule suffices)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_events_per_minute: int = Field(40, ge=1)
    max_events_per_day: int = Field(5000, ge=1)
    zero_dwell_share: float = Field(0.9, gt=0, le=1)
    min_views_for_dwell_rule: int = Field(20, ge=1)


def find_bot_users(events: pd.DataFrame, rules: BotRules) -> pd.DataFrame:
    """Per flagged user: events, peak distinct timestamps per minute and per day, zero-dwell
    share, the rules hit."""
    codes, users = pd.factorize(events["user_id"], sort=True)
    ns = events["timestamp"].to_numpy(dtype="datetime64[ns]").view("int64")
    order = np.lexsort((ns, codes))
    dwell = events["dwell_seconds"].to_numpy(dtype=float)[order]
    is_view = (events["event_type"] == "view").to_numpy()[order]
    stats = bot_user_stats(codes[order], ns[order], is_view, dwell, len(users))
    stats.insert(0, "user_id", pd.Series(np.asarray(users), dtype="str"))
    return flag_bots(stats, rules)


def bot_user_stats(
    codes: np.ndarray, ns: np.ndarray, is_view: np.ndarray, dwell: np.ndarray, n_users: int
) -> pd.DataFrame:
    """Per user code: events, peak distinct timestamps in a clock minute and in a UTC day,
    zero-dwell views.

    The arrays must be sorted by user code, then time.
    """
    moment = np.r_[True, (codes[1:] != codes[:-1]) | (ns[1:] != ns[:-1])] if codes.size else codes
    m_codes, m_ns = codes[moment], ns[moment]  # one row per distinct (user, timestamp)

    def peak_per(bucket_ns: int) -> np.ndarray:
        peak = np.zeros(n_users, dtype=np.int64)
        if m_codes.size == 0:
            return peak
        bucket = m_ns // bucket_ns
        new_run = np.r_[True, (m_codes[1:] != m_codes[:-1]) | (bucket[1:] != bucket[:-1])]
        run_starts = np.flatnonzero(new_run)
        run_len = np.diff(np.r_[run_starts, m_codes.size])
        np.maximum.at(peak, m_codes[run_starts], run_len)
        return peak

    with_dwell = is_view & ~np.isnan(dwell)
    views = np.bincount(codes[with_dwell], minlength=n_users)
    zero = np.bincount(codes[with_dwell & (dwell == 0)], minlength=n_users)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(views > 0, zero / np.maximum(views, 1), np.nan)
    return pd.DataFrame(
        {
            "events": np.bincount(codes, minlength=n_users),
            "peak_per_minute": peak_per(60 * 10**9),
            "peak_per_day": peak_per(86_400 * 10**9),
            "views_with_dwell": views,
            "zero_dwell_share": share,
        }
    )


def flag_bots(stats: pd.DataFrame, rules: BotRules) -> pd.DataFrame:
    """The rows of ``stats`` that break a bot rule, with a ``rules`` column naming them."""
    hit = pd.DataFrame(
        {
            "events_per_minute": stats["peak_per_minute"] > rules.max_events_per_minute,
            "events_per_day": stats["peak_per_day"] > rules.max_events_per_day,
            "zero_dwell": (stats["views_with_dwell"] >= rules.min_views_for_dwell_rule)
            & (stats["zero_dwell_share"] >= rules.zero_dwell_share),
        }
    )
    flagged = hit.any(axis=1).to_numpy()
    out = stats.loc[flagged].copy()
    names = np.asarray(hit.columns, dtype=object)
    out["rules"] = pd.Series(
        [";".join(names[row]) for row in hit.to_numpy()[flagged]], index=out.index, dtype="str"
    )
    return out.reset_index(drop=True)
