"""Surprise's algorithms and the baselines as candidates: built from their options, refused up
front when their square matrices would not fit in memory, and fitted on a training part."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from personalab.recommend.arrays import KNN_MODELS
from personalab.recommend.baselines import BaselineModel
from personalab.recommend.from_surprise import model_arrays
from personalab.recommend.negatives import trainset_of
from personalab.recommend.params import (
    BASELINES,
    RecommendError,
    RecommendParams,
    algorithm_options,
    check_algorithm,
)
from personalab.recommend.served import ArrayModel

SIMILARITY_BUDGET_BYTES = 4 << 30  # a similarity matrix larger than this is refused before fitting


def make_algorithm(name: str, options: Mapping[str, Any] | None = None, seed: int = 0) -> Any:
    """Surprise's ``name`` with ``options``; seeded and quiet unless the options say otherwise."""
    import surprise

    check = dict(options or {})
    try:
        check_algorithm(name, check, f"algorithms.{name}")
    except ValueError as err:
        raise RecommendError(str(err)) from None
    allowed = algorithm_options(name)
    if "random_state" in allowed:
        check.setdefault("random_state", seed)
    if "verbose" in allowed:
        check.setdefault("verbose", False)
    return getattr(surprise, name)(**check)


def similarity_size(algo: Any, trainset: Any) -> int:
    """Entries of the square matrix ``algo`` builds (similarities; SlopeOne's deviations), or 0."""
    name = type(algo).__name__
    if name in KNN_MODELS:
        user_based = algo.sim_options.get("user_based", True)
        return (trainset.n_users if user_based else trainset.n_items) ** 2
    if name == "SlopeOne":
        return 2 * trainset.n_items**2
    return 0


def fit_algorithm(algo: Any, trainset: Any) -> Any:
    """``algo.fit(trainset)``, refused up front when its square matrices would not fit in memory."""
    check_memory(algo, trainset)
    try:
        return algo.fit(trainset)
    except ZeroDivisionError:
        name = getattr(algo, "sim_options", {}).get("name", "msd")
        raise RecommendError(
            f"algorithms.{type(algo).__name__}: Surprise's {name} similarity divided by zero, "
            "which happens when ratings of 0 are all two items or users share; choose msd or "
            "pearson, or set interactions.negative_rating above 0 in params/recommend.yaml"
        ) from None


def check_memory(algo: Any, trainset: Any) -> None:
    """Raise when ``algo``'s square matrices over ``trainset`` exceed the memory budget."""
    entries = similarity_size(algo, trainset)
    if entries * 8 > SIMILARITY_BUDGET_BYTES:
        name = type(algo).__name__
        based = "user" if getattr(algo, "sim_options", {}).get("user_based", True) else "item"
        hint = (
            "set sim_options.user_based: false (item-based)"
            if based == "user" and name in KNN_MODELS
            else "raise min_item_interactions or drop it from algorithms"
        )
        raise RecommendError(
            f"algorithms.{name}: its {based}-by-{based} matrices would take "
            f"{entries * 8 / 2**30:.1f} GiB ({trainset.n_users:,} users, {trainset.n_items:,} items); "
            f"{hint} in params/recommend.yaml"
        )


def surprise_model(algo: Any, params: RecommendParams) -> ArrayModel:
    """A fitted Surprise algorithm as arrays answering top-k (sampled negatives are not seen)."""
    seen_min = params.interactions.rating_scale[0]
    return ArrayModel(model_arrays(algo, seen_min), params.seed, params.block_size)


@dataclass
class Fitted:
    name: str
    model: Any  # ArrayModel or BaselineModel
    fit_seconds: float


def fit_candidate(
    name: str,
    options: Mapping[str, Any],
    train: pd.DataFrame,
    params: RecommendParams,
    explicit: bool = False,
) -> Fitted:
    """Fit one algorithm (Surprise's, or a baseline) on ``train``."""
    started = time.perf_counter()
    if name in BASELINES:
        model = BaselineModel(
            name, train, params.seed, params.popularity.window_days, params.block_size
        )
    else:
        algo = fit_algorithm(
            make_algorithm(name, options, params.seed),
            trainset_of(train, params, explicit),
        )
        model = surprise_model(algo, params)
    return Fitted(name, model, time.perf_counter() - started)
