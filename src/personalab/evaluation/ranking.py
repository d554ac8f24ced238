"""Ranking evaluation: top-k accuracy, coverage and novelty of recommendations.

Every metric is a pure, vectorised function of DataFrames whose column names are
keyword arguments defaulting to :data:`USER_COL`, :data:`ITEM_COL`,
:data:`SCORE_COL` and :data:`RANK_COL`. Inputs are validated up front and a bad
input raises :class:`EvaluationError` naming the frame, the column or the value.

Conventions shared by the accuracy metrics (precision, recall, NDCG, MAP, hit rate):

* ``recommendations`` holds one row per recommended ``(user, item)``; a duplicate
  pair is an error. Its position is the ``rank`` column (integers from 1, unique
  within a user; gaps are allowed and kept) when that column is present, else it is
  derived from ``score``: highest score first, ties broken by ascending item id, so
  the result does not depend on row order. Only rows with rank <= ``k`` count.
* ``relevant`` holds the held-out ``(user, item)`` pairs; duplicate pairs count once.
* Relevance is binary and the mean is over the users that have at least one
  relevant item. Users who only appear in ``recommendations`` are left out; users
  with relevant items but no recommendations are kept and score 0.
* Precision always divides by ``k`` (even when a user got fewer than ``k``
  recommendations); recall, NDCG's ideal DCG and average precision use
  ``min(k, number of relevant items)`` or the number of relevant items as stated.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

import numpy as np
import pandas as pd

from personalab.evaluation._base import (
    ITEM_COL,
    RANK_COL,
    SCORE_COL,
    USER_COL,
    EvaluationError,
    _check_k,
    _pairs,
    _top_k,
)
from personalab.evaluation.coverage import catalogue_coverage, novelty


def _user_metrics(
    recommendations: pd.DataFrame,
    relevant: pd.DataFrame,
    k: int,
    *,
    user_col: str,
    item_col: str,
    score_col: str,
    rank_col: str,
) -> pd.DataFrame:
    """Per-user precision, recall, ndcg, ap and hit at ``k``, one row per user with relevant items."""
    top = _top_k(
        recommendations,
        k,
        user_col=user_col,
        item_col=item_col,
        score_col=score_col,
        rank_col=rank_col,
    )
    pairs = _pairs(relevant, "relevant", user_col, item_col)
    n_relevant = pairs.groupby(user_col, sort=False, observed=True).size()
    if n_relevant.empty:
        raise EvaluationError(
            "relevant has no rows: ranking metrics average over users with at least one "
            "relevant item, so there is nothing to average"
        )

    try:
        hits = top.merge(pairs, on=[user_col, item_col], how="inner")
    except ValueError as error:  # e.g. integer user ids in one frame, strings in the other
        raise EvaluationError(
            f"recommendations and relevant ids cannot be matched: {error}. Give "
            f"{user_col!r} and {item_col!r} the same dtype in both frames"
        ) from error
    hits = hits.sort_values(rank_col, kind="stable")
    ranks = hits[rank_col].to_numpy(dtype=np.float64)
    hits_so_far = hits.groupby(user_col, sort=False, observed=True).cumcount().to_numpy() + 1
    per_hit = pd.DataFrame(
        {
            user_col: hits[user_col].to_numpy(),
            "gain": 1.0 / np.log2(ranks + 1.0),
            "precision_at_hit": hits_so_far / ranks,
        }
    )
    per_user = (
        per_hit.groupby(user_col, sort=False, observed=True)
        .agg(
            n_hits=("gain", "size"),
            dcg=("gain", "sum"),
            precision_sum=("precision_at_hit", "sum"),
        )
        .reindex(n_relevant.index, fill_value=0)
    )

    n_rel = n_relevant.to_numpy(dtype=np.int64)
    n_hits = per_user["n_hits"].to_numpy(dtype=np.float64)
    denominator = np.minimum(n_rel, k)
    ideal = np.cumsum(1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64)))[denominator - 1]
    return pd.DataFrame(
        {
            "precision": n_hits / k,
            "recall": n_hits / n_rel,
            "ndcg": per_user["dcg"].to_numpy(dtype=np.float64) / ideal,
            "ap": per_user["precision_sum"].to_numpy(dtype=np.float64) / denominator,
            "hit": (n_hits > 0).astype(np.float64),
        },
        index=n_relevant.index,
    )


def _mean_metric(
    metric: str,
    recommendations: pd.DataFrame,
    relevant: pd.DataFrame,
    k: int,
    **cols: str,
) -> float:
    return float(_user_metrics(recommendations, relevant, k, **cols)[metric].mean())


def precision_at_k(
    recommendations: pd.DataFrame,
    relevant: pd.DataFrame,
    k: int,
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
    score_col: str = SCORE_COL,
    rank_col: str = RANK_COL,
) -> float:
    """Mean over users with >= 1 relevant item of |relevant items in top-k| / k.

    The divisor is always ``k``, even when the user has fewer than ``k`` relevant
    items or fewer than ``k`` recommendations. A user with relevant items and no
    recommendations scores 0; users without relevant items are not averaged.
    """
    cols = dict(user_col=user_col, item_col=item_col, score_col=score_col, rank_col=rank_col)
    return _mean_metric("precision", recommendations, relevant, k, **cols)


def recall_at_k(
    recommendations: pd.DataFrame,
    relevant: pd.DataFrame,
    k: int,
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
    score_col: str = SCORE_COL,
    rank_col: str = RANK_COL,
) -> float:
    """Mean over users with >= 1 relevant item of |relevant items in top-k| / |relevant items|.

    The divisor is the user's number of relevant items (so a user with 2 relevant
    items, both in the top-k, has recall 1 whatever ``k``). A user with relevant
    items and no recommendations scores 0; users without relevant items are not
    averaged.
    """
    cols = dict(user_col=user_col, item_col=item_col, score_col=score_col, rank_col=rank_col)
    return _mean_metric("recall", recommendations, relevant, k, **cols)


def ndcg_at_k(
    recommendations: pd.DataFrame,
    relevant: pd.DataFrame,
    k: int,
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
    score_col: str = SCORE_COL,
    rank_col: str = RANK_COL,
) -> float:
    """Mean over users with >= 1 relevant item of DCG@k / IDCG@k, binary relevance.

    ``DCG@k = sum over relevant items at rank r <= k of 1 / log2(r + 1)`` and
    ``IDCG@k = sum_{i=1..min(k, n_rel)} 1 / log2(i + 1)``, ``n_rel`` being the
    user's number of relevant items, so a perfect ranking scores 1. A user with
    relevant items and no recommendations scores 0; users without relevant items
    are not averaged.
    """
    cols = dict(user_col=user_col, item_col=item_col, score_col=score_col, rank_col=rank_col)
    return _mean_metric("ndcg", recommendations, relevant, k, **cols)


def map_at_k(
    recommendations: pd.DataFrame,
    relevant: pd.DataFrame,
    k: int,
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
    score_col: str = SCORE_COL,
    rank_col: str = RANK_COL,
) -> float:
    """Mean over users with >= 1 relevant item of average precision at k.

    ``AP@k = (sum over relevant items at rank r <= k of precision@r) / min(k, n_rel)``,
    where ``precision@r`` is the number of relevant items at ranks <= r divided by
    ``r`` and ``n_rel`` is the user's number of relevant items. A user with relevant
    items and no recommendations scores 0; users without relevant items are not
    averaged.
    """
    cols = dict(user_col=user_col, item_col=item_col, score_col=score_col, rank_col=rank_col)
    return _mean_metric("ap", recommendations, relevant, k, **cols)


def hit_rate_at_k(
    recommendations: pd.DataFrame,
    relevant: pd.DataFrame,
    k: int,
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
    score_col: str = SCORE_COL,
    rank_col: str = RANK_COL,
) -> float:
    """Share of users with >= 1 relevant item that have at least one relevant item in the top-k.

    A user with relevant items and no recommendations counts as a miss; users
    without relevant items are not counted.
    """
    cols = dict(user_col=user_col, item_col=item_col, score_col=score_col, rank_col=rank_col)
    return _mean_metric("hit", recommendations, relevant, k, **cols)


def ranking_report(
    recommendations: pd.DataFrame,
    relevant: pd.DataFrame,
    train: pd.DataFrame,
    k: int,
    catalogue: int | Iterable[Hashable],
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
    score_col: str = SCORE_COL,
    rank_col: str = RANK_COL,
) -> dict[str, float]:
    """All metrics at ``k`` as a flat dict of floats.

    Keys: ``precision_at_{k}``, ``recall_at_{k}``, ``ndcg_at_{k}``, ``map_at_{k}``,
    ``hit_rate_at_{k}`` (see those functions), ``coverage``
    (:func:`catalogue_coverage` of the top-k) and ``novelty`` (:func:`novelty` of the
    top-k against ``train``).
    """
    cols = dict(user_col=user_col, item_col=item_col, score_col=score_col, rank_col=rank_col)
    return ranking_figures(recommendations, relevant, train, k, catalogue, **cols)[0]


#: the per-user column each averaged metric is the mean of (:func:`ranking_figures`)
PER_USER = {"precision": "precision", "recall": "recall", "ndcg": "ndcg", "map": "ap",
            "hit_rate": "hit"}  # fmt: skip


def ranking_figures(
    recommendations: pd.DataFrame,
    relevant: pd.DataFrame,
    train: pd.DataFrame,
    k: int,
    catalogue: int | Iterable[Hashable],
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
    score_col: str = SCORE_COL,
    rank_col: str = RANK_COL,
) -> tuple[dict[str, float], pd.DataFrame]:
    """:func:`ranking_report`'s figures, and the per-user metrics they average (one row per user
    with a relevant item, the columns of :data:`PER_USER`), for paired comparisons."""
    cols = dict(user_col=user_col, item_col=item_col, score_col=score_col, rank_col=rank_col)
    k = _check_k(k)
    per_user = _user_metrics(recommendations, relevant, k, **cols)
    return {
        f"precision_at_{k}": float(per_user["precision"].mean()),
        f"recall_at_{k}": float(per_user["recall"].mean()),
        f"ndcg_at_{k}": float(per_user["ndcg"].mean()),
        f"map_at_{k}": float(per_user["ap"].mean()),
        f"hit_rate_at_{k}": float(per_user["hit"].mean()),
        "coverage": catalogue_coverage(recommendations, catalogue, k, **cols),
        "novelty": novelty(recommendations, train, k, **cols),
    }, per_user
