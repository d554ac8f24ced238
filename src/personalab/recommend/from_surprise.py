"""A fitted Surprise algorithm as arrays, and its vectorised scores and top-k.

:func:`model_arrays` copies a fitted Surprise algorithm into plain arrays
(:class:`~personalab.recommend.arrays.ModelArrays`); :mod:`personalab.recommend.scorers`
scores every item for blocks of users from them (a matrix product for factor models,
the similarity matrix for neighbourhood models, deviation and cluster tables for
SlopeOne and CoClustering), equal to Surprise's own ``predict`` (tested), including
its default (the global mean) where Surprise cannot predict. The served recommender
loads the same arrays, so serving needs no pickled Surprise object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from personalab.recommend.array_model import ArrayModel
from personalab.recommend.arrays import ModelArrays, family_of
from personalab.recommend.scorers import block_scorer


def trainset_arrays(trainset: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CSR of a Surprise trainset's ratings by inner user, in its order: (indptr, items, ratings, users)."""
    lengths = np.fromiter(
        (len(trainset.ur[u]) for u in range(trainset.n_users)),
        dtype=np.int64,
        count=trainset.n_users,
    )
    total = int(lengths.sum())
    pairs = np.fromiter(
        (pair for u in range(trainset.n_users) for pair in trainset.ur[u]),
        dtype=np.dtype((np.float64, 2)),
        count=total,
    ).reshape(total, 2)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    users = np.repeat(np.arange(trainset.n_users), lengths)
    return indptr, pairs[:, 0].astype(np.int64), pairs[:, 1].copy(), users


def rated_pairs(trainset: Any) -> tuple[np.ndarray, np.ndarray]:
    """Inner (user, item) ids of every rating in a Surprise trainset, as two arrays."""
    _, items, _, users = trainset_arrays(trainset)
    return users, items


def factor_terms(algo: Any, users: np.ndarray, items: np.ndarray) -> dict[str, Any]:
    """P, Q, bu, bi and the offset of a fitted factor model: ``offset + bu[u] + bi[i] + Q[i] . P[u]``.

    ``users``/``items`` are the trainset's rated pairs (SVDpp's implicit term needs them).
    """
    name = type(algo).__name__
    trainset = algo.trainset
    mu = float(trainset.global_mean)
    n_users, n_items = trainset.n_users, trainset.n_items
    if name == "BaselineOnly":
        bu, bi = np.asarray(algo.bu), np.asarray(algo.bi)
        return {
            "P": np.zeros((n_users, 0)),
            "Q": np.zeros((n_items, 0)),
            "bu": bu,
            "bi": bi,
            "offset": mu,
        }
    P, Q = np.asarray(algo.pu), np.asarray(algo.qi)
    if name == "SVDpp":
        from scipy.sparse import csr_matrix

        # implicit feedback: P[u] + |N(u)|^-1/2 * sum of y_j over the items u rated, as one sparse product
        per_user = np.bincount(users, minlength=n_users)
        norm = 1.0 / np.sqrt(per_user[users])
        P = P + csr_matrix((norm, (users, items)), shape=(n_users, n_items)) @ np.asarray(algo.yj)
    if name == "SVDpp" or algo.biased:
        return {"P": P, "Q": Q, "bu": np.asarray(algo.bu), "bi": np.asarray(algo.bi), "offset": mu}
    return {"P": P, "Q": Q, "bu": np.zeros(n_users), "bi": np.zeros(n_items), "offset": 0.0}


def model_arrays(algo: Any, seen_min_rating: float | None = None) -> ModelArrays:
    """Everything a fitted Surprise algorithm scores with, as arrays (:class:`ModelArrays`).

    The seen pairs (never recommended) are the trainset's pairs rated at least
    ``seen_min_rating`` (all of them when None), so sampled negatives are not "seen".
    """
    name = type(algo).__name__
    family = family_of(name)
    ts = algo.trainset
    indptr, items, ratings, users = trainset_arrays(ts)
    keep = slice(None) if seen_min_rating is None else ratings >= seen_min_rating
    seen_users, seen_items = users[keep], items[keep]
    low, high = ts.rating_scale
    arrays: dict[str, np.ndarray] = {
        "user_ids": np.asarray([ts.to_raw_uid(u) for u in range(ts.n_users)]),
        "item_ids": np.asarray([ts.to_raw_iid(i) for i in range(ts.n_items)]),
        "seen_indptr": np.concatenate(
            [[0], np.cumsum(np.bincount(seen_users, minlength=ts.n_users))]
        ),
        "seen_indices": seen_items,
    }
    scalars: dict[str, Any] = {"algorithm": name, "low": float(low), "high": float(high)}
    mu = float(ts.global_mean)
    if family in ("knn", "slope_one"):
        arrays |= {"ur_indptr": indptr, "ur_items": items, "ur_ratings": ratings}
    if family == "factors":
        terms = factor_terms(algo, users, items)
        scalars["offset"] = float(terms.pop("offset"))
        arrays |= terms
    elif family == "knn":
        knn_scalars, knn_arrays = _knn_arrays(algo, mu)
        scalars |= knn_scalars
        arrays |= knn_arrays
    elif family == "slope_one":
        arrays |= {
            "dev": np.asarray(algo.dev),
            "freq": np.asarray(algo.freq),
            "user_mean": np.asarray(algo.user_mean, dtype=float),
        }
    elif family == "co_clustering":
        arrays |= {
            key: np.asarray(getattr(algo, key))
            for key in (
                "cltr_u",
                "cltr_i",
                "user_mean",
                "item_mean",
                "avg_cltr_u",
                "avg_cltr_i",
                "avg_cocltr",
            )
        }
    else:
        scalars |= {"mu": mu, "sigma": float(algo.sigma)}
    return ModelArrays(arrays, scalars)


def _knn_arrays(algo: Any, mu: float) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A fitted KNN model's settings and arrays: similarities, the means, sigmas or baselines
    its estimates start from, and (user-based) the raters of every item."""
    ts = algo.trainset
    user_based = bool(algo.sim_options.get("user_based", True))
    scalars = {"k": int(algo.k), "min_k": int(algo.min_k), "user_based": user_based, "mu": mu}
    arrays = {
        "sim": np.asarray(algo.sim),
        "means": np.asarray(getattr(algo, "means", np.zeros(1)), dtype=float),
        "sigmas": np.asarray(getattr(algo, "sigmas", np.ones(1)), dtype=float),
        "bu": np.asarray(getattr(algo, "bu", np.zeros(ts.n_users)), dtype=float),
        "bi": np.asarray(getattr(algo, "bi", np.zeros(ts.n_items)), dtype=float),
    }
    if user_based:  # raters of every item in the trainset's order
        lengths = np.array([len(ts.ir[i]) for i in range(ts.n_items)], dtype=np.int64)
        raters = np.fromiter(
            (pair for i in range(ts.n_items) for pair in ts.ir[i]),
            dtype=np.dtype((np.float64, 2)),
            count=int(lengths.sum()),
        ).reshape(-1, 2)
        arrays |= {
            "ir_item": np.repeat(np.arange(ts.n_items), lengths),
            "ir_user": raters[:, 0].astype(np.int64),
            "ir_rating": raters[:, 1].copy(),
        }
    return scalars, arrays


def make_scorer(algo: Any, seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """A function from inner user ids to their (unclipped) scores of every item, for a fitted model."""
    return block_scorer(model_arrays(algo), seed)


def score_blocks(
    algo: Any,
    inner_users: np.ndarray | None = None,
    block_size: int = 4096,
    clip: bool = True,
    seed: int = 0,
    scorer: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (inner user ids, scores users x items) in blocks: Surprise's estimates, vectorised.

    ``scorer`` is a :func:`make_scorer` result to reuse (built here when not given).
    """
    low, high = algo.trainset.rating_scale
    users = np.arange(algo.trainset.n_users) if inner_users is None else np.asarray(inner_users)
    block_scores = scorer or make_scorer(algo, seed)
    for start in range(0, users.size, block_size):
        block = users[start : start + block_size]
        scores = block_scores(block)
        yield block, np.clip(scores, low, high, out=scores) if clip else scores


def seen_matrix(trainset: Any, min_rating: float | None = None) -> Any:
    """CSR (users x items) of the pairs each user rated in training (inner ids).

    With ``min_rating`` only pairs rated at least that (not sampled negatives) count.
    """
    from scipy import sparse

    _, items, ratings, users = trainset_arrays(trainset)
    if min_rating is not None:
        users, items = users[ratings >= min_rating], items[ratings >= min_rating]
    data = np.ones(users.size, dtype=np.int8)
    return sparse.csr_array((data, (users, items)), shape=(trainset.n_users, trainset.n_items))


def recommend_top_k(
    algo: Any,
    k: int,
    users: list[Any] | None = None,
    exclude_seen: bool = True,
    block_size: int = 4096,
    *,
    seed: int = 0,
    seen_min_rating: float | None = None,
) -> pd.DataFrame:
    """Each known user's ``k`` best unseen items (user_id, item_id, score, rank), in user blocks.

    ``users`` are raw ids (default: every user of the trainset; unknown ones are
    skipped). Scores come from the model's arrays (:mod:`personalab.recommend.scorers`), so no
    Python loop runs over user-item pairs and memory stays at a few
    ``block_size x items`` arrays.
    """
    model = ArrayModel(model_arrays(algo, seen_min_rating), seed, block_size)
    chosen = model.users if users is None else users
    return model.top_k(list(chosen), k, exclude_seen=exclude_seen)
