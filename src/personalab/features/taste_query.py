"""The taste family as Ibis expressions: category mix and price sensitivity, per user.

``top_category_share``, ``category_entropy`` and ``price_sensitivity`` (defined in
:mod:`personalab.features.families_query`), on the events ``h`` before the cut-off.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from personalab.features.families_query import attach, ratio
from personalab.features.query import exact_sum


def taste_features(h: ir.Table) -> ir.Table:
    """Per user: ``top_category_share``, ``category_entropy`` and ``price_sensitivity`` (null for
    a user with no event in a known category, or no view the catalogue can price)."""
    users = h.select("user_id").distinct()
    return attach(users, category_mix(h), price_sensitivity(h))


def category_mix(h: ir.Table) -> ir.Table:
    """Per user with an event in a known category: the share of those events in the user's most
    frequent category (``top_category_share``) and the Shannon entropy of the mix in bits
    (``category_entropy``: 0 for a single category)."""
    pairs = (
        h.filter(h.category.notnull())
        .group_by(["user_id", "category"])
        .aggregate(_n=ibis._.count())
    )
    share = pairs._n.cast("float64") / pairs._n.sum().over(group_by=pairs.user_id)
    shares = pairs.mutate(_share=share)
    return shares.group_by("user_id").aggregate(
        top_category_share=shares._share.max(),
        category_entropy=exact_sum(-(shares._share * shares._share.log2())).abs(),
    )


def catalogue(h: ir.Table) -> ir.Table:
    """The items seen before ``T`` with a price: ``item_id``, its ``price`` (the exact median of
    its prices) and its ``category`` (null: never given one).

    The item's category is the one of its earliest priced event that has a category (ties in
    time: the smallest ``user_id``, then the smallest category). An item keeps one category in
    most logs; this rule decides the rare item that changes, the same on every engine.
    """
    priced = h.filter(h.item_id.notnull() & h.price.notnull())
    prices = priced.group_by("item_id").aggregate(price=priced.price.median())  # exact, both
    named = priced.filter(priced.category.notnull())
    first = ibis.row_number().over(
        group_by=named.item_id, order_by=[named.ns, named.user_id, named.category]
    )
    categories = named.mutate(_rank=first).filter(ibis._._rank == 0).select("item_id", "category")
    joined = prices.left_join(categories, "item_id")
    return joined.select("item_id", "category", "price")


def price_sensitivity(h: ir.Table) -> ir.Table:
    """Per user with a view: the mean over views of the viewed price / the median price of the
    catalogue's items in the view's category (:func:`catalogue`); null when no view has a price
    and a nonzero median.

    As in the oracle, the view's own category is looked up (not the item's), and a view with no
    category takes the median of the catalogue's items that have none.
    """
    items = catalogue(h)
    medians = items.group_by("category").aggregate(_median=items.price.median())
    views = h.filter(h.event_type == "view")
    joined = views.left_join(medians, views.category.identical_to(medians.category))
    ok = (joined.price.notnull() & joined._median.notnull() & (joined._median != 0)).fill_null(
        False
    )
    relative = ibis.ifelse(ok, joined.price / joined._median, ibis.null("float64"))
    return joined.group_by("user_id").aggregate(
        price_sensitivity=ratio(exact_sum(relative), joined.count(where=ok))
    )
