"""Stage ``features``: point-in-time user features, labels and rule segments.

For each cut-off ``T`` every feature uses only events with ``timestamp < T``; the
label ``purchased_within_horizon`` is 1 when the user has a purchase in
``[T, T + horizon)``. Users with no event before ``T`` have no row for ``T``;
cut-offs whose horizon runs past the end of the log are dropped (never labelled
negative). Sessions are rebuilt from the events before ``T`` (a session that
straddles ``T`` only counts its part before ``T``), so nothing after ``T`` leaks in
through the sessions table.

Features (``W`` = each window in ``windows_days``, default 1, 7 and 30 days):

========================  ==============================================================  ==========
name                      meaning                                                         window
========================  ==============================================================  ==========
days_since_last_event     days from the last event to ``T``                               all
days_since_last_purchase  days from the last purchase to ``T`` (NaN: never bought)        all
days_since_first_event    days from the first event to ``T`` (tenure)                     all
sessions_Wd               sessions with an event in ``[T - W, T)``                        W
events_Wd                 events in ``[T - W, T)``                                        W
purchases_Wd              purchase events in ``[T - W, T)``                               W
revenue_total             sum of price x quantity of purchases                            all
orders_total              sessions with a purchase                                        all
avg_order_value           revenue_total / orders_total (NaN: no orders)                   all
rfm_recency               quintile score 1-5 of days_since_last_event (5 = most recent)   all
rfm_frequency             quintile score 1-5 of sessions in the longest window            longest W
rfm_monetary              quintile score 1-5 of revenue_total                             all
rfm_segment               champions, loyal, new, potential, at_risk, hibernating,         all
                          needs_attention (rules in ``rfm_segment_of``)
sessions_total            sessions                                                        all
session_duration_mean     mean session duration in seconds (first to last event)          all
session_duration_max      longest session in seconds                                      all
events_per_session        events / sessions                                               all
bounce_rate               share of sessions with a single event                           all
dwell_mean                mean dwell seconds of views (NaN: no dwell recorded)            all
scroll_depth_mean         mean scroll depth of scroll events (NaN: none)                  all
scroll_depth_max          deepest scroll (NaN: none)                                      all
clicks_per_view           clicks / views (NaN: no views)                                  all
view_to_cart              add_to_cart / views (NaN: no views)                             all
cart_to_purchase          purchases / add_to_cart (NaN: no carts)                         all
cart_abandonment_rate     share of carts with no purchase of that item within             all
                          ``abandon_hours``, among carts at least that old at ``T``
                          (NaN: none)
top_category_share        share of events in the user's most frequent category            all
category_entropy          Shannon entropy (bits) of the user's category mix               all
price_sensitivity         mean of viewed price / median price of the item's category,     all
                          catalogue = items seen before ``T`` (< 1: prefers cheap items)
activity_trend            (events in the last ``trend_days`` - events in the              2 x trend
                          ``trend_days`` before) / their sum, in [-1, 1]
device_share_<device>     share of events on each device (NaN: device unknown)            all
category_share_<cat>      share of events in each of the ``category_shares`` most         all
                          frequent categories before the last cut-off (NaN: no category)
========================  ==============================================================  ==========

Missing values, on purpose: counts and sums are 0 when nothing happened; ratios
and means whose denominator is zero stay NaN (XGBoost learns where to send them);
``activity_trend`` is NaN with no events in the last 14 days.

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

import re
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from personalab.core.errors import InputError
from personalab.core.params import StageParams
from personalab.core.paths import ProjectPaths, upstream
from personalab.core.storage import write_csv, write_metrics, write_parquet
from personalab.features.params import CutoffParams, FeaturesParams, SegmentRules
from personalab.features.schema import (
    KEYS,
    LABEL,
    RFM_SEGMENTS,
    SEGMENTS,
    category_share_column,
    feature_names,
)

STAGE = "features"
_DAY_NS = 86_400 * 10**9
_HOUR_NS = 3_600 * 10**9


class FeaturesError(InputError, ValueError):
    """The events cannot give the asked-for features (e.g. no cut-off fits the log)."""


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


# --- cut-offs and labels ------------------------------------------------------------------------


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


# --- features at one cut-off --------------------------------------------------------------------


@dataclass
class _History:
    """The events before one cut-off as arrays, with user and session codes."""

    user: np.ndarray  # user code per event (0..n_users-1)
    ns: np.ndarray  # event time, ns since epoch
    etype: pd.Series  # event type (string categories)
    session: np.ndarray  # session code per event
    frame: pd.DataFrame  # numeric and label columns
    n_users: int


def features_at(
    events: pd.DataFrame,
    cutoff: pd.Timestamp,
    params: FeaturesParams,
    devices: list[str],
    categories: list[str] = (),
) -> pd.DataFrame:
    """One row per user with an event before ``cutoff``: every feature and rule segment."""
    before = events["timestamp"] < cutoff
    hist_frame = events.loc[before]
    if hist_frame.empty:
        return pd.DataFrame(columns=[*KEYS])
    user_codes, users = pd.factorize(hist_frame["user_id"], sort=True)
    # a session is a (user, session id) pair: a source may reuse ids across users
    source_sessions, _ = pd.factorize(hist_frame["session_id"])
    pair_key = user_codes.astype(np.int64) * (int(source_sessions.max()) + 2) + source_sessions
    session_codes, _ = pd.factorize(pair_key)
    h = _History(
        user=user_codes,
        ns=hist_frame["timestamp"].to_numpy(dtype="datetime64[ns]").view("int64"),
        etype=hist_frame["event_type"].astype("str"),
        session=session_codes,
        frame=hist_frame,
        n_users=len(users),
    )
    t_ns = cutoff.value
    out = pd.DataFrame({"user_id": pd.Series(np.asarray(users), dtype="str"), "cutoff": cutoff})
    is_purchase = (h.etype == "purchase").to_numpy()
    is_view = (h.etype == "view").to_numpy()
    is_click = (h.etype == "click").to_numpy()
    is_cart = (h.etype == "add_to_cart").to_numpy()

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(h.user[mask], minlength=h.n_users)

    def per_user_max(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
        return (
            pd.Series(values[mask]).groupby(h.user[mask]).max().reindex(range(h.n_users)).to_numpy()
        )

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)

    def mean(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Per-user mean of ``values`` over the masked events (NaN for users with none)."""
        total = np.bincount(h.user[mask], weights=values[mask], minlength=h.n_users)
        return ratio(total, count(mask))

    # recency
    out["days_since_last_event"] = (t_ns - per_user_max(np.ones_like(is_view), h.ns)) / _DAY_NS
    out["days_since_last_purchase"] = (
        t_ns - per_user_max(is_purchase, h.ns.astype(float))
    ) / _DAY_NS
    first_ns = pd.Series(h.ns).groupby(h.user).min().reindex(range(h.n_users)).to_numpy()
    out["days_since_first_event"] = (t_ns - first_ns) / _DAY_NS
    # frequency
    for w in params.windows_days:
        recent = h.ns >= t_ns - w * _DAY_NS
        out[f"sessions_{w}d"] = _distinct_sessions(h, recent)
        out[f"events_{w}d"] = count(recent)
        out[f"purchases_{w}d"] = count(recent & is_purchase)
    # monetary
    price = h.frame["price"].to_numpy(dtype=float)
    quantity = np.nan_to_num(h.frame["quantity"].to_numpy(dtype=float), nan=1.0)
    amount = np.where(is_purchase, np.nan_to_num(price * quantity), 0.0)
    out["revenue_total"] = np.bincount(h.user, weights=amount, minlength=h.n_users)
    out["orders_total"] = _distinct_sessions(h, is_purchase)
    out["avg_order_value"] = ratio(out["revenue_total"].to_numpy(), out["orders_total"].to_numpy())
    longest = params.windows_days[-1]
    out["rfm_recency"] = quintile_score(-out["days_since_last_event"])
    out["rfm_frequency"] = quintile_score(out[f"sessions_{longest}d"])
    out["rfm_monetary"] = quintile_score(out["revenue_total"])
    out["rfm_segment"] = rfm_segment_of(
        out["rfm_recency"], out["rfm_frequency"], out["rfm_monetary"]
    )
    # sessions (rebuilt from the events before the cut-off)
    session_user = np.zeros(session_codes.max() + 1, dtype=np.int64)
    session_user[h.session] = h.user
    s_start = np.full(session_user.size, np.iinfo(np.int64).max)
    s_end = np.full(session_user.size, np.iinfo(np.int64).min)
    np.minimum.at(s_start, h.session, h.ns)
    np.maximum.at(s_end, h.session, h.ns)
    s_events = np.bincount(h.session, minlength=session_user.size)
    s_duration = (s_end - s_start) / 1e9
    n_sessions = np.bincount(session_user, minlength=h.n_users)
    out["sessions_total"] = n_sessions
    out["session_duration_mean"] = ratio(
        np.bincount(session_user, weights=s_duration, minlength=h.n_users), n_sessions
    )
    out["session_duration_max"] = (
        pd.Series(s_duration).groupby(session_user).max().reindex(range(h.n_users)).to_numpy()
    )
    out["events_per_session"] = ratio(np.bincount(h.user, minlength=h.n_users), n_sessions)
    out["bounce_rate"] = ratio(
        np.bincount(session_user, weights=(s_events == 1), minlength=h.n_users), n_sessions
    )
    # engagement
    dwell = h.frame["dwell_seconds"].to_numpy(dtype=float)
    has_dwell = is_view & ~np.isnan(dwell)
    out["dwell_mean"] = mean(has_dwell, dwell)
    scroll = h.frame["scroll_depth"].to_numpy(dtype=float)
    has_scroll = (h.etype == "scroll").to_numpy() & ~np.isnan(scroll)
    out["scroll_depth_mean"] = mean(has_scroll, scroll)
    out["scroll_depth_max"] = per_user_max(has_scroll, scroll)
    views, clicks, carts, purchases = (
        count(is_view),
        count(is_click),
        count(is_cart),
        count(is_purchase),
    )
    out["clicks_per_view"] = ratio(clicks, views)
    # funnel
    out["view_to_cart"] = ratio(carts, views)
    out["cart_to_purchase"] = ratio(purchases, carts)
    matured, abandoned = _cart_outcomes(
        h, is_cart, is_purchase, t_ns, params.segments.abandon_hours
    )
    out["cart_abandonment_rate"] = ratio(count(abandoned), count(matured))
    # taste
    out["top_category_share"], out["category_entropy"] = _category_mix(h)
    out["price_sensitivity"] = _price_sensitivity(h, is_view, price)
    # trend and devices
    last = count(h.ns >= t_ns - params.trend_days * _DAY_NS)
    prev = count(
        (h.ns >= t_ns - 2 * params.trend_days * _DAY_NS)
        & (h.ns < t_ns - params.trend_days * _DAY_NS)
    )
    out["activity_trend"] = ratio(last - prev, last + prev)
    device = h.frame["device"].astype("str")
    known = device.notna().to_numpy()
    for name in devices:
        out[f"device_share_{name}"] = ratio(
            count(known & (device == name).to_numpy()), count(known)
        )
    if categories:
        category = h.frame["category"].astype("str")
        known = category.notna().to_numpy()
        for name in categories:
            out[category_share_column(name)] = ratio(
                count(known & (category == name).to_numpy()), count(known)
            )
    # rule segments
    seg = params.segments
    window = h.ns >= t_ns - seg.window_days * _DAY_NS
    out["seg_high_clicker"] = _burst_users(
        h, window & is_click, seg.high_click_count, seg.high_click_minutes
    )
    deep = mean(window & has_scroll, scroll) > seg.deep_scroll_depth
    out["seg_deep_scroller"] = deep.astype(np.int8)
    out["seg_long_dweller"] = (mean(window & has_dwell, dwell) > seg.long_dwell_seconds).astype(
        np.int8
    )
    out["seg_converter"] = (count(window & is_purchase) > 0).astype(np.int8)
    out["seg_cart_abandoner"] = (count(window & abandoned) > 0).astype(np.int8)
    out["seg_at_risk"] = (
        (out["days_since_last_event"] > seg.at_risk_days) & (n_sessions >= seg.at_risk_min_sessions)
    ).astype(np.int8)
    out["engagement_score"] = engagement_score(out, params.engagement_weights)
    out["dominant_segment"] = dominant_segment(out, seg.priority)
    return out


def _distinct_sessions(h: _History, mask: np.ndarray) -> np.ndarray:
    """Distinct sessions per user among the masked events."""
    sessions = np.unique(h.session[mask])
    owner = np.zeros(h.session.max() + 1, dtype=np.int64)
    owner[h.session] = h.user
    return np.bincount(owner[sessions], minlength=h.n_users)


def _cart_outcomes(
    h: _History, is_cart: np.ndarray, is_purchase: np.ndarray, t_ns: int, abandon_hours: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per event: carts old enough to judge at the cut-off, and those with no purchase of the item in time."""
    limit = int(abandon_hours * _HOUR_NS)
    matured = is_cart & (h.ns + limit <= t_ns)
    if not matured.any():
        return matured, matured.copy()
    rows = np.flatnonzero(matured | is_purchase)
    items, _ = pd.factorize(h.frame["item_id"].iloc[rows])
    key = h.user[rows].astype(np.int64) * (int(items.max()) + 2) + items
    cart_rows, buy_rows = matured[rows], is_purchase[rows]
    carts = pd.DataFrame(
        {"key": key[cart_rows], "t": h.ns[rows][cart_rows], "pos": rows[cart_rows]}
    )
    buys = pd.DataFrame({"key": key[buy_rows], "t_buy": h.ns[rows][buy_rows]})
    carts = carts.sort_values("t", kind="stable")
    buys = buys.sort_values("t_buy", kind="stable")
    matched = pd.merge_asof(
        carts,
        buys,
        left_on="t",
        right_on="t_buy",
        by="key",
        direction="forward",
        tolerance=limit - 1,
    )
    abandoned = np.zeros_like(matured)
    abandoned[matched.loc[matched["t_buy"].isna(), "pos"].to_numpy()] = True
    return matured, abandoned


def _category_mix(h: _History) -> tuple[np.ndarray, np.ndarray]:
    cat_codes, _ = pd.factorize(h.frame["category"].astype("str"))
    known = cat_codes >= 0
    n_cats = int(cat_codes.max()) + 1 if known.any() else 1
    pairs = np.bincount(h.user[known] * n_cats + cat_codes[known], minlength=h.n_users * n_cats)
    counts = pairs.reshape(h.n_users, n_cats).astype(float)
    totals = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = counts / totals[:, None]
        top = np.where(totals > 0, shares.max(axis=1), np.nan)
        logs = np.where(shares > 0, np.log2(np.where(shares > 0, shares, 1)), 0.0)
        entropy = np.where(totals > 0, -(shares * logs).sum(axis=1), np.nan)
    return top, np.abs(entropy)


def _price_sensitivity(h: _History, is_view: np.ndarray, price: np.ndarray) -> np.ndarray:
    """Mean over viewed items of price / median price of the item's category (catalogue before T)."""
    items = pd.DataFrame(
        {
            "item": h.frame["item_id"].to_numpy(),
            "category": h.frame["category"].astype("str").to_numpy(),
            "price": price,
        }
    )
    items = items.dropna(subset=["item", "price"])
    catalogue = items.groupby("item", sort=False).agg(
        category=("category", "first"), price=("price", "median")
    )
    median = catalogue.groupby("category", dropna=False)["price"].median()
    cat_median = h.frame["category"].astype("str").map(median).to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = price / cat_median
    ok = is_view & np.isfinite(rel)
    n = np.bincount(h.user[ok], minlength=h.n_users)
    total = np.bincount(h.user[ok], weights=rel[ok], minlength=h.n_users)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def _burst_users(h: _History, mask: np.ndarray, count: int, minutes: float) -> np.ndarray:
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


def quintile_score(values: pd.Series) -> np.ndarray:
    """1-5 by percentile rank (ties share a score; 5 = highest values)."""
    pct = pd.Series(values).rank(method="average", pct=True).to_numpy()
    return np.clip(np.ceil(pct * 5), 1, 5).astype(np.int8)


def rfm_segment_of(r: pd.Series, f: pd.Series, m: pd.Series) -> pd.Series:
    """Named RFM segments from 1-5 scores, first rule that holds."""
    r, f, m = (np.asarray(x) for x in (r, f, m))
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


def load_events(paths: ProjectPaths) -> pd.DataFrame:
    """The ingest stage's canonical events (a clear error when the stage has not run)."""
    return pd.read_parquet(upstream(paths.interim / "events.parquet", "ingest", FeaturesError))


# --- the whole table ----------------------------------------------------------------------------


@dataclass
class FeaturesResult:
    table: pd.DataFrame
    cutoffs: list[pd.Timestamp]
    dropped_cutoffs: list[pd.Timestamp]
    metrics: dict[str, Any]
    seconds: float
    feature_names: list[str]  # numeric features (without rule segments and the label)


def build_features(events: pd.DataFrame, params: FeaturesParams) -> FeaturesResult:
    """Features, rule segments and labels for every (user, cut-off)."""
    start = time.perf_counter()
    missing = [c for c in ("user_id", "session_id", "timestamp", "event_type") if c not in events]
    if missing:
        raise FeaturesError(f"events table lacks column(s) {missing}; run the ingest stage first")
    if events.empty:
        raise FeaturesError("events table is empty: nothing to build features from")
    log_start, log_end = events["timestamp"].min(), events["timestamp"].max()
    cutoffs, dropped = place_cutoffs(log_start, log_end, params.cutoffs, params.horizon_days)
    if not cutoffs:
        raise FeaturesError(
            f"no cut-off fits the log ({log_start} to {log_end}) with a {params.horizon_days}-day horizon; "
            f"dropped: {[str(t) for t in dropped]}"
        )
    # devices seen before the last cut-off (no column exists only because of later events)
    seen = events.loc[events["timestamp"] < cutoffs[-1], "device"] if "device" in events else None
    devices = sorted(str(d) for d in pd.unique(seen.dropna())) if seen is not None else []
    categories = top_categories(events, cutoffs[-1], params.category_shares)
    parts = []
    for cutoff in cutoffs:
        part = features_at(events, cutoff, params, devices, categories)
        part[LABEL] = label_purchases(events, part["user_id"], cutoff, params.horizon_days)
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    seconds = time.perf_counter() - start
    names = feature_names(params.windows_days, devices, categories)
    metrics: dict[str, Any] = {
        "rows": len(table),
        "users": int(table["user_id"].nunique()),
        "cutoffs": len(cutoffs),
        "cutoffs_dropped": len(dropped),
        "positive_rate": float(table[LABEL].mean()),
        "feature_count": len(names)
        + len(SEGMENTS)
        + 3,  # + rfm_segment, engagement_score, dominant_segment
        "max_null_share": float(table[names].isna().mean().max()),
        **{f"share_{name}": float(table[f"seg_{name}"].mean()) for name in SEGMENTS},
    }
    return FeaturesResult(
        table=table,
        cutoffs=cutoffs,
        dropped_cutoffs=dropped,
        metrics=metrics,
        seconds=seconds,
        feature_names=names,
    )


# --- reporting ----------------------------------------------------------------------------------


def feature_table_doc() -> pd.DataFrame:
    """The module docstring's feature table (name, meaning, window) as a frame, for the notebook."""
    lines = __doc__.splitlines()
    borders = [i for i, line in enumerate(lines) if line.startswith("=====")]
    top, header_end, bottom = borders[0], borders[1], borders[2]
    starts = [
        i for i, ch in enumerate(lines[top]) if ch == "=" and (i == 0 or lines[top][i - 1] == " ")
    ]
    rows: list[list[str]] = []
    for line in lines[header_end + 1 : bottom]:
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
        if cells[0]:
            rows.append(cells)
        elif rows:
            rows[-1][1] = f"{rows[-1][1]} {cells[1]}".strip()
    return pd.DataFrame(rows, columns=["name", "meaning", "window"])


def null_shares(table: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Share of missing values per feature, largest first."""
    shares = table[names].isna().mean().sort_values(ascending=False)
    return shares.rename("null_share").rename_axis("feature").reset_index()


def positive_rate_by_cutoff(table: pd.DataFrame) -> pd.DataFrame:
    grouped = table.groupby("cutoff")[LABEL].agg(["size", "mean"]).reset_index()
    grouped.columns = ["cutoff", "rows", "positive_rate"]
    grouped["cutoff"] = grouped["cutoff"].dt.strftime("%Y-%m-%d")
    return grouped


def segment_sizes(table: pd.DataFrame) -> pd.DataFrame:
    """Users holding each rule segment at the last cut-off (and as dominant segment)."""
    last = table[table["cutoff"] == table["cutoff"].max()]
    held = [int(last[f"seg_{name}"].sum()) for name in SEGMENTS]
    dominant = last["dominant_segment"].value_counts().reindex([*SEGMENTS, "none"], fill_value=0)
    return pd.DataFrame(
        {
            "segment": [*SEGMENTS, "none"],
            "users": [*held, int((last[[f"seg_{n}" for n in SEGMENTS]].sum(axis=1) == 0).sum())],
            "dominant": dominant.to_numpy(),
        }
    )


def feature_summary_by_label(table: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Median of each feature for non-buyers and buyers (label 0 and 1)."""
    medians = table.groupby(LABEL)[names].median().T.reindex(columns=[0, 1])
    return medians.set_axis(["non_buyers", "buyers"], axis=1).rename_axis("feature").reset_index()


def plot_distributions(table: pd.DataFrame, names: list[str]):
    """Histograms of key features for buyers and non-buyers (log scale where heavy-tailed)."""
    import matplotlib.pyplot as plt

    cols = 4
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(14, 3 * rows))
    for ax, name in zip(np.ravel(axes), names, strict=False):
        values = table[name].astype(float)
        finite = values.dropna()
        heavy = (
            not finite.empty
            and finite.min() >= 0
            and finite.quantile(0.99) > 20 * max(finite.median(), 1.0)
        )
        values = np.log1p(values) if heavy else values
        bins = np.histogram_bin_edges(values.dropna(), bins=30) if values.notna().any() else 30
        for label, color in ((0, "tab:blue"), (1, "tab:orange")):
            part = values[table[LABEL] == label].dropna()
            if not part.empty:
                ax.hist(
                    part, bins=bins, density=True, alpha=0.55, color=color, label=f"label {label}"
                )
        ax.set_title(f"log1p({name})" if heavy else name, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in np.ravel(axes)[len(names) :]:
        ax.set_visible(False)
    np.ravel(axes)[0].legend(fontsize=7)
    fig.suptitle("Feature distributions by label (density)", y=1.0)
    fig.tight_layout()
    return fig


def plot_segments(sizes: pd.DataFrame, rates: pd.DataFrame):
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    left.barh(sizes["segment"][::-1], sizes["users"][::-1], color="tab:purple", label="holds")
    left.barh(
        sizes["segment"][::-1],
        sizes["dominant"][::-1],
        color="tab:green",
        alpha=0.7,
        label="dominant",
    )
    left.set(title="Rule segments at the last cut-off", xlabel="users")
    left.legend(fontsize=8)
    right.plot(rates["cutoff"], rates["positive_rate"], marker="o")
    right.set(title="Positive rate per cut-off", ylabel=f"share {LABEL}", ylim=(0, None))
    right.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig


def save_features(result: FeaturesResult, paths: ProjectPaths) -> dict[str, Any]:
    """Write the table, metrics and plot data atomically."""
    names = result.feature_names
    plots = paths.plots_dir(STAGE)
    return {
        "features": write_parquet(result.table, paths.processed / "features.parquet"),
        "metrics": write_metrics(result.metrics, paths.metrics_file(STAGE)),
        "positive_rate": write_csv(
            positive_rate_by_cutoff(result.table), plots / "positive_rate.csv"
        ),
        "segment_sizes": write_csv(segment_sizes(result.table), plots / "segment_sizes.csv"),
        "by_label": write_csv(
            feature_summary_by_label(result.table, names), plots / "feature_by_label.csv"
        ),
    }
