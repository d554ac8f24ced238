"""Scores and segments derived by rule, and the label, as Ibis expressions (DuckDB or Spark).

The engine versions of :mod:`personalab.features.rules`, :func:`personalab.features.families.
cart_outcomes` and :func:`personalab.features.cutoffs.label_events`, with the same meaning:

* :func:`cart_outcomes`: per add-to-cart event, whether it is old enough to judge at ``T``
  (``matured``) and whether no purchase of the item followed in time (``abandoned``);
* :func:`rfm_columns`: RFM quintile scores (1-5 by percentile rank within the cut-off, ties
  share the average rank as pandas ``rank(pct=True)``) and the named RFM segment;
* :func:`segment_columns`: the 0/1 rule segments ``seg_<name>`` over the last ``window_days``;
* :func:`engagement_score` and :func:`dominant_segment`;
* :func:`label_column`: 1 when the user has a ``target_event`` in ``[T, T + horizon)``.

Every function takes and returns Ibis expressions and runs nothing; the per-user results are
tables keyed by ``user_id``, one row per user of the table they were given. Ranks are taken
within the table given, which must hold one cut-off's users.
"""

from __future__ import annotations

import ibis

from personalab.features.history import HOUR_NS

# --- carts --------------------------------------------------------------------------------------


def cart_outcomes(h: ibis.Table, t_ns: int, abandon_hours: float) -> ibis.Table:
    """One row per add-to-cart event of ``h`` (the events before ``T``): ``user_id``, ``ns``,
    ``matured`` (the cart is at least ``abandon_hours`` old at ``T``: ``ns + limit <= T``) and
    ``abandoned`` (matured, and the user bought the same item at no time in
    ``[ns, ns + limit)``).

    A cart with no item id is matched by a purchase with no item id (as the NumPy version does,
    which factorizes missing ids to one code): the purchases are found per ``(user_id,
    item_id)`` partition, and a partition puts nulls together.
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
