"""How a fitted candidate is judged: ranking metrics of its top-k lists for the held-out users,
and rating accuracy (RMSE, MAE) by cross-validation."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from personalab.recommend.algorithms import Fitted, check_memory, make_algorithm
from personalab.recommend.holdout import Holdout
from personalab.recommend.interactions import to_surprise
from personalab.recommend.negatives import training_ratings
from personalab.recommend.params import RecommendError, RecommendParams


def evaluate_ranking(fitted: Fitted, holdout: Holdout, k: int) -> dict[str, float]:
    """Ranking metrics at ``k`` of top-k lists for every evaluated user (see personalab.evaluation.ranking)."""
    from personalab.evaluation.ranking import ranking_report

    started = time.perf_counter()
    recs = fitted.model.top_k(holdout.users, k)
    seconds = time.perf_counter() - started
    if recs.empty:
        raise RecommendError(
            f"{fitted.name} recommended nothing for the {len(holdout.users):,} held-out users"
        )
    report = ranking_report(recs, holdout.relevant, holdout.train, k, holdout.catalogue)
    return {**report, "predict_seconds": seconds}


def cross_validate_rating(
    name: str,
    options: Mapping[str, Any],
    ratings: pd.DataFrame,
    params: RecommendParams,
    explicit: bool = False,
) -> dict[str, float]:
    """Mean RMSE and MAE over seeded k folds (Surprise's ``cross_validate``, its benchmark protocol).

    The folds split what the model is fitted to (for implicit feedback, the
    interactions with their sampled negatives); with ``cross_validation.max_pairs``
    they are drawn from a seeded sample of that many pairs.
    """
    from surprise.model_selection import KFold, cross_validate

    cv = params.cross_validation
    ratings = training_ratings(ratings, params, explicit)
    sample = ratings
    if cv.max_pairs is not None and len(ratings) > cv.max_pairs:
        sample = ratings.sample(n=cv.max_pairs, random_state=params.seed)
    data = to_surprise(sample, params.interactions.surprise_scale(explicit))
    algo = make_algorithm(name, options, params.seed)
    check_memory(algo, data.build_full_trainset())
    np.random.seed(params.seed)  # noqa: NPY002 - NormalPredictor draws from NumPy's global generator
    started = time.perf_counter()
    result = cross_validate(
        algo,
        data,
        measures=["rmse", "mae"],
        cv=KFold(n_splits=cv.folds, random_state=params.seed, shuffle=True),
        n_jobs=1,
    )
    return {
        "rmse": float(np.mean(result["test_rmse"])),
        "mae": float(np.mean(result["test_mae"])),
        "cv_pairs": float(len(sample)),
        "cv_seconds": time.perf_counter() - started,
    }
