"""Scores and segments derived by rule, and the label, as Ibis expressions (DuckDB or Spark).

Rule segments (0/1 columns ``seg_<name>``, thresholds in ``SegmentRules``), over the
last ``window_days`` before ``T``: ``high_clicker`` (more than 5 clicks within 10
minutes in one session), ``deep_scroller`` (mean scroll depth above 0.8),
``long_dweller`` (mean dwell above 180 s), ``converter`` (a purchase),
``cart_abandoner`` (an abandoned cart), ``at_risk`` (at least 2 sessions ever and
no event in the last 14 days). A user can hold several. ``engagement_score`` is
the weighted mean of the percentile ranks (within the cut-off) of the features in
``engagement_weights``; ``dominant_segment`` is the first segment held in
``priority`` order, else ``none``.

The functions:

* :func:`cart_outcomes`: per add-to-cart event, whether it is old enough to judge at ``T``
  (``matured``) and whether no purchase of the item followed in time (``abandoned``);
* :func:`rfm_columns`: RFM quintile scores (1-5 by percentile rank within the cut-off, ties
  share the average rank as pandas ``rank(pct=True)``) and the named RFM segment;
* :func:`segment_columns`: the 0/1 rule segments ``seg_<name>`` over the last ``window_days``;
* :func:`engagement_score` and :func:`dominant_segment`;
* :func:`label_column`: 1 when the user has a ``target_event`` in ``[T, T + horizon)``.

Every function takes and returns Ibis expressions and runs nothing. The per-user functions take
a table keyed by ``user_id`` (one cut-off's users, one row each) and return it with their columns
appended, so they chain without self-joins (``table = rfm_columns(table, ...)``, then
``segment_columns``, ``engagement_score``, ``dominant_segment``, ``label_column``). Ranks are
taken within the table given.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis

from personalab.features.params import SegmentRules
from personalab.features.query import DAY_NS, HOUR_NS, exact_sum
from personalab.features.schema import SEGMENTS, label_name

MS_NS = 10**6

# --- carts --------------------------------------------------------------------------------------


def cart_outcomes(h: ibis.Table, t_ns: int, abandon_hours: float) -> ibis.Table:
    """One row per add-to-cart event of ``h`` (the events before ``T``): ``user_id``, ``ns``,
    ``matured`` (the cart is at least ``abandon_hours`` old at ``T``: ``ns + limit <= T``) and
    ``abandoned`` (matured, and the user bought the same item at no time in
    ``[ns, ns + limit)``).

    A cart with no item id is matched by a purchase with no item id: the purchases are found per
    ``(user_id, item_id)`` partition, and a partition puts nulls together.
    """
    limit = int(abandon_hours * HOUR_NS)
    kinds = h.filter(h.event_type.isin(["add_to_cart", "purchase"]))
    is_cart = kinds.event_type == "add_to_cart"
    rows = kinds.select(
        "user_id",
        "item_id",
        "ns",
        is_cart=is_cart,
        buy_ns=ibis.ifelse(is_cart, ibis.null("int64"), kinds.ns),
    )
    # the first purchase at or after each event, of the same user and item
    later = ibis.window(group_by=["user_id", "item_id"], order_by="ns", range=(0, None))
    rows = rows.mutate(next_buy=rows.buy_ns.min().over(later))
    carts = rows.filter(rows.is_cart)
    matured = carts.ns + limit <= t_ns
    bought = carts.next_buy.notnull() & (carts.next_buy <= carts.ns + (limit - 1))
    return carts.select(
        "user_id",
        "ns",
        matured=matured,
        abandoned=matured & ~bought.fill_null(False),
    )


# --- percentile ranks and RFM -------------------------------------------------------------------


def percentile_rank(values: ibis.NumericValue) -> ibis.FloatingValue:
    """The percentile rank of each value within its table, as pandas ``rank(pct=True)``: the
    average 1-based rank among ties over the count of non-null values (null stays null).

    The average rank of a run of ties is its first rank (``rank()``, one sort of the table:
    one cut-off's users) plus half the ties after it, exact in float64 as pandas' is; the ties
    are counted per value (hashed, in parallel), not over a range frame.
    """
    first = ibis.rank().over(ibis.window(order_by=ibis.asc(values, nulls_first=False))) + 1
    ties = values.count().over(ibis.window(group_by=values))
    known = values.count().over(ibis.window())
    average = first.cast("float64") + (ties.cast("float64") - 1.0) / 2.0
    return ibis.ifelse(values.notnull(), average / known.cast("float64"), ibis.null("float64"))


def quintile_score(values: ibis.NumericValue) -> ibis.IntegerValue:
    """1-5 by percentile rank (ties share a score; 5 = highest values), int8."""
    return (percentile_rank(values) * 5.0).ceil().clip(1, 5).cast("int8")


def rfm_columns(table: ibis.Table, longest: int, monetary: bool = True) -> ibis.Table:
    """``table`` (one cut-off's users) with ``rfm_recency`` (score of
    ``days_since_last_event``, 5 = most recent), ``rfm_frequency`` (of ``sessions_<longest>d``),
    ``rfm_monetary`` (of ``revenue_total``; left out without ``monetary``) and ``rfm_segment``
    (:func:`rfm_segment_of`; int8 scores)."""
    scores = {
        "rfm_recency": quintile_score(-table.days_since_last_event),
        "rfm_frequency": quintile_score(table[f"sessions_{longest}d"]),
    }
    if monetary:
        scores["rfm_monetary"] = quintile_score(table.revenue_total)
    out = table.mutate(**scores)
    m = out.rfm_monetary if monetary else None
    return out.mutate(rfm_segment=rfm_segment_of(out.rfm_recency, out.rfm_frequency, m))


def rfm_segment_of(
    r: ibis.IntegerValue, f: ibis.IntegerValue, m: ibis.IntegerValue | None
) -> ibis.StringValue:
    """Named RFM segments from 1-5 scores, first rule that holds (``m`` None: the monetary
    conditions hold, so the rules read recency and frequency alone)."""
    m = ibis.literal(5) if m is None else m
    return ibis.cases(
        ((r >= 4) & (f >= 4) & (m >= 4), "champions"),
        ((f >= 4) & (m >= 3), "loyal"),
        ((r >= 4) & (f <= 2), "new"),
        ((r >= 3) & (f >= 3), "potential"),
        ((r <= 2) & (f >= 3), "at_risk"),
        ((r <= 2) & (f <= 2), "hibernating"),
        else_="needs_attention",
    )


# --- rule segments ------------------------------------------------------------------------------


def segment_columns(
    h: ibis.Table,
    table: ibis.Table,
    t_ns: int,
    seg: SegmentRules,
    segments: Sequence[str] = SEGMENTS,
    outcomes: ibis.Table | None = None,
) -> ibis.Table:
    """``table`` (one cut-off's users) with the 0/1 (int8) ``seg_<name>`` columns of
    ``segments``, in :data:`~personalab.features.schema.SEGMENTS` order.

    ``h``: the events before ``T``; ``table`` holds ``days_since_last_event`` and
    ``sessions_total`` when ``at_risk`` is asked for; ``outcomes``: :func:`cart_outcomes` of ``h``
    (read by ``cart_abandoner``). Each segment looks at the last ``seg.window_days`` before
    ``T``, but ``at_risk``, which reads all the history: ``high_clicker`` (more than
    ``high_click_count`` clicks within ``high_click_minutes`` in one session),
    ``deep_scroller`` (mean scroll depth of scroll events above ``deep_scroll_depth``),
    ``long_dweller`` (mean dwell of views above ``long_dwell_seconds``), ``converter`` (a
    purchase), ``cart_abandoner`` (an abandoned cart), ``at_risk`` (more than ``at_risk_days``
    since the last event and at least ``at_risk_min_sessions`` sessions). No data: 0.
    """
    start = t_ns - seg.window_days * DAY_NS
    recent = h.filter(h.ns >= start)
    out = table
    columns: dict[str, ibis.BooleanValue] = {}
    is_scroll = (recent.event_type == "scroll") & recent.scroll_depth.notnull()
    is_dwell = (recent.event_type == "view") & recent.dwell_seconds.notnull()
    stats = recent.group_by("user_id").agg(
        _scroll_sum=exact_sum(recent.scroll_depth, is_scroll),
        _scrolls=recent.count(where=is_scroll),
        _dwell_sum=exact_sum(recent.dwell_seconds, is_dwell),
        _dwells=recent.count(where=is_dwell),
        _purchases=recent.count(where=recent.event_type == "purchase"),
    )
    out = out.left_join(stats, "user_id")
    if "high_clicker" in segments:
        bursts = _burst_users(recent, seg.high_click_count, seg.high_click_minutes)
        out = out.left_join(bursts, "user_id")
        columns["high_clicker"] = out._burst.notnull()
    if "deep_scroller" in segments:
        columns["deep_scroller"] = _mean_above(out._scroll_sum, out._scrolls, seg.deep_scroll_depth)
    if "long_dweller" in segments:
        columns["long_dweller"] = _mean_above(out._dwell_sum, out._dwells, seg.long_dwell_seconds)
    if "converter" in segments:
        columns["converter"] = out._purchases.fill_null(0) > 0
    if "cart_abandoner" in segments:
        if outcomes is None:
            raise ValueError("the cart_abandoner segment needs the cart outcomes (cart_outcomes)")
        left = outcomes.filter(outcomes.abandoned & (outcomes.ns >= start))
        abandoners = left.select("user_id").distinct().mutate(_abandoner=True)
        out = out.left_join(abandoners, "user_id")
        columns["cart_abandoner"] = out._abandoner.notnull()
    if "at_risk" in segments:
        columns["at_risk"] = (out.days_since_last_event > seg.at_risk_days) & (
            out.sessions_total >= seg.at_risk_min_sessions
        )
    return out.select(
        *table.columns,
        **{
            f"seg_{name}": columns[name].fill_null(False).cast("int8")
            for name in SEGMENTS
            if name in segments
        },
    )


def _mean_above(total: ibis.FloatingValue, n: ibis.IntegerValue, threshold: float):
    """``total / n > threshold``; False without data (``n`` 0 or null)."""
    return ibis.ifelse(n.fill_null(0) > 0, total / n.cast("float64") > threshold, False)


def _burst_users(recent: ibis.Table, count: int, minutes: float) -> ibis.Table:
    """The users (``user_id``, ``_burst``) with more than ``count`` clicks of ``recent`` within
    ``minutes`` in one session.

    Times are whole milliseconds since the first click of ``recent`` (floored), and clicks whose milliseconds differ by less than the span count together. The
    floor is taken in integer arithmetic (``d - d % 1 ms``, ``d >= 0``), the window is a range
    over those ns values (no float division, exact at any distance).
    """
    span_ms = int(minutes * 60 * 10**9) // MS_NS
    clicks = recent.filter(recent.event_type == "click")
    first = clicks.aggregate(_first=clicks.ns.min())
    clicks = clicks.cross_join(first)
    since = clicks.ns - clicks._first
    clicks = clicks.select("user_id", "session_id", _ms=since - since % MS_NS)
    near = ibis.window(
        group_by=["user_id", "session_id"],
        order_by="_ms",
        range=(-(span_ms - 1) * MS_NS, 0),
    )
    clicks = clicks.mutate(_near=clicks._ms.count().over(near))
    flagged = clicks.filter(clicks._near > count)
    return flagged.select("user_id").distinct().mutate(_burst=True)


# --- engagement score and dominant segment ------------------------------------------------------


def engagement_score(table: ibis.Table, weights: dict[str, float]) -> ibis.Table:
    """``table`` with ``engagement_score``: the weighted mean of the percentile ranks within
    ``table`` (one cut-off's users) of the features named in ``weights`` (a missing value ranks
    0), in [0, 1]."""
    total = sum(weights.values())
    if total <= 0:
        raise ValueError(f"engagement weights need a positive sum, not {weights}")
    score = ibis.literal(0.0, "float64")
    for name, weight in weights.items():
        score = score + float(weight) * percentile_rank(table[name]).fill_null(0.0)
    return table.mutate(engagement_score=score / float(total))


def dominant_segment(table: ibis.Table, priority: Sequence[str]) -> ibis.Table:
    """``table`` with ``dominant_segment``: the first rule segment (a ``seg_<name>`` column of
    ``table``) the user holds in ``priority`` order; ``none`` when they hold none."""
    if not priority:
        return table.mutate(dominant_segment=ibis.literal("none", "string"))
    held = [(table[f"seg_{name}"] == 1, name) for name in priority]
    return table.mutate(dominant_segment=ibis.cases(*held, else_="none"))


# --- the label ----------------------------------------------------------------------------------


def label_column(
    events: ibis.Table,
    users: ibis.Table,
    t_ns: int,
    horizon_ns: int,
    target_event: str = "purchase",
    name: str | None = None,
) -> ibis.Table:
    """``users`` (a table keyed by ``user_id``) with the label (``name``, default
    :func:`~personalab.features.schema.label_name` of ``target_event``): 1 (int8) when the user has
    a ``target_event`` (``return``: any event) in ``[T, T + horizon)`` of ``events`` (all the
    events, not only those before ``T``), else 0."""
    name = name or label_name(target_event)
    window = (events.ns >= t_ns) & (events.ns < t_ns + horizon_ns)
    if target_event != "return":
        window &= events.event_type == target_event
    hits = events.filter(window).select("user_id").distinct().mutate(_hit=True)
    out = users.left_join(hits, "user_id")
    return out.select(*users.columns, **{name: out._hit.notnull().cast("int8")})
