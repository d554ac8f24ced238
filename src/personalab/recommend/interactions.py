"""User-item interactions from the event log, and Surprise datasets of them.

Every pair gets an implicit ``strength``: the sum of its event weights (default view 1,
click 2, add_to_cart 3, purchase 5, rate 1; with ``weigh_by_rating`` a rate event weighs
its weight times its rating), each event optionally decayed by
``0.5 ** (age_days / half_life_days)`` against the newest event of the log, capped at
``cap``. The ranking models (the ``implicit`` library's, the co-occurrence model) learn
from the strengths: any log, ratings included, is implicit feedback for ranking.

Each pair's ``rating`` is what Surprise's rating predictors are fitted to. With
``feedback: implicit`` (the default) it is the strength mapped linearly onto
``rating_scale`` (one weight-1 event maps to the low end, ``cap`` to the high end): an
implicit target, not a rating anyone gave. With ``feedback: explicit`` the pairs are the
rated ones and ``rating`` is each pair's latest rating (rating prediction, what RMSE and
MAE measure). Users and items with fewer than ``min_user_interactions`` /
``min_item_interactions`` pairs are dropped (repeatedly, until both hold) and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from personalab.recommend.params import DEFAULT_WEIGHTS, RecommendError

#: the columns of :attr:`Interactions.ratings`
PAIR_COLUMNS = ["user_id", "item_id", "rating", "strength", "timestamp"]


@dataclass
class Interactions:
    """User-item pairs with their rating and strength, and what building them dropped."""

    ratings: pd.DataFrame  # PAIR_COLUMNS; timestamp: the pair's latest event
    explicit: bool  # ``rating`` holds ratings users gave (else implicit targets)
    counts: dict[str, int]
    #: every pair before the minimum counts (None: ``ratings`` are every pair)
    every: pd.DataFrame | None = None

    @property
    def popularity_pairs(self) -> pd.DataFrame:
        """The pairs popularity counts: every pair of the log. The minimum counts are for
        learning a filter; the popular list, served to every user the filter does not know,
        counts everybody (on Coveo's sessions, 51 users were left of 13,966)."""
        return self.ratings if self.every is None else self.every


def build_interactions(
    events: pd.DataFrame,
    weights: dict[str, float] | None = None,
    cap: float = 20.0,
    half_life_days: float | None = None,
    min_user_interactions: int = 1,
    min_item_interactions: int = 1,
    rating_scale: tuple[float, float] = (1.0, 5.0),
    feedback: str = "implicit",
    weigh_by_rating: bool = False,
) -> Interactions:
    """Pairs with their strength and rating per ``feedback`` (module docstring)."""
    for column in ("user_id", "item_id", "event_type", "timestamp"):
        if column not in events:
            raise RecommendError(f"events lack column {column!r}")
    weights = DEFAULT_WEIGHTS if weights is None else weights
    lo, hi = rating_scale
    if lo >= hi:
        raise RecommendError(
            f"rating_scale must be (low, high) with low < high, got {rating_scale}"
        )
    if feedback not in ("explicit", "implicit"):
        raise RecommendError(f"feedback must be implicit or explicit, got {feedback!r}")
    strengths = _implicit_strengths(events, weights, cap, half_life_days, weigh_by_rating)
    if feedback == "explicit":
        rated = events[
            (events["event_type"] == "rate") & events["rating"].notna() & events["item_id"].notna()
        ]
        if rated.empty:
            raise RecommendError(
                "feedback is explicit but the events hold no rate event with a rating"
            )
        latest = rated.sort_values("timestamp", kind="stable").drop_duplicates(
            ["user_id", "item_id"], keep="last"
        )[["user_id", "item_id", "rating", "timestamp"]]
        ratings = latest.merge(
            strengths[["user_id", "item_id", "strength"]], on=["user_id", "item_id"], how="left"
        ).fillna({"strength": 1.0})
        ratings = ratings.sort_values(["user_id", "item_id"], kind="stable")
    else:
        floor = min(weights.values())
        scaled = (strengths["strength"] - floor).clip(lower=0) / max(cap - floor, 1e-12)
        ratings = strengths.assign(rating=lo + (hi - lo) * scaled.clip(upper=1.0))
    return keep_min_counts(
        Interactions(ratings[PAIR_COLUMNS].reset_index(drop=True), feedback == "explicit", {}),
        min_user_interactions,
        min_item_interactions,
    )


def keep_min_counts(interactions: Interactions, min_user: int, min_item: int) -> Interactions:
    """``interactions`` without the users and items below their minimum number of pairs
    (dropped repeatedly, until both minimums hold), counted."""
    ratings = _filter_min_counts(interactions.ratings, min_user, min_item)
    counts = {
        "pairs": len(ratings),
        "pairs_dropped": len(interactions.ratings) - len(ratings),
        "users": int(ratings["user_id"].nunique()),
        "items": int(ratings["item_id"].nunique()),
    }
    return Interactions(ratings.reset_index(drop=True), interactions.explicit, counts)


def _implicit_strengths(
    events: pd.DataFrame,
    weights: dict[str, float],
    cap: float,
    half_life_days: float | None,
    weigh_by_rating: bool = False,
) -> pd.DataFrame:
    """Per pair (sorted by user, item): the (decayed) sum of its event weights, capped, and its
    latest event's time."""
    if cap < min(weights.values(), default=1.0):
        raise RecommendError(f"cap {cap} is below the smallest event weight")
    used = events[events["event_type"].isin(list(weights)) & events["item_id"].notna()]
    strength = used["event_type"].astype("str").map(weights).to_numpy(dtype=float)
    if weigh_by_rating and "rating" in used:
        rated = (used["event_type"] == "rate").to_numpy() & used["rating"].notna().to_numpy()
        strength = np.where(rated, strength * used["rating"].to_numpy(dtype=float), strength)
    if half_life_days:
        age = (used["timestamp"].max() - used["timestamp"]).dt.total_seconds().to_numpy() / 86_400
        strength = strength * 0.5 ** (age / half_life_days)
    pairs = pd.DataFrame(
        {
            "user_id": used["user_id"].to_numpy(),
            "item_id": used["item_id"].to_numpy(),
            "s": strength,
            "timestamp": used["timestamp"].to_numpy(),
        }
    ).groupby(["user_id", "item_id"], sort=True, observed=True)
    return pd.DataFrame(
        {"strength": pairs["s"].sum().clip(upper=cap), "timestamp": pairs["timestamp"].max()}
    ).reset_index()


def _filter_min_counts(ratings: pd.DataFrame, min_user: int, min_item: int) -> pd.DataFrame:
    """Drop users and items below their minimum until both minimums hold."""
    while True:
        users = ratings.groupby("user_id", observed=True)["item_id"].transform("size")
        items = ratings.groupby("item_id", observed=True)["user_id"].transform("size")
        keep = (users >= min_user) & (items >= min_item)
        if keep.all():
            return ratings
        ratings = ratings[keep]


def to_surprise(ratings: pd.DataFrame, rating_scale: tuple[float, float]) -> Any:
    """A Surprise ``Dataset`` from (user_id, item_id, rating)."""
    from surprise import Dataset, Reader

    return Dataset.load_from_df(
        ratings[["user_id", "item_id", "rating"]], Reader(rating_scale=rating_scale)
    )


def build_trainset(ratings: pd.DataFrame, rating_scale: tuple[float, float]) -> Any:
    """The Surprise ``Trainset`` of (user_id, item_id, rating), built with arrays.

    Equal to ``to_surprise(ratings, rating_scale).build_full_trainset()`` (inner ids in
    order of first appearance, each user's and item's ratings in row order) at a
    fraction of its time on a million ratings.
    """
    from collections import defaultdict

    from surprise import Trainset

    users, user_ids = pd.factorize(ratings["user_id"], sort=False)
    items, item_ids = pd.factorize(ratings["item_id"], sort=False)
    values = ratings["rating"].to_numpy(dtype=float)

    def grouped(keys: np.ndarray, others: np.ndarray, n: int) -> defaultdict:
        order = np.argsort(keys, kind="stable")
        pairs = list(zip(others[order].tolist(), values[order].tolist(), strict=True))
        ends = np.cumsum(np.bincount(keys, minlength=n)).tolist()
        starts = [0, *ends[:-1]]
        return defaultdict(
            list, {key: pairs[a:b] for key, (a, b) in enumerate(zip(starts, ends, strict=True))}
        )

    return Trainset(
        grouped(users, items, len(user_ids)),
        grouped(items, users, len(item_ids)),
        len(user_ids),
        len(item_ids),
        len(values),
        tuple(rating_scale),
        {raw: inner for inner, raw in enumerate(user_ids.tolist())},
        {raw: inner for inner, raw in enumerate(item_ids.tolist())},
    )
