"""The feature families: one function per family, each returning its columns in table order.

Every function takes the ``History`` of one cut-off ``T`` (only events with
``timestamp < T``) and returns ``{column: per-user values}``; ``build.features_at``
calls them in the order below, which is the table's column order (the RFM columns,
rules over the order and window columns, come from ``rules.rfm_features``); it then drops
the columns the log cannot have.

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

``report.feature_table_doc`` reads this table for the notebook.

Missing values, on purpose: counts and sums are 0 when nothing happened; ratios
and means whose denominator is zero stay NaN (XGBoost learns where to send them);
``activity_trend`` is NaN with no events in the last ``2 x trend_days`` (``trend_days``
``auto``: the cut-off step, 7 days on a long log). A column the log cannot have (no purchase
events, no dwell times, ...) is left out of the table, not written as NaN
(:mod:`personalab.features.support`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from personalab.features.history import DAY_NS, HOUR_NS, History, ratio
from personalab.features.schema import category_share_column

Columns = dict[str, np.ndarray]


# --- recency and windows ------------------------------------------------------------------------


def recency_features(h: History, t_ns: int) -> Columns:
    """Days from the last event, the last purchase and the first event to the cut-off."""
    out: Columns = {}
    out["days_since_last_event"] = (t_ns - h.per_user_max(np.ones_like(h.is_view), h.ns)) / DAY_NS
    out["days_since_last_purchase"] = (
        t_ns - h.per_user_max(h.is_purchase, h.ns.astype(float))
    ) / DAY_NS
    first_ns = pd.Series(h.ns).groupby(h.user).min().reindex(range(h.n_users)).to_numpy()
    out["days_since_first_event"] = (t_ns - first_ns) / DAY_NS
    return out


def window_features(h: History, t_ns: int, windows_days: list[int]) -> Columns:
    """Sessions, events and purchases in each window ``[T - W, T)``."""
    out: Columns = {}
    for w in windows_days:
        recent = h.ns >= t_ns - w * DAY_NS
        out[f"sessions_{w}d"] = h.distinct_sessions(recent)
        out[f"events_{w}d"] = h.count(recent)
        out[f"purchases_{w}d"] = h.count(recent & h.is_purchase)
    return out


# --- orders -------------------------------------------------------------------------------------


def order_features(h: History) -> Columns:
    """Revenue, orders (sessions with a purchase) and the mean order value."""
    out: Columns = {}
    quantity = np.nan_to_num(h.frame["quantity"].to_numpy(dtype=float), nan=1.0)
    amount = np.where(h.is_purchase, np.nan_to_num(h.price * quantity), 0.0)
    out["revenue_total"] = np.bincount(h.user, weights=amount, minlength=h.n_users)
    out["orders_total"] = h.distinct_sessions(h.is_purchase)
    out["avg_order_value"] = ratio(out["revenue_total"], out["orders_total"])
    return out


# --- sessions (rebuilt from the events before the cut-off) --------------------------------------


def session_features(h: History) -> Columns:
    """Session count, duration, events per session and bounce rate."""
    out: Columns = {}
    session_user = np.zeros(h.session.max() + 1, dtype=np.int64)
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
    return out


# --- engagement (dwell, scroll, clicks) ---------------------------------------------------------


def engagement_features(h: History) -> Columns:
    """Mean dwell of views, mean and max scroll depth, clicks per view."""
    out: Columns = {}
    out["dwell_mean"] = h.mean(h.has_dwell, h.dwell)
    out["scroll_depth_mean"] = h.mean(h.has_scroll, h.scroll)
    out["scroll_depth_max"] = h.per_user_max(h.has_scroll, h.scroll)
    out["clicks_per_view"] = ratio(h.count(h.is_click), h.count(h.is_view))
    return out


# --- funnel and carts ---------------------------------------------------------------------------


def funnel_features(h: History, matured: np.ndarray, abandoned: np.ndarray) -> Columns:
    """View-to-cart and cart-to-purchase ratios and the cart abandonment rate."""
    out: Columns = {}
    views, carts, purchases = h.count(h.is_view), h.count(h.is_cart), h.count(h.is_purchase)
    out["view_to_cart"] = ratio(carts, views)
    out["cart_to_purchase"] = ratio(purchases, carts)
    out["cart_abandonment_rate"] = ratio(h.count(abandoned), h.count(matured))
    return out


def cart_outcomes(h: History, t_ns: int, abandon_hours: float) -> tuple[np.ndarray, np.ndarray]:
    """Per event: carts old enough to judge at the cut-off, and those with no purchase of the item in time."""
    is_cart, is_purchase = h.is_cart, h.is_purchase
    limit = int(abandon_hours * HOUR_NS)
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


# --- categories and price (taste) ---------------------------------------------------------------


def taste_features(h: History) -> Columns:
    """Share of the top category, category entropy and price sensitivity."""
    out: Columns = {}
    out["top_category_share"], out["category_entropy"] = _category_mix(h)
    out["price_sensitivity"] = _price_sensitivity(h)
    return out


def _category_mix(h: History) -> tuple[np.ndarray, np.ndarray]:
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


def _price_sensitivity(h: History) -> np.ndarray:
    """Mean over viewed items of price / median price of the item's category (catalogue before T)."""
    is_view, price = h.is_view, h.price
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


# --- trend and devices --------------------------------------------------------------------------


def trend_features(h: History, t_ns: int, trend_days: float) -> Columns:
    """Events in the last ``trend_days`` against the ``trend_days`` before, in [-1, 1]."""
    span = round(trend_days * DAY_NS)
    last = h.count(h.ns >= t_ns - span)
    prev = h.count((h.ns >= t_ns - 2 * span) & (h.ns < t_ns - span))
    return {"activity_trend": ratio(last - prev, last + prev)}


def share_features(h: History, devices: list[str], categories: list[str]) -> Columns:
    """Share of events on each device and in each chosen category (among known values)."""
    out: Columns = {}
    device = h.frame["device"].astype("str")
    known = device.notna().to_numpy()
    for name in devices:
        out[f"device_share_{name}"] = ratio(
            h.count(known & (device == name).to_numpy()), h.count(known)
        )
    if categories:
        category = h.frame["category"].astype("str")
        known = category.notna().to_numpy()
        for name in categories:
            out[category_share_column(name)] = ratio(
                h.count(known & (category == name).to_numpy()), h.count(known)
            )
    return out
