"""Everybody else's ``activity_trend`` and ``cart_abandonment_rate`` moved on from ``S`` to ``T``.

When ``engagement_weights`` names them, the engagement score ranks a user's value among
everybody's at ``T``. Without new events the others' values still move: ``activity_trend``
counts the events of the last ``trend_days`` against the ``trend_days`` before, two windows that
slide with ``T``; ``cart_abandonment_rate`` counts carts ``abandon_hours`` old, and a cart put in
just before ``S`` comes of age after it. The store keeps what moves them (:func:`moving_arrays`):
every event of the last two trend windows before ``S`` (time, user), and each cart not yet of
age at ``S`` (when it comes of age, its user, whether it ends abandoned) with everybody's carts
of age at ``S``. :func:`moving_population` gives everybody's value at ``T`` from them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from personalab.features.query import DAY_NS

TREND, CARTS = "activity_trend", "cart_abandonment_rate"
#: the reference arrays' prefix in the store
PREFIX = "moving/"
HOUR_NS = 3600 * 10**9


def moving_arrays(
    arrow: pa.Table, who: np.ndarray, n: int, names: set[str], trend_days: float,
    abandon_hours: float, t_ns: int,
) -> dict[str, np.ndarray]:  # fmt: skip
    """The arrays that move the ``names`` among :data:`TREND` and :data:`CARTS` on from
    ``t_ns`` (``arrow``: every event before ``t_ns``; ``who``: each event's user position)."""
    ns = arrow.column("ns").to_numpy()
    kind = arrow.column("event_type").to_numpy(zero_copy_only=False)
    out: dict[str, np.ndarray] = {}
    if TREND in names:
        span = round(trend_days * DAY_NS)
        keep = np.flatnonzero(ns >= t_ns - 2 * span)
        keep = keep[np.argsort(ns[keep], kind="stable")]
        out |= {"trend/span": np.array([span], dtype=np.int64), "trend/times": ns[keep],
                "trend/who": who[keep].astype(np.int64)}  # fmt: skip
    if CARTS in names:
        limit = int(abandon_hours * HOUR_NS)
        cart = kind == "add_to_cart"
        pending = cart & (ns + limit > t_ns)
        items = arrow.column("item_id").to_numpy(zero_copy_only=False)
        carts = pd.DataFrame({"who": who[pending], "item": items[pending], "ns": ns[pending]})
        buys = kind == "purchase"
        bought = carts.reset_index().merge(
            pd.DataFrame({"who": who[buys], "item": items[buys], "buy": ns[buys]}),
            on=["who", "item"],
        )
        hit = (bought["buy"] >= bought["ns"]) & (bought["buy"] <= bought["ns"] + limit - 1)
        abandons = ~carts.index.isin(bought.loc[hit, "index"])
        order = np.argsort(carts["ns"].to_numpy(), kind="stable")
        out |= {
            "carts/any": np.bincount(who[cart], minlength=n) > 0,
            "carts/matured": np.bincount(who[cart & ~pending], minlength=n).astype(np.int64),
            "carts/times": (carts["ns"].to_numpy() + limit)[order].astype(np.int64),
            "carts/who": carts["who"].to_numpy()[order].astype(np.int64),
            "carts/abandons": abandons[order],
        }
    return {PREFIX + name: array for name, array in out.items()}


def moving_population(
    name: str, arrays: dict[str, np.ndarray], at_s: np.ndarray, t_ns: int
) -> np.ndarray:
    """Everybody's ``name`` (:data:`TREND` or :data:`CARTS`) at ``t_ns``, from ``arrays``
    (:func:`moving_arrays`, prefix removed) and their values at ``S`` (``at_s``)."""
    n = at_s.size
    if name == TREND:
        span, times, who = int(arrays["trend/span"][0]), arrays["trend/times"], arrays["trend/who"]
        low = int(np.searchsorted(times, t_ns - 2 * span, side="left"))
        middle = int(np.searchsorted(times, t_ns - span, side="left"))
        before = np.bincount(who[low:middle], minlength=n)
        last = np.bincount(who[middle:], minlength=n)
        total = last + before
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, (last - before) / total, np.nan)
    matured = arrays["carts/matured"]
    abandoned = np.rint(np.where(matured > 0, np.nan_to_num(at_s) * matured, 0.0))
    upto = int(np.searchsorted(arrays["carts/times"], t_ns, side="right"))
    who, abandons = arrays["carts/who"][:upto], arrays["carts/abandons"][:upto]
    matured = matured + np.bincount(who, minlength=n)
    abandoned = abandoned + np.bincount(who, weights=abandons.astype(float), minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(matured > 0, abandoned / matured, np.nan)
    return np.where(arrays["carts/any"], rate, np.nan)
