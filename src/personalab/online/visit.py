"""The current visit as the serving rules read it (:mod:`personalab.export.live_rules`): its
items, the carts left in its last session and the categories viewed there."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Visit:
    """The live events as the rules read them."""

    items: tuple[str, ...]  # item ids of the visit's item events, oldest first
    carts: tuple[str, ...]  # carted in the last session, not bought after: most recent first
    category_views: tuple[tuple[str, int], ...]  # views per category in the last session


def visit_of(live: Any) -> Visit | None:
    """The :class:`Visit` of a live :class:`~personalab.online.history.History` (None: no
    live events)."""
    if not len(live):
        return None
    items = tuple(str(i) for i in live.item_id if i is not None)
    last = live.session_id == live.session_id[-1]
    kinds, things = live.event_type[last], live.item_id[last]
    carts: list[str] = []
    for kind, item in zip(kinds, things, strict=True):
        if item is None:
            continue
        if kind == "add_to_cart":
            carts = [i for i in carts if i != item] + [str(item)]
        elif kind in ("purchase", "remove_from_cart"):
            carts = [i for i in carts if i != item]
    views = Counter(
        str(c) for c, kind in zip(live.category[last], kinds, strict=True)
        if kind == "view" and c is not None
    )  # fmt: skip
    ranked = tuple(sorted(views.items(), key=lambda kv: (-kv[1], kv[0])))
    return Visit(items, tuple(reversed(carts)), ranked)
