"""The stage's steps around the comparison: interactions and splits in, the champion refitted
for every user, and the stage's metrics out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from personalab.recommend.algorithms import fit_algorithm, make_algorithm
from personalab.recommend.baselines import popularity
from personalab.recommend.comparison import Comparison
from personalab.recommend.from_surprise import model_arrays
from personalab.recommend.holdout import Holdout, split_holdout
from personalab.recommend.interactions import Interactions, build_interactions
from personalab.recommend.negatives import trainset_of
from personalab.recommend.params import RecommendError, RecommendParams
from personalab.recommend.served import Recommender


def prepare(events: pd.DataFrame, params: RecommendParams) -> tuple[Interactions, Holdout, Holdout]:
    """Interactions, the test split, and the validation split of its training part."""
    ip = params.interactions
    interactions = build_interactions(
        events,
        ip.weights,
        ip.cap,
        ip.half_life_days,
        ip.min_user_interactions,
        ip.min_item_interactions,
        ip.rating_scale,
        ip.feedback,
    )
    if interactions.ratings.empty:
        raise RecommendError(
            "no user-item interactions left to learn from; lower interactions.min_user_interactions "
            "or min_item_interactions, or check the event weights in params/recommend.yaml"
        )
    holdout = split_holdout(
        interactions.ratings, params.holdout, params.seed, interactions.explicit
    )
    validation = split_holdout(
        holdout.train, params.holdout, params.seed + 1, interactions.explicit
    )
    if not holdout.users or not validation.users:
        raise RecommendError(
            "no user has a held-out interaction: users need at least two interactions "
            "(raise interactions.min_user_interactions or use more data)"
        )
    return interactions, holdout, validation


def fit_recommender(
    ratings: pd.DataFrame,
    name: str,
    options: Mapping[str, Any],
    params: RecommendParams,
    explicit: bool = False,
) -> Recommender:
    """The champion refitted on every interaction, with the popularity fallback of all of them."""
    algo = fit_algorithm(
        make_algorithm(name, options, params.seed), trainset_of(ratings, params, explicit)
    )
    popular = popularity(ratings, params.popularity.window_days).head(max(params.top_n, 100))
    config = {
        "algorithm": name,
        "options": dict(options),
        "top_n": params.top_n,
        "seed": params.seed,
        "block_size": params.block_size,
        "rating_scale": list(params.interactions.rating_scale),
        "seen_min_rating": params.interactions.rating_scale[0],
        "users": algo.trainset.n_users,
        "items": algo.trainset.n_items,
        "pairs": algo.trainset.n_ratings,
    }
    return Recommender(model_arrays(algo, config["seen_min_rating"]), popular, config)


def recommend_everyone(recommender: Recommender, events: pd.DataFrame) -> pd.DataFrame:
    """Top-N for every user of the event log (the model's, and fallbacks for the rest)."""
    users = events["user_id"].drop_duplicates().sort_values().tolist()
    return recommender.recommend(users)


def stage_metrics(
    interactions: Interactions,
    holdout: Holdout,
    comparison: Comparison,
    recommendations: pd.DataFrame,
) -> dict[str, Any]:
    """The stage's metrics JSON: the comparison's figures, the data's size and the fallback share."""
    users = recommendations.drop_duplicates("user_id")
    return {
        **comparison.metrics,
        "fallback_share": float(users["fallback"].mean()) if len(users) else 0.0,
        "fallback_users": int(users["fallback"].sum()),
        "recommended_users": len(users),
        "explicit_feedback": int(interactions.explicit),
        "test_users": len(holdout.users),
        **{f"interaction_{key}": value for key, value in interactions.counts.items()},
    }
