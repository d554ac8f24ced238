"""The features stage's row for one user at an instant ``T``, computed online from the user's
history (NumPy, no engine): the same definitions as :mod:`personalab.features.families_query`
and :mod:`personalab.features.rules_query`, restated per user so a request is answered in
about a millisecond.

The columns that compare a user with everybody else (the RFM scores and segment, the engagement
score, ``price_sensitivity``'s category medians, the clicks the ``high_clicker`` burst is timed
from) read the population frozen in the store (:class:`~personalab.online.reference.Reference`):
the features stage's users at the store's instant ``S``. Recency is ranked at ``T`` exactly
(every other user's last event is known); the others' other values are theirs at ``S``.

Sums the features stage adds in exact decimal arithmetic (``query.exact_sum``: 12 digits after
the point) are added the same way here (:func:`exact_sum`), so equal inputs give equal bytes and
ties rank alike.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

from personalab.features.build import column_order
from personalab.features.query import DAY_NS, HOUR_NS
from personalab.features.rules_query import MS_NS
from personalab.features.schema import category_share_column

if TYPE_CHECKING:
    from personalab.features.plan import FeaturesPlan
    from personalab.online.history import History
    from personalab.online.reference import Reference

NAN = float("nan")
SCALE = 10**12  # query.EXACT: decimal(38, 12)


def exact_sum(values: np.ndarray) -> float:
    """As ``query.exact_sum`` on DuckDB: each float64 rounded (half to even) to 12 decimals, the
    decimals added exactly, the total back to float64 (NaN values skipped)."""
    scaled = np.rint(values[~np.isnan(values)] * float(SCALE))
    if not scaled.size:
        return 0.0
    if float(np.abs(scaled).max()) * scaled.size < 2.0**62:  # no int64 sum can overflow
        return float(int(scaled.astype(np.int64).sum())) / float(SCALE)
    return float(sum(int(v) for v in scaled)) / float(SCALE)


def first_seen_codes(values: np.ndarray) -> np.ndarray:
    """Codes 0, 1, ... of an object column's values in the order they first appear, a missing
    value (None) being one more (``pd.factorize(values, use_na_sentinel=False)``'s codes)."""
    seen: dict[Any, int] = {}
    codes = (seen.setdefault(value, len(seen)) for value in values.tolist())
    return np.fromiter(codes, np.int64, values.size)


def ratio(num: float, den: float) -> float:
    return float(num) / den if den > 0 else NAN


def known(values: np.ndarray) -> np.ndarray:
    """Where an object column holds a value (not None)."""
    return values != None  # noqa: E711 (element-wise)


def online_row(history: History, t_ns: int, plan: FeaturesPlan, ref: Reference) -> dict[str, Any]:
    """``{column: value}`` of the user's features-stage row at ``t_ns`` (``user_id`` and
    ``cutoff`` left out) from ``history`` (their events, at least one before ``t_ns``)."""
    h = history.before(t_ns)
    if not len(h):
        raise ValueError("the user has no event before the instant asked for")
    outcomes = cart_outcomes(h, t_ns, plan.params.segments.abandon_hours)
    out = family_values(h, t_ns, plan, ref, outcomes)
    out |= rank_values(out, h, t_ns, plan, ref)
    out |= segment_values(out, h, t_ns, plan, ref, outcomes)
    weights = plan.support.weights
    if plan.support.keeps("engagement_score") and weights:
        out["engagement_score"] = ref.engagement(out, t_ns, weights)
    priority = plan.priority
    out["dominant_segment"] = next((name for name in priority if out[f"seg_{name}"] == 1), "none")
    return {name: out[name] for name in column_order(plan) if name != "user_id"}


def family_values(
    h: History, t_ns: int, plan: FeaturesPlan, ref: Reference, outcomes: tuple[np.ndarray, ...]
) -> dict[str, Any]:
    """The feature families' columns; ``outcomes``: :func:`cart_outcomes` at ``t_ns``."""
    ns = h.ns
    purchase, view = h.of_type("purchase"), h.of_type("view")
    out: dict[str, Any] = {
        "days_since_last_event": float(t_ns - int(ns[-1])) / DAY_NS,
        "days_since_last_purchase": (
            float(t_ns - int(ns[purchase].max())) / DAY_NS if purchase.any() else NAN
        ),
        "days_since_first_event": float(t_ns - int(ns[0])) / DAY_NS,
    }
    sessions = session_values(h, t_ns, plan.params.windows_days)
    for w in plan.params.windows_days:
        recent = ns >= t_ns - w * DAY_NS
        out[f"sessions_{w}d"] = sessions.pop(f"sessions_{w}d")
        out[f"events_{w}d"] = int(recent.sum())
        out[f"purchases_{w}d"] = int((recent & purchase).sum())
    amount = np.where(np.isnan(h.quantity), 1.0, h.quantity) * h.price
    out["revenue_total"] = exact_sum(np.where(purchase & ~np.isnan(amount), amount, 0.0))
    out["orders_total"] = sessions.pop("orders_total")
    out["avg_order_value"] = ratio(out["revenue_total"], out["orders_total"])
    out |= sessions
    dwell = view & ~np.isnan(h.dwell_seconds)
    scroll = h.of_type("scroll") & ~np.isnan(h.scroll_depth)
    views, carts = int(view.sum()), int(h.of_type("add_to_cart").sum())
    out["dwell_mean"] = ratio(exact_sum(h.dwell_seconds[dwell]), int(dwell.sum()))
    out["scroll_depth_mean"] = ratio(exact_sum(h.scroll_depth[scroll]), int(scroll.sum()))
    out["scroll_depth_max"] = float(h.scroll_depth[scroll].max()) if scroll.any() else NAN
    out["clicks_per_view"] = ratio(int(h.of_type("click").sum()), views)
    out["view_to_cart"] = ratio(carts, views)
    out["cart_to_purchase"] = ratio(int(purchase.sum()), carts)
    matured, abandoned, _ = outcomes
    out["cart_abandonment_rate"] = ratio(int(abandoned.sum()), int(matured.sum())) if carts else NAN
    categories = present_counts(h.category)
    out |= category_mix(categories)
    out["price_sensitivity"] = ref.price_sensitivity(h)
    span = round(plan.trend_days * DAY_NS)
    last = int((ns >= t_ns - span).sum())
    prev = int(((ns >= t_ns - 2 * span) & (ns < t_ns - span)).sum())
    out["activity_trend"] = ratio(last - prev, last + prev)
    devices = present_counts(h.device)
    total = sum(devices.values())
    for name in plan.devices:
        out[f"device_share_{name}"] = ratio(devices.get(name, 0), total)
    total = sum(categories.values())
    for name in plan.categories:
        out[category_share_column(name)] = ratio(categories.get(name, 0), total)
    return out


def session_values(h: History, t_ns: int, windows_days: list[int]) -> dict[str, Any]:
    """The session family (``families_query.session_features``): sessions are the user's
    distinct session ids (a missing id is one session)."""
    codes = first_seen_codes(h.session_id)
    n = int(codes.max()) + 1
    counts = np.bincount(codes, minlength=n)
    purchases = np.bincount(codes, weights=h.of_type("purchase"), minlength=n)
    start = np.full(n, np.iinfo(np.int64).max)
    end = np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(start, codes, h.ns)
    np.maximum.at(end, codes, h.ns)
    duration = end - start
    out = {
        "sessions_total": n,
        "session_duration_mean": ratio(float(sum(int(d) for d in duration)) / 1e9, n),
        "session_duration_max": float(duration.max()) / 1e9,
        "events_per_session": ratio(int(counts.sum()), n),
        "bounce_rate": ratio(int((counts == 1).sum()), n),
        "orders_total": int((purchases > 0).sum()),
    }
    for w in windows_days:
        out[f"sessions_{w}d"] = int((end >= t_ns - w * DAY_NS).sum())
    return out


def cart_outcomes(h: History, t_ns: int, abandon_hours: float) -> tuple[np.ndarray, ...]:
    """Per add-to-cart event (``rules_query.cart_outcomes``): matured (at least
    ``abandon_hours`` old at ``T``), abandoned (matured, and no purchase of the same item in
    ``[ns, ns + limit)``; a missing item id matches a purchase without one), and its time."""
    limit = int(abandon_hours * HOUR_NS)
    cart = h.of_type("add_to_cart")
    at = h.ns[cart]
    matured = at + limit <= t_ns
    buys = h.of_type("purchase")
    bought = np.zeros(at.size, dtype=bool)
    if buys.any():
        buy_ns, buy_item = h.ns[buys], h.item_id[buys]
        for i, (t, item) in enumerate(zip(at, h.item_id[cart], strict=True)):
            same = buy_item == item if item is not None else ~known(buy_item)
            hits = buy_ns[same]
            bought[i] = bool(((hits >= t) & (hits <= t + limit - 1)).any())
    return matured, matured & ~bought, at


def present_counts(values: np.ndarray) -> Counter:
    """How often each value of an object column occurs, missing values (None) left out."""
    counts = Counter(values.tolist())
    counts.pop(None, None)
    return counts


def category_mix(counts: Counter) -> dict[str, float]:
    """The top category's share and the entropy of the shares (``counts``: per category)."""
    if not counts:
        return {"top_category_share": NAN, "category_entropy": NAN}
    counts = np.array(list(counts.values()))
    share = counts.astype(float) / float(counts.sum())
    return {
        "top_category_share": float(share.max()),  # (the order of the shares changes nothing)
        "category_entropy": abs(exact_sum(-(share * np.log2(share)))),
    }


def rank_values(
    out: dict[str, Any], h: History, t_ns: int, plan: FeaturesPlan, ref: Reference
) -> dict[str, Any]:
    """The RFM scores (``rules_query.rfm_columns``) against the frozen population."""
    longest = plan.params.windows_days[-1]
    scores = {
        "rfm_recency": ref.quintile(
            "days_since_last_event", out["days_since_last_event"], t_ns, negate=True
        ),
        "rfm_frequency": ref.quintile(f"sessions_{longest}d", out[f"sessions_{longest}d"], t_ns),
    }
    monetary = plan.support.keeps("rfm_monetary")
    if monetary:
        scores["rfm_monetary"] = ref.quintile("revenue_total", out["revenue_total"], t_ns)
    scores["rfm_segment"] = rfm_segment_of(
        scores["rfm_recency"], scores["rfm_frequency"], scores["rfm_monetary"] if monetary else 5
    )
    return scores


def rfm_segment_of(r: int, f: int, m: int) -> str:
    """``rules_query.rfm_segment_of`` on one user's scores."""
    rules = (
        (r >= 4 and f >= 4 and m >= 4, "champions"),
        (f >= 4 and m >= 3, "loyal"),
        (r >= 4 and f <= 2, "new"),
        (r >= 3 and f >= 3, "potential"),
        (r <= 2 and f >= 3, "at_risk"),
        (r <= 2 and f <= 2, "hibernating"),
    )
    return next((name for holds, name in rules if holds), "needs_attention")


def segment_values(
    out: dict[str, Any],
    h: History,
    t_ns: int,
    plan: FeaturesPlan,
    ref: Reference,
    outcomes: tuple[np.ndarray, ...],
) -> dict[str, int]:
    """The 0/1 rule segments (``rules_query.segment_columns``) the plan keeps; ``outcomes``:
    :func:`cart_outcomes` at ``t_ns``."""
    seg = plan.params.segments
    start = t_ns - seg.window_days * DAY_NS
    recent = h.ns >= start
    kind = h.of_type
    holds: dict[str, bool] = {}
    for name in plan.support.segments:
        if name == "high_clicker":
            holds[name] = high_clicker(h, recent & kind("click"), t_ns, seg, ref)
        elif name == "deep_scroller":
            ok = recent & kind("scroll") & ~np.isnan(h.scroll_depth)
            holds[name] = mean_above(h.scroll_depth[ok], seg.deep_scroll_depth)
        elif name == "long_dweller":
            ok = recent & kind("view") & ~np.isnan(h.dwell_seconds)
            holds[name] = mean_above(h.dwell_seconds[ok], seg.long_dwell_seconds)
        elif name == "converter":
            holds[name] = bool((recent & kind("purchase")).any())
        elif name == "cart_abandoner":
            _, abandoned, at = outcomes
            holds[name] = bool((abandoned & (at >= start)).any())
        elif name == "at_risk":
            holds[name] = (
                out["days_since_last_event"] > seg.at_risk_days
                and out["sessions_total"] >= seg.at_risk_min_sessions
            )
    return {f"seg_{name}": int(holds[name]) for name in plan.support.segments}


def mean_above(values: np.ndarray, threshold: float) -> bool:
    return bool(values.size) and exact_sum(values) / float(values.size) > threshold


def high_clicker(h: History, clicks: np.ndarray, t_ns: int, seg: Any, ref: Reference) -> bool:
    """More than ``high_click_count`` clicks within ``high_click_minutes`` in one session, the
    clicks timed in whole milliseconds since the first click of anybody in the window
    (``rules_query._burst_users``)."""
    if not clicks.any():
        return False
    at = h.ns[clicks]
    first = ref.first_click(t_ns - seg.window_days * DAY_NS, t_ns, int(at.min()))
    since = at - first
    ms = since - since % MS_NS
    reach = (int(seg.high_click_minutes * 60 * 10**9) // MS_NS - 1) * MS_NS
    codes = first_seen_codes(h.session_id[clicks])
    for code in range(int(codes.max()) + 1):
        times = np.sort(ms[codes == code])
        # a range frame: every click from ``reach`` before to the row's time, ties included
        near = np.searchsorted(times, times, "right") - np.searchsorted(times, times - reach)
        if (near > seg.high_click_count).any():
            return True
    return False
