"""Scores and segments derived by rule: RFM quintiles and segments, rule segments, engagement.

Rule segments (0/1 columns ``seg_<name>``, thresholds in ``SegmentRules``), over the
last ``window_days`` before ``T``: ``high_clicker`` (more than 5 clicks within 10
minutes in one session), ``deep_scroller`` (mean scroll depth above 0.8),
``long_dweller`` (mean dwell above 180 s), ``converter`` (a purchase),
``cart_abandoner`` (an abandoned cart), ``at_risk`` (at least 2 sessions ever and
no event in the last 14 days). A user can hold several. ``engagement_score`` is
the weighted mean of the percentile ranks (within the cut-off) of the features in
``engagement_weights``; ``dominant_segment`` is the first segment held in
``priority`` order, else ``none``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from personalab.features.history import DAY_NS, History
from personalab.features.params import SegmentRules
from personalab.features.schema import SEGMENTS

# --- RFM ----------------------------------------------------------------------------------------


def rfm_features(
    table: pd.DataFrame, longest: int, monetary: bool = True
) -> dict[str, np.ndarray | pd.Series]:
    """RFM quintile scores and segment from recency, the longest window's sessions and revenue
    (without ``monetary``: no ``rfm_monetary``, and the segment rules on recency and frequency)."""
    out: dict[str, np.ndarray | pd.Series] = {}
    out["rfm_recency"] = quintile_score(-table["days_since_last_event"])
    out["rfm_frequency"] = quintile_score(table[f"sessions_{longest}d"])
    if monetary:
        out["rfm_monetary"] = quintile_score(table["revenue_total"])
    out["rfm_segment"] = rfm_segment_of(
        out["rfm_recency"], out["rfm_frequency"], out.get("rfm_monetary")
    )
    return out


def quintile_score(values: pd.Series) -> np.ndarray:
    """1-5 by percentile rank (ties share a score; 5 = highest values)."""
    pct = pd.Series(values).rank(method="average", pct=True).to_numpy()
    return np.clip(np.ceil(pct * 5), 1, 5).astype(np.int8)


def rfm_segment_of(r: pd.Series, f: pd.Series, m: pd.Series | None) -> pd.Series:
    """Named RFM segments from 1-5 scores, first rule that holds (``m`` None: the monetary
    conditions hold, so the rules read recency and frequency alone)."""
    r, f = np.asarray(r), np.asarray(f)
    m = np.full(r.shape, 5) if m is None else np.asarray(m)
    rules = [
        ("champions", (r >= 4) & (f >= 4) & (m >= 4)),
        ("loyal", (f >= 4) & (m >= 3)),
        ("new", (r >= 4) & (f <= 2)),
        ("potential", (r >= 3) & (f >= 3)),
        ("at_risk", (r <= 2) & (f >= 3)),
        ("hibernating", (r <= 2) & (f <= 2)),
    ]
    labels = np.select(
        [cond for _, cond in rules], [name for name, _ in rules], default="needs_attention"
    )
    return pd.Series(labels, dtype="str")


# --- rule segments ------------------------------------------------------------------------------


def rule_segments(
    h: History,
    table: pd.DataFrame,
    t_ns: int,
    seg: SegmentRules,
    abandoned: np.ndarray,
    segments: tuple[str, ...] = SEGMENTS,
) -> dict[str, np.ndarray | pd.Series]:
    """The ``seg_<name>`` 0/1 columns of ``segments``; ``table`` holds the features so far."""
    out: dict[str, np.ndarray | pd.Series] = {}
    window = h.ns >= t_ns - seg.window_days * DAY_NS
    if "high_clicker" in segments:
        out["seg_high_clicker"] = _burst_users(
            h, window & h.is_click, seg.high_click_count, seg.high_click_minutes
        )
    if "deep_scroller" in segments:
        deep = h.mean(window & h.has_scroll, h.scroll) > seg.deep_scroll_depth
        out["seg_deep_scroller"] = deep.astype(np.int8)
    if "long_dweller" in segments:
        dwell = h.mean(window & h.has_dwell, h.dwell) > seg.long_dwell_seconds
        out["seg_long_dweller"] = dwell.astype(np.int8)
    if "converter" in segments:
        out["seg_converter"] = (h.count(window & h.is_purchase) > 0).astype(np.int8)
    if "cart_abandoner" in segments:
        out["seg_cart_abandoner"] = (h.count(window & abandoned) > 0).astype(np.int8)
    if "at_risk" in segments:
        n_sessions = table["sessions_total"].to_numpy()
        out["seg_at_risk"] = (
            (table["days_since_last_event"].to_numpy() > seg.at_risk_days)
            & (n_sessions >= seg.at_risk_min_sessions)
        ).astype(np.int8)
    return out


def _burst_users(h: History, mask: np.ndarray, count: int, minutes: float) -> np.ndarray:
    """1 for users with more than ``count`` masked events within ``minutes`` in one session."""
    rows = np.flatnonzero(mask)
    flagged = np.zeros(h.n_users, dtype=np.int8)
    if rows.size <= count:
        return flagged
    session, ns = h.session[rows], h.ns[rows]
    order = np.lexsort((ns, session))
    session, ns, users = session[order], ns[order], h.user[rows][order]
    span = int(minutes * 60 * 10**9)
    # rank of each event within its session, and of the first event less than ``span`` before it
    seconds = (ns - ns.min()) // 10**6  # ms resolution keeps the key inside int64
    key = session.astype(np.int64) * (int(seconds.max()) + span // 10**6 + 2) + seconds
    first = np.searchsorted(key, key - span // 10**6 + 1, side="left")
    burst = (np.arange(key.size) - first + 1) > count
    flagged[np.unique(users[burst])] = 1
    return flagged


# --- engagement score and dominant segment ------------------------------------------------------


def engagement_score(table: pd.DataFrame, weights: dict[str, float]) -> np.ndarray:
    """Weighted mean of within-table percentile ranks (missing values rank 0), in [0, 1]."""
    total = sum(weights.values())
    score = np.zeros(len(table))
    for name, weight in weights.items():
        score += weight * table[name].rank(pct=True).fillna(0.0).to_numpy()
    return score / total


def dominant_segment(table: pd.DataFrame, priority: list[str]) -> pd.Series:
    """The first rule segment a user holds, in ``priority`` order; ``none`` when they hold none."""
    conditions = [table[f"seg_{name}"].to_numpy() == 1 for name in priority]
    labels = (
        np.select(conditions, priority, default="none") if priority else np.full(len(table), "none")
    )
    return pd.Series(labels, index=table.index, dtype="str")
