"""The feature families as Ibis expressions: one definition, run on DuckDB or Spark.

Every family is computed from ``h``, the events before the cut-off ``T``
(:func:`personalab.features.query.before`). Most are per-user reductions over ``h``
(:data:`Reductions`: ``{column: reduction}``), which :func:`family_columns` computes in a single
``GROUP BY user_id`` (one pass over the events); the families that first group by something else
(sessions, categories, the item catalogue, carts) are tables keyed by ``user_id``, left-joined
onto that one. Nothing here executes: the caller fetches the result. The RFM columns, rules over
the order and window columns, come from :mod:`personalab.features.rules_query`;
``build.features_at`` puts every column in table order and drops the columns the log cannot have.

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

from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from personalab.features.query import DAY_NS, exact_sum
from personalab.features.rules_query import cart_outcomes
from personalab.features.schema import category_share_column

if TYPE_CHECKING:
    from personalab.features.plan import FeaturesPlan

#: per-user reductions over the events before ``T``: ``{column: reduction of h}``
Reductions = dict[str, ir.Value]


def ratio(num: ir.Value, den: ir.Value) -> ir.FloatingValue:
    """``num / den`` in float64 where ``den > 0``, else null."""
    return ibis.ifelse(den > 0, num.cast("float64") / den, ibis.null("float64"))


def count_of(h: ir.Table, condition: ir.BooleanValue) -> ir.IntegerValue:
    """Events of ``h`` where ``condition`` holds (a null condition counts as false: 0, never
    null, on every engine)."""
    return h.count(where=condition.fill_null(False))


def is_type(h: ir.Table, event_type: str) -> ir.BooleanValue:
    return h.event_type == event_type


def per_user(h: ir.Table, *reductions: Reductions) -> ir.Table:
    """One row per user of ``h`` (the spine): ``user_id`` and every reduction, in order."""
    columns: Reductions = {}
    for family in reductions:
        columns.update(family)
    return h.group_by("user_id").aggregate(**columns)


# --- recency and windows ------------------------------------------------------------------------


def _days(span_ns: ir.IntegerValue) -> ir.FloatingValue:
    return span_ns.cast("float64") / DAY_NS


def recency_features(h: ir.Table, t_ns: int) -> Reductions:
    """Days from the last event, the last purchase (null: never bought) and the first event to
    the cut-off."""
    return {
        "days_since_last_event": _days(t_ns - h.ns.max()),
        "days_since_last_purchase": _days(t_ns - h.ns.max(where=is_type(h, "purchase"))),
        "days_since_first_event": _days(t_ns - h.ns.min()),
    }


def window_features(h: ir.Table, t_ns: int, windows_days: list[int]) -> Reductions:
    """Events and purchases in each window ``[T - W, T)`` (the sessions with an event in it,
    ``sessions_<W>d``, are counted by :func:`session_features`)."""
    out: Reductions = {}
    for w in windows_days:
        recent = h.ns >= t_ns - w * DAY_NS
        out[f"events_{w}d"] = count_of(h, recent)
        out[f"purchases_{w}d"] = count_of(h, recent & is_type(h, "purchase"))
    return out


# --- orders -------------------------------------------------------------------------------------


def order_features(h: ir.Table) -> Reductions:
    """Revenue: price x quantity of purchases (no quantity: 1, no price: 0). The orders (sessions
    with a purchase, ``orders_total``) are counted by :func:`session_features`, and
    ``avg_order_value`` is :func:`average_order_value` of the two."""
    purchase = is_type(h, "purchase")
    amount = (h.price * h.quantity.fill_null(1.0)).fill_null(0.0)
    return {"revenue_total": exact_sum(ibis.ifelse(purchase, amount, 0.0))}


def average_order_value(users: ir.Table) -> ir.FloatingValue:
    """``revenue_total / orders_total`` of a table holding both (null: no orders)."""
    return ratio(users.revenue_total, users.orders_total)


# --- sessions (rebuilt from the events before the cut-off) --------------------------------------


def session_features(h: ir.Table, t_ns: int, windows_days: list[int]) -> ir.Table:
    """Per user: sessions (``(user_id, session_id)`` pairs among the events before ``T``, so a
    session straddling ``T`` counts its part before ``T``), their mean and longest duration in
    seconds (first to last event), events per session and the share of one-event sessions.

    Also the session counts of the window and order families, ``sessions_<W>d`` (sessions with
    an event in ``[T - W, T)``: their last event is in it) and ``orders_total`` (sessions with a
    purchase): counted over one row per session, not as distinct counts (which Spark runs as
    one copy of the events per distinct count).
    """
    purchase = is_type(h, "purchase").cast("int64")
    s = h.group_by(["user_id", "session_id"]).aggregate(
        _start=h.ns.min(), _end=h.ns.max(), _events=h.count(), _purchases=purchase.sum()
    )
    duration_ns = s._end - s._start
    n = s.count()
    windows = {f"sessions_{w}d": s.count(where=s._end >= t_ns - w * DAY_NS) for w in windows_days}
    return s.group_by("user_id").aggregate(
        sessions_total=n,
        session_duration_mean=ratio(duration_ns.sum().cast("float64") / 1e9, n),
        session_duration_max=duration_ns.max().cast("float64") / 1e9,
        events_per_session=ratio(s._events.sum(), n),
        bounce_rate=ratio(s.count(where=s._events == 1), n),
        **windows,
        orders_total=s.count(where=s._purchases > 0),
    )


# --- engagement (dwell, scroll, clicks) ---------------------------------------------------------


def engagement_features(h: ir.Table) -> Reductions:
    """Mean dwell of views with a dwell time, mean and deepest scroll depth of scroll events with a
    depth, clicks per view (each null when there is nothing to average or no view)."""
    has_dwell = is_type(h, "view") & h.dwell_seconds.notnull()
    has_scroll = is_type(h, "scroll") & h.scroll_depth.notnull()
    return {
        "dwell_mean": ratio(exact_sum(h.dwell_seconds, has_dwell), count_of(h, has_dwell)),
        "scroll_depth_mean": ratio(exact_sum(h.scroll_depth, has_scroll), count_of(h, has_scroll)),
        "scroll_depth_max": h.scroll_depth.max(where=has_scroll),
        "clicks_per_view": ratio(count_of(h, is_type(h, "click")), count_of(h, is_type(h, "view"))),
    }


# --- funnel and carts ---------------------------------------------------------------------------


def funnel_features(h: ir.Table) -> Reductions:
    """Add-to-cart per view and purchases per add-to-cart (null: no views, no carts)."""
    views, carts = count_of(h, is_type(h, "view")), count_of(h, is_type(h, "add_to_cart"))
    return {
        "view_to_cart": ratio(carts, views),
        "cart_to_purchase": ratio(count_of(h, is_type(h, "purchase")), carts),
    }


def cart_abandonment_features(outcomes: ir.Table) -> ir.Table:
    """Per user with a cart: the share of carts abandoned among those old enough to judge (null:
    none is), from ``outcomes`` (one row per add-to-cart event: ``user_id``, ``matured``,
    ``abandoned``; :func:`personalab.features.rules_query.cart_outcomes`)."""
    matured = outcomes.count(where=outcomes.matured.fill_null(False))
    abandoned = outcomes.count(where=outcomes.abandoned.fill_null(False))
    return outcomes.group_by("user_id").aggregate(cart_abandonment_rate=ratio(abandoned, matured))


# --- trend and shares ---------------------------------------------------------------------------


def trend_features(h: ir.Table, t_ns: int, trend_days: float) -> Reductions:
    """(events in the last ``trend_days`` - events in the ``trend_days`` before) / their sum, in
    [-1, 1] (null: no events in the last ``2 x trend_days``)."""
    span = round(trend_days * DAY_NS)
    last = count_of(h, h.ns >= t_ns - span)
    prev = count_of(h, (h.ns >= t_ns - 2 * span) & (h.ns < t_ns - span))
    return {"activity_trend": ratio(last - prev, last + prev)}


def share_features(h: ir.Table, devices: list[str], categories: list[str]) -> Reductions:
    """Share of events on each device and in each chosen category, among the events where it is
    known (null: none is)."""
    out: Reductions = {}
    known = count_of(h, h.device.notnull())
    for name in devices:
        out[f"device_share_{name}"] = ratio(count_of(h, h.device == name), known)
    known = count_of(h, h.category.notnull())
    for name in categories:
        out[category_share_column(name)] = ratio(count_of(h, h.category == name), known)
    return out


# --- every family -------------------------------------------------------------------------------


def family_columns(h: ir.Table, t_ns: int, plan: FeaturesPlan) -> ir.Table:
    """One row per user with an event before ``t_ns``: ``user_id`` and every family column in the
    table order of :func:`personalab.features.build.features_at`, without the ``rfm_*`` columns
    and the rule segments.

    ``h`` is :func:`personalab.features.query.before` of the events at ``t_ns``; ``plan`` a
    :class:`~personalab.features.plan.FeaturesPlan` (its windows, trend span, devices,
    categories and ``segments.abandon_hours``).
    """
    # here, not at the top: taste_query builds on this module's helpers
    from personalab.features.taste_query import category_mix, price_sensitivity

    params, windows = plan.params, plan.params.windows_days
    funnel = funnel_features(h)
    shares = share_features(h, plan.devices, plan.categories)
    spine = per_user(
        h,
        recency_features(h, t_ns),
        window_features(h, t_ns, windows),
        order_features(h),
        engagement_features(h),
        funnel,
        trend_features(h, t_ns, plan.trend_days),
        shares,
    )
    outcomes = cart_outcomes(h, t_ns, params.segments.abandon_hours)
    joined = attach(
        spine,
        session_features(h, t_ns, windows),
        cart_abandonment_features(outcomes),
        category_mix(h),
        price_sensitivity(h),
    )
    order = [
        "user_id", "days_since_last_event", "days_since_last_purchase", "days_since_first_event",
        *[f"{kind}_{w}d" for w in windows for kind in ("sessions", "events", "purchases")],
        "revenue_total", "orders_total", "avg_order_value",
        *SESSION_COLUMNS,
        "dwell_mean", "scroll_depth_mean", "scroll_depth_max", "clicks_per_view",
        *funnel, "cart_abandonment_rate",
        "top_category_share", "category_entropy", "price_sensitivity",
        "activity_trend", *shares,
    ]  # fmt: skip
    # every user has a session: the session counts are never null (0 for safety)
    counts = ["sessions_total", "orders_total", *[f"sessions_{w}d" for w in windows]]
    derived = {name: joined[name].fill_null(0) for name in counts}
    derived["avg_order_value"] = average_order_value(joined)
    return joined.select(**{n: derived[n] if n in derived else joined[n] for n in order})


#: the columns of :func:`session_features` that are the session family's, in table order
SESSION_COLUMNS = (
    "sessions_total",
    "session_duration_mean",
    "session_duration_max",
    "events_per_session",
    "bounce_rate",
)


def attach(spine: ir.Table, *tables: ir.Table) -> ir.Table:
    """``spine`` with the columns of each per-user table, left-joined on ``user_id`` (a user
    missing from a table gets nulls)."""
    out = spine
    for k, table in enumerate(tables):
        out = out.left_join(table, "user_id", rname=f"{{name}}_{k}")
    return out.select(
        *spine.columns, *[c for table in tables for c in table.columns if c != "user_id"]
    )
