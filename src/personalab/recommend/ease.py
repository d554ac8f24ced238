"""EASE: an item-to-item linear model with a closed form (Steck, "Embarrassingly Shallow
Autoencoders for Sparse Data", WWW 2019), kept as arrays.

From the binary users x items matrix ``X`` of ``pairs``: ``G = X^T X + l2 * I``,
``P = G^-1`` and the weights ``B = -P / diag(P)`` with a zero diagonal (an item never predicts
itself). A user's scores are their row of ``X`` times ``B``. On MovieLens-style logs it ranks
above factor models at a fraction of their tuning (one matrix inverse), which is why it is a
default candidate here.

The inverse is dense, items x items: ``max_items`` bounds it (the most interacted-with items are
kept, ties by item id; the others neither score nor are scored). ``neighbours`` keeps each
item's (row's) ``n`` largest weights by magnitude (ties: lower item id), so the served model is
sparse: the ``item_similarity`` family of :mod:`personalab.recommend.scorers` (``sim_*`` holds
``B`` as CSR, ``seen_data`` the binary rows). Deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from personalab.recommend.implicit_models import check_pairs, seen_arrays, user_item_matrix
from personalab.recommend.params import RecommendError

EASE = "EASE"
EASE_DEFAULTS: dict[str, Any] = {"l2": 250.0, "neighbours": 500, "max_items": 10_000}


def ease_options() -> set[str]:
    """The options EASE takes (see the module docstring)."""
    return set(EASE_DEFAULTS)


def check_ease_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with EASE's defaults filled in; an unknown option or a bad value raises
    :class:`RecommendError` naming ``algorithms.<name>.<option>``."""
    unknown = sorted(set(options) - ease_options())
    if unknown:
        raise RecommendError(
            f"algorithms.{name}.{unknown[0]}: EASE takes no option {unknown[0]!r}; its options: "
            f"{', '.join(sorted(ease_options()))}"
        )
    settings = {**EASE_DEFAULTS, **options}
    l2 = settings["l2"]
    if isinstance(l2, bool) or not isinstance(l2, Real) or not l2 > 0:
        raise RecommendError(f"algorithms.{name}.l2: a number above 0, got {l2!r}")
    for key, low in (("neighbours", 1), ("max_items", 2)):
        value = settings[key]
        if key == "neighbours" and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise RecommendError(
                f"algorithms.{name}.{key}: a whole number of at least {low}"
                + (" or null" if key == "neighbours" else "")
                + f", got {value!r}"
            )
    return settings


def ease_weights(binary: Any, l2: float) -> np.ndarray:
    """The dense EASE weights ``B`` (items x items, zero diagonal) of a binary users x items
    matrix."""
    from scipy.linalg import lapack

    gram = (binary.T @ binary).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += l2
    # G is symmetric positive definite: a Cholesky inverse takes half an LU inverse's work
    factor, info = lapack.dpotrf(gram, lower=False, overwrite_a=True)
    if info == 0:
        inverse, info = lapack.dpotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise RecommendError(f"EASE: the item Gram matrix could not be inverted (LAPACK {info})")
    inverse = np.triu(inverse) + np.triu(inverse, 1).T
    weights = inverse / -np.diag(inverse)[None, :]
    weights[np.diag_indices_from(weights)] = 0.0
    return weights


def fit_ease(
    name: str, options: Mapping[str, Any], pairs: pd.DataFrame, seed: int | None = None
) -> Any:
    """EASE with ``options`` (:func:`check_ease_options`) fitted to ``pairs``, as arrays of the
    ``item_similarity`` family (``algorithm`` ``EASE``; ``name`` is its key under
    ``algorithms``). ``seed`` is taken for the same call as the other models; EASE draws
    nothing."""
    from scipy.sparse import csr_matrix

    from personalab.recommend.arrays import ModelArrays

    settings = check_ease_options(name, options)
    check_pairs(pairs, name)
    X, user_ids, item_ids = user_item_matrix(pairs, np.float64)
    binary = X.copy()
    binary.data[:] = 1.0
    counts = np.asarray(binary.sum(axis=0)).ravel()
    n_items = len(item_ids)
    keep = np.sort(np.argsort(-counts, kind="stable")[: settings["max_items"]])
    weights = ease_weights(binary[:, keep], float(settings["l2"]))
    rows, cols = _strongest(weights, settings["neighbours"])
    sim = csr_matrix((weights[rows, cols], (keep[rows], keep[cols])), shape=(n_items, n_items))
    sim.sort_indices()
    arrays = seen_arrays(binary, user_ids, item_ids) | {
        "seen_data": binary.data.astype(np.float64),
        "sim_indptr": sim.indptr.astype(np.int64),
        "sim_indices": sim.indices.astype(np.int64),
        "sim_data": sim.data.astype(np.float64),
    }
    scalars = {
        "algorithm": EASE,
        "low": -np.inf,
        "high": np.inf,
        "options": settings,
        "items_modelled": int(keep.size),
        "seed": seed,
    }
    return ModelArrays(arrays, scalars)


def _strongest(weights: np.ndarray, n: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of each row's ``n`` largest non-zero weights by magnitude (ties: lower
    column); every non-zero weight when ``n`` is None or covers the row."""
    magnitude = np.abs(weights)
    if n is None or n >= weights.shape[1] - 1:
        return np.nonzero(magnitude > 0)
    from personalab.evaluation.topk import select_top

    order = select_top(magnitude, n)
    rows = np.repeat(np.arange(weights.shape[0]), n)
    cols = order.ravel()
    nonzero = magnitude[rows, cols] > 0
    return rows[nonzero], cols[nonzero]
