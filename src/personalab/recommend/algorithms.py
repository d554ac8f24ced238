"""The candidates: named entries of a model class (Surprise's rating predictors, the `implicit`
library's models, the co-occurrence model) and the baselines, built from their options, refused
up front when their square matrices would not fit in memory, and fitted on a training part."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from personalab.recommend.array_model import ArrayModel
from personalab.recommend.arrays import KNN_MODELS, ModelArrays
from personalab.recommend.baselines import BaselineModel
from personalab.recommend.from_surprise import model_arrays
from personalab.recommend.negatives import trainset_of
from personalab.recommend.params import (
    BASELINES,
    RecommendError,
    RecommendParams,
    algorithm_options,
    check_algorithm,
    class_of,
    family_of_class,
    model_options,
)

SIMILARITY_BUDGET_BYTES = 4 << 30  # a similarity matrix larger than this is refused before fitting


def make_algorithm(name: str, options: Mapping[str, Any] | None = None, seed: int = 0) -> Any:
    """The Surprise algorithm of entry ``name`` with ``options`` (its class: ``options['class']``
    or the name); seeded and quiet unless the options say otherwise."""
    import surprise

    try:
        check_algorithm(name, dict(options or {}), f"algorithms.{name}")
    except ValueError as err:
        raise RecommendError(str(err)) from None
    cls = class_of(name, options)
    check = model_options(options)
    allowed = algorithm_options(cls)
    if "random_state" in allowed:
        check.setdefault("random_state", seed)
    if "verbose" in allowed:
        check.setdefault("verbose", False)
    return getattr(surprise, cls)(**check)


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


def fit_arrays(
    name: str,
    options: Mapping[str, Any],
    train: pd.DataFrame,
    params: RecommendParams,
    explicit: bool = False,
) -> ModelArrays:
    """Entry ``name`` of its class fitted on ``train`` (interaction pairs), as the arrays it is
    served from. Surprise's predictors learn ``rating`` (with sampled negatives when implicit;
    those are not seen); the ranking models learn ``strength``."""
    try:
        check_algorithm(name, dict(options or {}), f"algorithms.{name}")
    except ValueError as err:
        raise RecommendError(str(err)) from None
    cls, settings = class_of(name, options), model_options(options)
    family = family_of_class(cls)
    if family != "surprise" and "strength" not in train:
        raise RecommendError(f"algorithms.{name}: {cls} learns strengths; the pairs have none")
    pairs = train[["user_id", "item_id", "strength", "timestamp"]] if family != "surprise" else None
    if family == "implicit":
        from personalab.recommend.implicit_models import fit_implicit

        return fit_implicit(cls, settings, pairs, params.seed)
    if family == "cooccurrence":
        from personalab.recommend.cooccurrence import fit_sar

        return fit_sar(name, settings, pairs, params.seed)
    if family == "linear":
        from personalab.recommend.ease import fit_ease

        return fit_ease(name, settings, pairs, params.seed)
    algo = fit_algorithm(
        make_algorithm(name, options, params.seed), trainset_of(train, params, explicit)
    )
    negatives = not explicit and params.interactions.negatives_per_positive > 0
    return model_arrays(algo, params.interactions.rating_scale[0] if negatives else None)


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
    """Fit one candidate (a named entry, or a baseline) on ``train``."""
    started = time.perf_counter()
    if name in BASELINES:
        model = BaselineModel(
            name, train, params.seed, params.popularity.window_days, params.block_size
        )
    else:
        arrays = fit_arrays(name, options, train, params, explicit)
        model = ArrayModel(arrays, params.seed, params.block_size)
    return Fitted(name, model, time.perf_counter() - started)
