"""The catalogue ``price_sensitivity`` divides by, moved on by a request's live events.

The features stage divides each viewed price by the median price of the catalogue's items in
the view's category (:func:`personalab.features.taste_query.catalogue`): an item's price is the
median of all its prices before the cut-off, its category the one of its earliest priced event
that has one. A live event with a price changes its item's median price (or adds an item), and
so its category's median. The store keeps, for every priced item at ``S``, its category and its
prices with their counts (:func:`catalogue_arrays`); :meth:`Catalogue.medians_after` folds a
request's live events into the medians, so the online row's ``price_sensitivity`` is the
stage's at ``T`` (the live events being the only events after ``S`` the server knows of).
"""

from __future__ import annotations

import numpy as np

from personalab.features.query import Events, before
from personalab.online.history import History

#: the reference arrays' prefix in the store
PREFIX = "catalogue/"


def catalogue_arrays(events: Events, t_ns: int) -> dict[str, np.ndarray]:
    """Every item with a price before ``t_ns``, by id: its category (``has_category`` false:
    none), its median price, and its distinct prices with their counts (``indptr`` into
    ``values`` and ``counts``), keyed with :data:`PREFIX`."""
    from personalab.features.taste_query import catalogue

    h = before(events.table, t_ns)
    items = events.engine.fetch(catalogue(h), order_by=["item_id"])
    priced = h.filter(h.item_id.notnull() & h.price.notnull())
    pairs = priced.group_by(["item_id", "price"]).aggregate(n=priced.count())
    pairs = events.engine.fetch(pairs, order_by=["item_id", "price"])
    ids = items["item_id"].astype(str).to_numpy()
    pair_ids = pairs["item_id"].astype(str).to_numpy()
    starts = np.flatnonzero(np.r_[True, pair_ids[1:] != pair_ids[:-1]]) if pair_ids.size else []
    if not np.array_equal(pair_ids[starts], ids):
        raise ValueError("the catalogue's items and their prices do not match")
    category = items["category"]
    return {
        f"{PREFIX}item_ids": ids.astype(str),
        f"{PREFIX}category": category.fillna("").astype(str).to_numpy().astype(str),
        f"{PREFIX}has_category": category.notna().to_numpy(),
        f"{PREFIX}price": items["price"].to_numpy(dtype=np.float64),
        f"{PREFIX}indptr": np.r_[starts, pair_ids.size].astype(np.int64),
        f"{PREFIX}values": pairs["price"].to_numpy(dtype=np.float64),
        f"{PREFIX}counts": pairs["n"].to_numpy(dtype=np.int64),
    }


class Catalogue:
    """The stored catalogue at ``S`` (:func:`catalogue_arrays`) and its category medians."""

    def __init__(self, arrays: dict[str, np.ndarray], medians: dict[str | None, float]):
        self.arrays, self.medians = arrays, medians
        self._index: dict[str, int] | None = None
        self._prices: dict[str | None, np.ndarray] = {}

    def index(self) -> dict[str, int]:
        if self._index is None:
            self._index = {item: i for i, item in enumerate(self.arrays["item_ids"].tolist())}
        return self._index

    def category_of(self, i: int) -> str | None:
        return str(self.arrays["category"][i]) if self.arrays["has_category"][i] else None

    def prices_in(self, category: str | None) -> np.ndarray:
        """The median prices of the category's items at ``S``, sorted."""
        if category not in self._prices:
            a = self.arrays
            named = a["has_category"] & (a["category"] == (category or ""))
            mine = named if category is not None else ~a["has_category"]
            self._prices[category] = np.sort(a["price"][mine])
        return self._prices[category]

    def item_prices(self, i: int) -> np.ndarray:
        a = self.arrays
        start, end = a["indptr"][i], a["indptr"][i + 1]
        return np.repeat(a["values"][start:end], a["counts"][start:end])

    def medians_after(self, live: History) -> dict[str | None, float]:
        """The category medians with ``live``'s priced events (the events after ``S``) in."""
        places: dict[str, list[int]] = {}  # item: its priced live events, in time order
        live_prices = live.price.tolist()
        for at, (item, price) in enumerate(zip(live.item_id.tolist(), live_prices, strict=True)):
            if item is not None and price == price:  # (NaN is not equal to itself)
                places.setdefault(item, []).append(at)
        if not places:
            return self.medians
        index, a = self.index(), self.arrays
        moved: dict[str | None, tuple[list[float], list[float]]] = {}  # category: (out, in)
        for item, at in places.items():
            i = index.get(item)
            median = float(a["price"][i]) if i is not None and a["has_category"][i] else None
            if median is not None and all(live_prices[j] == median for j in at):
                continue  # more of its median price: the median stays, and its category
            mine = np.zeros(live.ns.size, dtype=bool)
            mine[at] = True
            stored = self.item_prices(i) if i is not None else np.zeros(0)
            price = float(np.median(np.concatenate([stored, live.price[mine]])))
            category = self.category_of(i) if i is not None else None
            if i is None or not self.arrays["has_category"][i]:
                category = first_category(live, mine)
            if i is not None:
                moved.setdefault(self.category_of(i), ([], []))[0].append(self.arrays["price"][i])
            moved.setdefault(category, ([], []))[1].append(price)
        medians = dict(self.medians)
        for category, (out, new) in moved.items():
            prices = self.prices_in(category)
            for value in out:  # one occurrence of the item's old price leaves
                prices = np.delete(prices, int(np.searchsorted(prices, value)))
            prices = np.concatenate([prices, new])
            if prices.size:
                medians[category] = float(np.median(prices))
            else:
                medians.pop(category, None)
        return medians


def first_category(live: History, mine: np.ndarray) -> str | None:
    """The category of the earliest of the item's live priced events that has one (ties in
    time: the smallest category); None: none has one."""
    named = mine & (live.category != None)  # noqa: E711 (element-wise)
    if not named.any():
        return None
    first = live.ns[named].min()
    return min(str(c) for c in live.category[named & (live.ns == first)])
