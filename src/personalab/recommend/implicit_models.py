"""Implicit-feedback models of the ``implicit`` library, fitted reproducibly and kept as arrays.

Every model here learns from ``pairs``: one row per user-item pair with its ``strength``
(the implicit strength, > 0) and ``timestamp`` (the pair's latest event). The pairs become a
users x items CSR matrix of strengths (:func:`user_item_matrix`, ids in sorted order), the
library fits it, and what the model knows is copied into
:class:`~personalab.recommend.arrays.ModelArrays`, served by
:class:`~personalab.recommend.array_model.ArrayModel` without the library:

* ``AlternatingLeastSquares`` and ``BayesianPersonalizedRanking``: family ``factors``,
  ``P`` the user factors and ``Q`` the item factors (BPR's last column is its item bias,
  against a column of ones in ``P``), so ``P @ Q.T`` is the library's score;
* ``CosineRecommender``, ``BM25Recommender`` and ``TFIDFRecommender``: family
  ``item_similarity``, the library's pruned item-item matrix ``S`` (``sim_*``, row = an
  item the user has, column = the candidate) and each user's strengths (``seen_data``), so
  the user's row of strengths times ``S`` is the library's score: its ``recommend`` sums,
  over the user's items, the raw ``user_items`` weight times that item's row of
  ``similarity`` (the BM25 or TF-IDF weighting only shapes ``S`` at fit).

Fits are reproducible: the seed sets the library's ``random_state``, BPR's SGD runs on one
thread (its parallel updates race), and BLAS runs on one thread (the library warns
otherwise). Scores are not ratings, so ``low`` and ``high`` are ``-inf`` and ``inf``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from personalab.recommend.arrays import (
    IMPLICIT_FACTOR_MODELS,
    IMPLICIT_ITEM_MODELS,
    ModelArrays,
)
from personalab.recommend.params import RecommendError

IMPLICIT_MODELS = (*IMPLICIT_FACTOR_MODELS, *IMPLICIT_ITEM_MODELS)
#: the columns every model reads from ``pairs``
PAIR_COLUMNS = ("user_id", "item_id", "strength", "timestamp")
#: constructor arguments personalab sets itself (precision, solver, threads, seed, logging)
FIXED_OPTIONS = frozenset(
    {
        "self",
        "dtype",
        "use_native",
        "use_cg",
        "use_gpu",
        "num_threads",
        "calculate_training_loss",
        "random_state",
    }
)


def _implicit_class(name: str) -> type:
    """The CPU class of ``name`` (the top-level ALS and BPR are factories that may pick a GPU)."""
    if name == "AlternatingLeastSquares":
        from implicit.cpu.als import AlternatingLeastSquares

        return AlternatingLeastSquares
    if name == "BayesianPersonalizedRanking":
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        return BayesianPersonalizedRanking
    if name in IMPLICIT_ITEM_MODELS:
        import implicit.nearest_neighbours

        return getattr(implicit.nearest_neighbours, name)
    raise RecommendError(
        f"algorithms.{name}: not one of implicit's models ({', '.join(IMPLICIT_MODELS)})"
    )


def implicit_options(name: str) -> set[str]:
    """The constructor options of implicit's ``name`` a user may set (its CPU class's signature,
    less what personalab fixes for reproducible fits: dtype, solver, threads, seed, logging)."""
    import inspect

    parameters = inspect.signature(_implicit_class(name).__init__).parameters
    return set(parameters) - FIXED_OPTIONS


def check_implicit_options(name: str, options: Mapping[str, Any]) -> None:
    """Raise :class:`RecommendError` naming ``algorithms.<name>.<option>`` for an option
    implicit's ``name`` does not take or personalab fixes."""
    allowed = implicit_options(name)
    for option in sorted(options):
        if option not in allowed:
            fixed = " (personalab sets it for reproducible fits)" if option in FIXED_OPTIONS else ""
            raise RecommendError(
                f"algorithms.{name}.{option}: {name} takes no option {option!r}{fixed}; "
                f"its options: {', '.join(sorted(allowed))}"
            )


def check_pairs(pairs: pd.DataFrame, name: str) -> None:
    """Refuse ``pairs`` a model cannot learn from, naming the column and what was expected."""
    missing = [column for column in PAIR_COLUMNS if column not in pairs]
    if missing:
        raise RecommendError(
            f"algorithms.{name}: the pairs have no {', '.join(missing)} column "
            f"(expected {', '.join(PAIR_COLUMNS)}; columns: {list(pairs.columns)})"
        )
    if pairs.empty:
        raise RecommendError(f"algorithms.{name}: no user-item pairs to learn from")
    strength = pd.to_numeric(pairs["strength"], errors="coerce").to_numpy(dtype=float)
    bad = ~(np.isfinite(strength) & (strength > 0))
    if bad.any():
        raise RecommendError(
            f"algorithms.{name}: strength must be a finite number > 0 in every pair; "
            f"{int(bad.sum())} pair(s) are not (first: row {int(np.flatnonzero(bad)[0])})"
        )


def user_item_matrix(
    pairs: pd.DataFrame, dtype: Any = np.float32
) -> tuple[Any, np.ndarray, np.ndarray]:
    """``(X, user_ids, item_ids)``: the users x items ``csr_matrix`` of strengths (``dtype``,
    sorted indices), rows and columns in ascending user and item id (``user_ids``/``item_ids``).

    A ``csr_matrix`` (not ``csr_array``): implicit's item-item ``recommend`` accepts only that.
    A user-item pair given twice is refused (the matrix would add the two strengths).
    """
    from scipy.sparse import csr_matrix

    users, user_ids = pd.factorize(pairs["user_id"], sort=True)
    items, item_ids = pd.factorize(pairs["item_id"], sort=True)
    strength = pairs["strength"].to_numpy(dtype=dtype)
    X = csr_matrix((strength, (users, items)), shape=(len(user_ids), len(item_ids)))
    X.sum_duplicates()
    if X.nnz != len(pairs):
        raise RecommendError(
            f"the pairs hold {len(pairs) - X.nnz} repeated user-item pair(s): one row per pair "
            "is expected (aggregate the strengths first)"
        )
    X.sort_indices()
    return X, np.asarray(user_ids), np.asarray(item_ids)


def seen_arrays(X: Any, user_ids: np.ndarray, item_ids: np.ndarray) -> dict[str, np.ndarray]:
    """The arrays every served model has: raw ids in inner order, each user's items as CSR."""
    return {
        "user_ids": np.asarray(user_ids),
        "item_ids": np.asarray(item_ids),
        "seen_indptr": X.indptr.astype(np.int64),
        "seen_indices": X.indices.astype(np.int64),
    }


def fit_implicit_model(name: str, options: Mapping[str, Any], user_items: Any, seed: int) -> Any:
    """implicit's ``name`` with ``options``, fitted to ``user_items`` (:func:`user_item_matrix`).

    Seeded with ``seed``; BPR on one thread (its Hogwild SGD is not reproducible on more); BLAS on
    one thread while the model is built and fitted (implicit warns otherwise); no progress bar;
    the warning the item-item models raise about their own internal COO matrix silenced.
    """
    from threadpoolctl import threadpool_limits

    check_implicit_options(name, options)
    cls = _implicit_class(name)
    settings = dict(options)
    if name in IMPLICIT_FACTOR_MODELS:
        settings["random_state"] = int(seed)
    if name == "BayesianPersonalizedRanking":
        settings["num_threads"] = 1
    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        # the item-item models hand their own weighted COO matrix on and warn of it
        warnings.filterwarnings("ignore", "Method expects CSR input")
        try:
            model = cls(**settings)
            model.fit(user_items, show_progress=False)
        except (TypeError, ValueError) as err:
            raise RecommendError(
                f"algorithms.{name}: cannot fit with {dict(options)}: {err}"
            ) from err
    return model


def implicit_arrays(
    name: str,
    model: Any,
    user_items: Any,
    user_ids: np.ndarray,
    item_ids: np.ndarray,
    options: Mapping[str, Any] | None = None,
    seed: int | None = None,
) -> ModelArrays:
    """A fitted implicit ``model`` (fitted to ``user_items``) as :class:`ModelArrays`."""
    arrays = seen_arrays(user_items, user_ids, item_ids)
    if name in IMPLICIT_FACTOR_MODELS:
        arrays["P"] = np.ascontiguousarray(model.user_factors)
        arrays["Q"] = np.ascontiguousarray(model.item_factors)
    else:
        similarity = model.similarity.tocsr(copy=True)
        similarity.eliminate_zeros()  # all_pairs_knn pads short rows with zeros at (0, 0)
        similarity.sort_indices()
        arrays |= {
            "sim_indptr": similarity.indptr.astype(np.int64),
            "sim_indices": similarity.indices.astype(np.int64),
            "sim_data": similarity.data,
            "seen_data": user_items.data.astype(np.float64),
        }
    scalars = {
        "algorithm": name,
        "low": -np.inf,
        "high": np.inf,
        "options": dict(options or {}),
        "seed": seed,
    }
    return ModelArrays(arrays, scalars)


def fit_implicit(
    name: str, options: Mapping[str, Any], pairs: pd.DataFrame, seed: int
) -> ModelArrays:
    """implicit's ``name`` with ``options`` fitted to ``pairs`` with ``seed``, as arrays.

    The same ``pairs``, options and seed give identical arrays (so DVC outputs are
    byte-identical on re-run).
    """
    check_pairs(pairs, name)
    check_implicit_options(name, options)
    user_items, user_ids, item_ids = user_item_matrix(pairs)
    model = fit_implicit_model(name, options, user_items, seed)
    return implicit_arrays(name, model, user_items, user_ids, item_ids, options, seed)
