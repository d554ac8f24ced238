"""User-item interactions from the event log, and Surprise datasets of them.

With ``feedback: explicit`` (or ``auto`` when ``rate`` events are at least half
of the item events used, as in MovieLens) each user-item pair takes its latest
explicit rating. Otherwise (``implicit``, or ``auto`` on a behaviour log with a
few ratings among many views) each pair gets an implicit strength: the sum of event weights
(default view 1, click 2, add_to_cart 3, purchase 5), each event optionally
decayed by ``0.5 ** (age_days / half_life_days)`` against the newest event of
the log, capped at ``cap``, then mapped linearly onto ``rating_scale`` (the
smallest possible strength, one weight-1 event, maps to the low end; ``cap`` to
the high end). Users and items with fewer than ``min_user_interactions`` /
``min_item_interactions`` pairs are dropped (repeatedly, until both hold) and
counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from personalab.recommend.params import DEFAULT_WEIGHTS, RecommendError


@dataclass
class Interactions:
    """User-item ratings for Surprise, and what building them dropped."""

    ratings: pd.DataFrame  # user_id, item_id, rating, timestamp (the pair's latest event)
    explicit: bool
    counts: dict[str, int]


def build_interactions(
    events: pd.DataFrame,
    weights: dict[str, float] | None = None,
    cap: float = 20.0,
    half_life_days: float | None = None,
    min_user_interactions: int = 1,
    min_item_interactions: int = 1,
    rating_scale: tuple[float, float] = (1.0, 5.0),
    feedback: str = "auto",
) -> Interactions:
    """Explicit ratings or implicit strengths per ``feedback`` (module docstring)."""
    for column in ("user_id", "item_id", "event_type", "timestamp"):
        if column not in events:
            raise RecommendError(f"events lack column {column!r}")
    weights = DEFAULT_WEIGHTS if weights is None else weights
    lo, hi = rating_scale
    if lo >= hi:
        raise RecommendError(
            f"rating_scale must be (low, high) with low < high, got {rating_scale}"
        )
    if feedback not in ("auto", "explicit", "implicit"):
        raise RecommendError(f"feedback must be auto, explicit or implicit, got {feedback!r}")
    rated = events[
        (events["event_type"] == "rate") & events["rating"].notna() & events["item_id"].notna()
    ]
    implicit_events = int(
        (events["event_type"].isin(list(weights)) & events["item_id"].notna()).sum()
    )
    if feedback == "explicit" and rated.empty:
        raise RecommendError("feedback is explicit but the events hold no rate event with a rating")
    use_explicit = feedback == "explicit" or (
        feedback == "auto" and len(rated) > 0 and len(rated) >= implicit_events
    )
    if use_explicit:
        latest = rated.sort_values("timestamp", kind="stable").drop_duplicates(
            ["user_id", "item_id"], keep="last"
        )
        ratings = latest[["user_id", "item_id", "rating", "timestamp"]].reset_index(drop=True)
        explicit = True
    else:
        ratings = _implicit_strengths(events, weights, cap, half_life_days, lo, hi)
        explicit = False
    return keep_min_counts(
        Interactions(ratings, explicit, {}), min_user_interactions, min_item_interactions
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
    lo: float,
    hi: float,
) -> pd.DataFrame:
    """Per pair: the (decayed) sum of its event weights, capped, mapped onto ``[lo, hi]``."""
    if cap < min(weights.values(), default=1.0):
        raise RecommendError(f"cap {cap} is below the smallest event weight")
    used = events[events["event_type"].isin(list(weights)) & events["item_id"].notna()]
    strength = used["event_type"].astype("str").map(weights).to_numpy(dtype=float)
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
    summed = pairs["s"].sum().clip(upper=cap)
    floor = min(weights.values())
    scaled = lo + (hi - lo) * (summed - floor).clip(lower=0) / max(cap - floor, 1e-12)
    return pd.DataFrame({"rating": scaled, "timestamp": pairs["timestamp"].max()}).reset_index()


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
