"""Collaborative filtering with Surprise: interactions and vectorised scoring (groundwork of stage ``recommend``).

Interactions
------------
Where the log has ``rate`` events, each user-item pair takes its latest explicit
rating. Otherwise each pair gets an implicit strength: the sum of event weights
(default view 1, click 2, add_to_cart 3, purchase 5), each event optionally
decayed by ``0.5 ** (age_days / half_life_days)`` against the newest event of
the log, capped at ``cap``, then mapped linearly onto ``rating_scale`` (the
smallest possible strength, one weight-1 event, maps to the low end; ``cap`` to
the high end). Users and items with fewer than ``min_user_interactions`` /
``min_item_interactions`` pairs are dropped (repeatedly, until both hold) and
counted.

Vectorised scoring
------------------
For factor models the score of every item for a block of users is one matrix
product, equal to Surprise's own ``predict`` (clipped to the rating scale) for
the same pairs:

===============  ==================================================================
algorithm        estimate for known user u and item i
===============  ==================================================================
SVD (biased)     mu + b_u + b_i + q_i . p_u
SVD (unbiased)   q_i . p_u
SVDpp            mu + b_u + b_i + q_i . (p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j)
NMF              q_i . p_u (+ mu + b_u + b_i when biased)
BaselineOnly     mu + b_u + b_i
===============  ==================================================================
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from personalab.errors import InputError

DEFAULT_WEIGHTS = {"view": 1.0, "click": 2.0, "add_to_cart": 3.0, "purchase": 5.0}
FACTOR_MODELS = ("SVD", "SVDpp", "NMF", "BaselineOnly")


class RecommendError(InputError, ValueError):
    """Interactions or models that cannot be used as asked."""


@dataclass
class Interactions:
    """User-item ratings for Surprise, and what building them dropped."""

    ratings: pd.DataFrame  # user_id, item_id, rating
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
) -> Interactions:
    """Explicit ratings when the log has ``rate`` events, else implicit strengths (module docstring)."""
    for column in ("user_id", "item_id", "event_type", "timestamp"):
        if column not in events:
            raise RecommendError(f"events lack column {column!r}")
    weights = DEFAULT_WEIGHTS if weights is None else weights
    lo, hi = rating_scale
    if lo >= hi:
        raise RecommendError(
            f"rating_scale must be (low, high) with low < high, got {rating_scale}"
        )
    rated = events[
        (events["event_type"] == "rate") & events["rating"].notna() & events["item_id"].notna()
    ]
    if len(rated):
        latest = rated.sort_values("timestamp", kind="stable").drop_duplicates(
            ["user_id", "item_id"], keep="last"
        )
        ratings = latest[["user_id", "item_id", "rating"]].reset_index(drop=True)
        explicit = True
    else:
        if cap < min(weights.values(), default=1.0):
            raise RecommendError(f"cap {cap} is below the smallest event weight")
        used = events[events["event_type"].isin(list(weights)) & events["item_id"].notna()]
        strength = used["event_type"].astype("str").map(weights).to_numpy(dtype=float)
        if half_life_days:
            age = (
                used["timestamp"].max() - used["timestamp"]
            ).dt.total_seconds().to_numpy() / 86_400
            strength = strength * 0.5 ** (age / half_life_days)
        summed = (
            pd.DataFrame(
                {
                    "user_id": used["user_id"].to_numpy(),
                    "item_id": used["item_id"].to_numpy(),
                    "s": strength,
                }
            )
            .groupby(["user_id", "item_id"], sort=True, observed=True)["s"]
            .sum()
            .clip(upper=cap)
        )
        floor = min(weights.values())
        scaled = lo + (hi - lo) * (summed - floor).clip(lower=0) / max(cap - floor, 1e-12)
        ratings = scaled.rename("rating").reset_index()
        explicit = False
    pairs_before = len(ratings)
    ratings = _filter_min_counts(ratings, min_user_interactions, min_item_interactions)
    counts = {
        "pairs": len(ratings),
        "pairs_dropped": pairs_before - len(ratings),
        "users": int(ratings["user_id"].nunique()),
        "items": int(ratings["item_id"].nunique()),
    }
    return Interactions(ratings=ratings.reset_index(drop=True), explicit=explicit, counts=counts)


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


# --- vectorised scoring -------------------------------------------------------------------------


def factor_terms(algo: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """User vectors P, item vectors Q, user biases, item biases and the offset of a fitted factor model.

    The estimate of (u, i) is ``offset + bu[u] + bi[i] + Q[i] . P[u]``.
    """
    name = type(algo).__name__
    trainset = algo.trainset
    mu = float(trainset.global_mean)
    n_users, n_items = trainset.n_users, trainset.n_items
    zeros_u, zeros_i = np.zeros(n_users), np.zeros(n_items)
    if name == "BaselineOnly":
        bu, bi = np.asarray(algo.bu), np.asarray(algo.bi)
        return np.zeros((n_users, 0)), np.zeros((n_items, 0)), bu, bi, mu
    if name == "SVDpp":
        from scipy.sparse import csr_matrix

        # implicit feedback: P[u] + |N(u)|^-1/2 * sum of y_j over the items u rated, as one sparse product
        users, items = rated_pairs(trainset)
        per_user = np.bincount(users, minlength=n_users)
        norm = 1.0 / np.sqrt(per_user[users])
        implicit = csr_matrix((norm, (users, items)), shape=(n_users, n_items)) @ np.asarray(
            algo.yj
        )
        P = np.asarray(algo.pu) + implicit
        return P, np.asarray(algo.qi), np.asarray(algo.bu), np.asarray(algo.bi), mu
    if name in ("SVD", "NMF"):
        P, Q = np.asarray(algo.pu), np.asarray(algo.qi)
        if algo.biased:
            return P, Q, np.asarray(algo.bu), np.asarray(algo.bi), mu
        return P, Q, zeros_u, zeros_i, 0.0
    raise RecommendError(
        f"{name} is not a factor model; vectorised scoring supports {', '.join(FACTOR_MODELS)}"
    )


def rated_pairs(trainset: Any) -> tuple[np.ndarray, np.ndarray]:
    """Inner (user, item) ids of every rating in a Surprise trainset, as two arrays."""
    lengths = np.fromiter(
        (len(trainset.ur[u]) for u in range(trainset.n_users)),
        dtype=np.int64,
        count=trainset.n_users,
    )
    users = np.repeat(np.arange(trainset.n_users), lengths)
    items = np.fromiter(
        (j for u in range(trainset.n_users) for j, _ in trainset.ur[u]),
        dtype=np.int64,
        count=int(lengths.sum()),
    )
    return users, items


def score_blocks(
    algo: Any, inner_users: np.ndarray | None = None, block_size: int = 4096, clip: bool = True
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (inner user ids, scores users x items) in blocks: Surprise's estimates, vectorised."""
    P, Q, bu, bi, offset = factor_terms(algo)
    low, high = algo.trainset.rating_scale
    users = np.arange(algo.trainset.n_users) if inner_users is None else np.asarray(inner_users)
    for start in range(0, users.size, block_size):
        block = users[start : start + block_size]
        scores = offset + bu[block][:, None] + bi[None, :] + P[block] @ Q.T
        yield block, np.clip(scores, low, high) if clip else scores
