"""What Surprise is fitted to: the interactions, plus sampled negatives for implicit feedback."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from personalab.recommend.interactions import build_trainset
from personalab.recommend.params import RecommendParams


def sample_negatives(
    positives: pd.DataFrame,
    per_positive: float,
    rating: float,
    sampling: str = "popularity",
    seed: int = 0,
) -> pd.DataFrame:
    """Unobserved user-item pairs rated ``rating``, about ``per_positive`` per observed pair.

    Implicit feedback has no negatives, and a rating model fitted to positives alone
    learns little about what a user would not pick. Each sampled pair takes the user
    of a random observed pair (so active users get more) and an item drawn uniformly
    or, with ``popularity``, in proportion to its pairs (so popular items are also
    learnt as skipped, the usual remedy against recommending the most popular to
    everyone). Pairs the user interacted with, and repeats, are dropped.
    """
    n = int(round(per_positive * len(positives)))
    if n == 0 or positives.empty:
        return positives.iloc[:0][["user_id", "item_id", "rating"]]
    rng = np.random.default_rng(seed)
    counts = positives["item_id"].value_counts(sort=False)
    weights = counts.to_numpy(dtype=float) / counts.sum() if sampling == "popularity" else None
    drawn = pd.DataFrame(
        {
            "user_id": rng.choice(positives["user_id"].to_numpy(), n),
            "item_id": rng.choice(counts.index.to_numpy(), n, p=weights),
        }
    ).drop_duplicates()
    seen = pd.MultiIndex.from_frame(positives[["user_id", "item_id"]])
    drawn = drawn[~pd.MultiIndex.from_frame(drawn).isin(seen)]
    return drawn.assign(rating=float(rating)).reset_index(drop=True)


def training_ratings(
    positives: pd.DataFrame, params: RecommendParams, explicit: bool, seed: int | None = None
) -> pd.DataFrame:
    """What Surprise is fitted to: the ratings, plus sampled negatives for implicit feedback."""
    ip = params.interactions
    ratings = positives[["user_id", "item_id", "rating"]]
    if explicit or not ip.negatives_per_positive:
        return ratings
    negatives = sample_negatives(
        positives,
        ip.negatives_per_positive,
        ip.negative_rating,
        ip.negative_sampling,
        params.seed if seed is None else seed,
    )
    return pd.concat([ratings, negatives], ignore_index=True)


def trainset_of(
    positives: pd.DataFrame, params: RecommendParams, explicit: bool, seed: int | None = None
) -> Any:
    """A Surprise trainset of ``positives`` (with negatives when implicit, see :func:`training_ratings`)."""
    ratings = training_ratings(positives, params, explicit, seed)
    return build_trainset(ratings, params.interactions.surprise_scale(explicit, positives))
