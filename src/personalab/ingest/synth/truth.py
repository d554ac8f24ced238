"""The exact purchase probability of each user, from the truth table's hazard.

A session ends in a purchase with probability ``purchase_prob[u]``, independently,
so purchases form a Poisson process with hazard ``rate[u](t) * purchase_prob[u]``
(``rate`` as in :mod:`.behaviour`) and

    P(purchase in [T, T + h)) = 1 - exp(-purchase_prob[u] * integral_T^{T+h} rate[u](t) dt),

which :func:`purchase_probability` computes exactly from the truth table (with planted drift,
:mod:`.drift`, ``purchase_prob_after`` for the sessions after ``drift_at``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def purchase_probability(
    truth: pd.DataFrame, cutoff: pd.Timestamp | str, horizon_days: float
) -> pd.Series:
    """True probability that each user purchases within ``[cutoff, cutoff + horizon)``.

    Uses the truth table's hazard (``base_rate``, ``purchase_prob``, ``active_from``,
    ``lapse_start``, ``lapse_tau_days``); bots get 0. Indexed by ``user_id``.
    """
    cutoff = pd.Timestamp(cutoff)
    cutoff = cutoff.tz_localize("UTC") if cutoff.tzinfo is None else cutoff.tz_convert("UTC")
    if horizon_days <= 0:
        raise ValueError(f"horizon_days must be positive, got {horizon_days}")
    required = {
        "user_id",
        "base_rate",
        "purchase_prob",
        "active_from",
        "lapse_start",
        "lapse_tau_days",
    }
    missing = required - set(truth.columns)
    if missing:
        raise KeyError(f"truth table lacks column(s) {sorted(missing)}")
    end = cutoff + pd.Timedelta(days=horizon_days)
    expected = expected_sessions(truth, cutoff, end)
    hazard = truth["purchase_prob"].to_numpy() * expected
    if "drift_at" in truth.columns:  # planted drift: the sessions after it, at the new type's
        at = pd.to_datetime(truth["drift_at"], utc=True).dropna()
        split = min(max(at.iloc[0], cutoff), end) if len(at) else end
        before = expected_sessions(truth, cutoff, split)
        after = truth["purchase_prob_after"].fillna(truth["purchase_prob"]).to_numpy()
        hazard = truth["purchase_prob"].to_numpy() * before + after * (expected - before)
    prob = 1.0 - np.exp(-hazard)
    return pd.Series(prob, index=pd.Index(truth["user_id"], name="user_id"), name="true_prob")


def expected_sessions(truth: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
    """Integral of each user's session intensity over ``[start, end)`` (sessions)."""
    a = _days_since(truth["active_from"], start)  # active_from - start, days (<= 0 when active)
    t0 = np.maximum(0.0, a)  # activity begins at this offset from start
    t1 = (end - start) / pd.Timedelta(days=1)
    rate = truth["base_rate"].to_numpy(dtype=float)
    lapse = _days_since(truth["lapse_start"], start)  # NaN when the user never lapses
    tau = truth["lapse_tau_days"].to_numpy(dtype=float)
    has_lapse = ~np.isnan(lapse)
    lapse_at = np.where(has_lapse, lapse, np.inf)
    # steady part: [t0, min(t1, lapse_at))
    steady = np.clip(np.minimum(t1, lapse_at) - t0, 0.0, None)
    # decaying part: [max(t0, lapse_at), t1) of exp(-(t - lapse_at) / tau)
    lo = np.maximum(t0, lapse_at)
    with np.errstate(invalid="ignore", over="ignore"):
        decay = np.where(
            has_lapse & (lo < t1),
            tau * (np.exp(-(lo - lapse_at) / tau) - np.exp(-(t1 - lapse_at) / tau)),
            0.0,
        )
    return rate * (np.where(t0 < t1, steady, 0.0) + np.nan_to_num(decay))


def _days_since(column: pd.Series, origin: pd.Timestamp) -> np.ndarray:
    values = pd.to_datetime(column, utc=True)
    return ((values - origin) / pd.Timedelta(days=1)).to_numpy(dtype=float, na_value=np.nan)
