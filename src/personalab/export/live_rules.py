"""What the current visit changes in an answer of ``models/personalise``.

A request by id may carry the visit's live events (:mod:`personalab.online.live`). Besides
moving the user's feature row, they decide, in this order:

1. **Triggers** (``personalise.triggers`` in ``params/export.yaml``), on the visit's last
   session: ``cart_reminder``, a cart left without a purchase of the item after it, answers
   those items (most recent first); ``category_interest``, a category viewed at least
   ``category_views`` times, answers that category's most popular items not in the visit.
2. **Session items**: a visitor the recommender does not know, with item events, gets the items
   that follow the visit's items by the sessions' next-item model (when the recommender has
   one), instead of the popular items.
3. **Steering**: a user who gets personalised recommendations has the visit's items removed
   from the list and the list re-ranked by reciprocal-rank fusion with the items that follow
   the visit's items (1/(60 + rank) from each list).

Each answer names the rule that applied (``strategy``) and why (``reason``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from personalab.online.visit import Visit

#: reciprocal-rank fusion's constant (Cormack et al. 2009)
FUSION_K = 60
TRIGGERS = ("cart_reminder", "category_interest")


@dataclass(frozen=True)
class Override:
    """A row's answer decided by the visit: its strategy, items, scores, score kind, reason."""

    strategy: str
    items: np.ndarray
    scores: np.ndarray
    kind: str
    reason: str


class LiveRules:
    """The triggers' settings and each category's most popular items."""

    def __init__(
        self,
        cart_reminder: bool = True,
        category_views: int = 5,
        category_items: Mapping[str, Sequence[tuple[str, float]]] | None = None,
    ):
        self.cart_reminder, self.category_views = bool(cart_reminder), int(category_views)
        self.category_items = {c: list(v) for c, v in (category_items or {}).items()}

    def to_json(self) -> dict[str, Any]:
        return {
            "cart_reminder": self.cart_reminder,
            "category_views": self.category_views,
            "category_items": {c: [[i, s] for i, s in v] for c, v in self.category_items.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> LiveRules:
        data = data or {}
        return cls(
            data.get("cart_reminder", True),
            data.get("category_views", 5),
            {
                c: [(str(i), float(s)) for i, s in v]
                for c, v in data.get("category_items", {}).items()
            },
        )

    def trigger(self, visit: Visit, k: int) -> Override | None:
        """The first trigger the visit sets off, or None."""
        if self.cart_reminder and visit.carts:
            carts = visit.carts[:k]
            return Override(
                "cart_reminder",
                np.array(carts, dtype=object),
                np.ones(len(carts)),
                "cart_item",
                f"left {len(visit.carts)} item(s) in the cart this visit without buying them: "
                "a reminder of those items",
            )
        if self.category_views > 0 and visit.category_views:
            category, views = visit.category_views[0]
            picks = [
                (item, share)
                for item, share in self.category_items.get(category, [])
                if item not in visit.items
            ][:k]
            if views >= self.category_views and picks:
                return Override(
                    "category_interest",
                    np.array([i for i, _ in picks], dtype=object),
                    np.array([s for _, s in picks]),
                    "popularity_share",
                    f"viewed {category} {views} times this visit (at least "
                    f"{self.category_views}): its most popular items not viewed yet",
                )
        return None


def session_items(recommender: Any, visit: Visit, k: int) -> Override | None:
    """The items that follow the visit's items (a visitor the recommender does not know)."""
    if recommender is None or recommender.next_item is None or not visit.items:
        return None
    answer = recommender.next_lists([list(visit.items)], k)
    if not answer.rows.size:
        return None
    rules = bool(answer.from_rules.any())
    return Override(
        "session_items",
        answer.items.astype(str).astype(object),
        answer.scores.astype(float),
        "next_item_rules" if rules else "session_share",
        "unknown to the recommender: the items that follow this visit's items (sequential rules "
        "of the sessions)"
        if rules
        else "unknown to the recommender, and this visit's items "
        "have too few rules: the items most sessions hold",
    )


def live_overrides(
    rules: LiveRules, recommender: Any, visits: np.ndarray | None, inner: np.ndarray, k: int
) -> dict[int, Override]:
    """Request position -> :class:`Override` of the rows whose visit decides their answer: a
    trigger, or the session items of a visitor the recommender does not know (``inner`` -1)."""
    out = {}
    for i in [] if visits is None else np.flatnonzero(visits != None):  # noqa: E711
        override = rules.trigger(visits[i], k)
        if override is None and inner[i] < 0:
            override = session_items(recommender, visits[i], k)
        if override is not None:
            out[int(i)] = override
    return out


def has_items(visit: Visit | None) -> bool:
    return visit is not None and bool(visit.items)


def listed(at: int, items: np.ndarray, scores: np.ndarray) -> tuple:
    """(request position, rank, item, score) of one row's ranked items."""
    n = len(items)
    return np.full(n, at), np.arange(1, n + 1), np.asarray(items, dtype=object), scores


def steered(recommender: Any, at: int, inner: int, visit: Visit, k: int) -> tuple:
    """(request position, rank, item, score) of a known user's personalised items and fused
    scores, steered by the visit's items."""
    model = recommender.model
    reach = k + len(visit.items) + k
    _, cols, _, ranks = model.top_k_arrays(np.array([inner]), reach)  # unseen by the user
    after: list[str] = []
    if recommender.next_item is not None:
        answer = recommender.next_lists([list(visit.items)], reach, fill=False)
        after = answer.items.astype(str).tolist()
    seen = set(visit.items)
    if after:  # the next items the user has already met do not come back
        _, known = model.seen_pairs(np.array([inner]))
        seen.update(model.item_ids[known].astype(str).tolist())
    fused: dict[str, float] = {}
    for item, rank in zip(model.item_ids[cols].astype(str).tolist(), ranks.tolist(), strict=True):
        if item not in seen:
            fused[item] = 1.0 / (FUSION_K + rank)
    for rank, item in enumerate(after, start=1):
        if item not in seen:
            fused[item] = fused.get(item, 0.0) + 1.0 / (FUSION_K + rank)
    best = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    items = np.array([i for i, _ in best], dtype=object)
    return listed(at, items, np.array([s for _, s in best], dtype=float))


def category_items(
    popular: pd.Series, events: pd.DataFrame, n: int
) -> dict[str, list[tuple[str, float]]]:
    """Each category's ``n`` most popular items (``popular``: item -> share, best first), an
    item's category being the one it has most often in ``events``."""
    if popular.empty or not {"item_id", "category"} <= set(events.columns):
        return {}
    items = events.dropna(subset=["item_id", "category"])
    if items.empty:
        return {}
    pairs = items.groupby([items["item_id"].astype(str), items["category"].astype(str)]).size()
    main = pairs.sort_values(ascending=False, kind="stable").reset_index()
    main = main.drop_duplicates("item_id").set_index("item_id")["category"]
    out: dict[str, list[tuple[str, float]]] = {}
    for item, share in popular.items():
        category = main.get(str(item))
        if category is not None and len(out.setdefault(category, [])) < n:
            out[category].append((str(item), float(share)))
    return out
