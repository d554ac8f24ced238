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
    return evaluate_users(fitted, holdout, k)[0]


def evaluate_users(
    fitted: Fitted, holdout: Holdout, k: int
) -> tuple[dict[str, float], pd.DataFrame]:
    """:func:`evaluate_ranking`'s figures and the per-user metrics they average
    (:func:`~personalab.evaluation.ranking.ranking_figures`)."""
    from personalab.evaluation.ranking import ranking_figures

    started = time.perf_counter()
    recs = fitted.model.top_k(holdout.users, k, exclude_seen=holdout.exclude_seen)
    seconds = time.perf_counter() - started
    if recs.empty:
        raise RecommendError(
            f"{fitted.name} recommended nothing for the {len(holdout.users):,} held-out users"
        )
    report, users = ranking_figures(recs, holdout.relevant, holdout.train, k, holdout.catalogue)
    return {**report, "predict_seconds": seconds}, users


def cv_sample(ratings: pd.DataFrame, params: RecommendParams, explicit: bool) -> pd.DataFrame:
    """What the folds split: the ratings Surprise is fitted to (with sampled negatives when
    implicit), a seeded sample of ``cross_validation.max_pairs`` of them when there are more."""
    cv = params.cross_validation
    ratings = training_ratings(ratings, params, explicit)
    if cv.max_pairs is not None and len(ratings) > cv.max_pairs:
        return ratings.sample(n=cv.max_pairs, random_state=params.seed)
    return ratings


def cross_validation_gap(
    ratings: pd.DataFrame, params: RecommendParams, explicit: bool = False
) -> str | None:
    """Why ``ratings`` cannot be cross-validated (fewer pairs than folds), or None."""
    cv = params.cross_validation
    if min(len(ratings), cv.max_pairs or len(ratings)) >= cv.folds:  # negatives only add pairs
        return None
    return _folds_gap(len(cv_sample(ratings, params, explicit)), cv.folds)


def _folds_gap(pairs: int, folds: int) -> str | None:
    if pairs >= folds:
        return None
    return (
        f"{pairs} rating{'s' if pairs != 1 else ''} cannot be split into "
        f"cross_validation.folds {folds} folds"
    )


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
    sample = cv_sample(ratings, params, explicit)
    if gap := _folds_gap(len(sample), cv.folds):
        raise RecommendError(f"cross-validation of {name}: {gap}")
    data = to_surprise(sample, params.interactions.surprise_scale(explicit, ratings))
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
