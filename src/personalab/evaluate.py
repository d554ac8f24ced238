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
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from personalab.errors import InputError

USER_COL = "user_id"
ITEM_COL = "item_id"
SCORE_COL = "score"
RANK_COL = "rank"
DEFAULT_BLOCK_SIZE = 4096


class EvaluationError(InputError, ValueError):
    """Recommendations, held-out items, scores or parameters cannot be evaluated as given."""


# --------------------------------------------------------------------------- validation


def _check_k(k: Any, name: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise EvaluationError(f"{name} must be an integer >= 1, got {k!r}")
    return int(k)


def _require_columns(frame: Any, columns: Iterable[str], name: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise EvaluationError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise EvaluationError(
            f"{name} has no column {', '.join(repr(c) for c in missing)} "
            f"(columns: {list(frame.columns)}); pass the right name as a keyword argument"
        )


def _require_no_nulls(frame: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    for col in columns:
        n_null = int(frame[col].isna().sum())
        if n_null:
            raise EvaluationError(f"{name} column {col!r} has {n_null} missing values")


def _pairs(frame: pd.DataFrame, name: str, user_col: str, item_col: str) -> pd.DataFrame:
    """The distinct ``(user, item)`` pairs of ``frame``, validated."""
    _require_columns(frame, [user_col, item_col], name)
    _require_no_nulls(frame, [user_col, item_col], name)
    return frame[[user_col, item_col]].drop_duplicates()


def _top_k(
    recommendations: pd.DataFrame,
    k: int,
    *,
    user_col: str,
    item_col: str,
    score_col: str,
    rank_col: str,
) -> pd.DataFrame:
    """Validated ``(user, item, rank)`` rows with rank <= ``k`` (int64 rank)."""
    k = _check_k(k)
    name = "recommendations"
    _require_columns(recommendations, [user_col, item_col], name)
    if rank_col not in recommendations.columns and score_col not in recommendations.columns:
        raise EvaluationError(
            f"{name} needs a rank column {rank_col!r} or a score column {score_col!r} "
            f"(columns: {list(recommendations.columns)})"
        )
    _require_no_nulls(recommendations, [user_col, item_col], name)
    duplicated = recommendations.duplicated([user_col, item_col])
    if duplicated.any():
        first = recommendations.loc[duplicated, [user_col, item_col]].iloc[0]
        raise EvaluationError(
            f"{name} has {int(duplicated.sum())} duplicate ({user_col}, {item_col}) rows, "
            f"e.g. ({first[user_col]!r}, {first[item_col]!r}); recommend each item once per user"
        )

    if rank_col in recommendations.columns:
        rank = recommendations[rank_col]
        if not pd.api.types.is_numeric_dtype(rank) or pd.api.types.is_bool_dtype(rank):
            raise EvaluationError(f"{name} column {rank_col!r} must be numeric, got {rank.dtype}")
        _require_no_nulls(recommendations, [rank_col], name)
        values = rank.to_numpy(dtype=np.float64)
        if (values < 1).any() or (values != np.floor(values)).any():
            raise EvaluationError(f"{name} column {rank_col!r} must hold integers >= 1")
        if recommendations.duplicated([user_col, rank_col]).any():
            raise EvaluationError(
                f"{name} has a user with two items at the same {rank_col!r}; "
                f"ranks must be unique within a user"
            )
        ranked = pd.DataFrame(
            {
                user_col: recommendations[user_col].to_numpy(),
                item_col: recommendations[item_col].to_numpy(),
                rank_col: values.astype(np.int64),
            }
        )
    else:
        score = recommendations[score_col]
        if not pd.api.types.is_numeric_dtype(score) or pd.api.types.is_bool_dtype(score):
            raise EvaluationError(f"{name} column {score_col!r} must be numeric, got {score.dtype}")
        _require_no_nulls(recommendations, [score_col], name)
        ordered = recommendations[[user_col, item_col, score_col]].sort_values(
            [score_col, item_col], ascending=[False, True]
        )
        ranks = ordered.groupby(user_col, sort=False, observed=True).cumcount() + 1
        ranked = pd.DataFrame(
            {
                user_col: ordered[user_col].to_numpy(),
                item_col: ordered[item_col].to_numpy(),
                rank_col: ranks.to_numpy(dtype=np.int64),
            }
        )
    return ranked.loc[ranked[rank_col] <= k].reset_index(drop=True)


# ------------------------------------------------------------------ accuracy metrics


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


# ------------------------------------------------------------- beyond-accuracy metrics


def _catalogue_items(catalogue: int | Iterable[Hashable]) -> int | pd.Index:
    if isinstance(catalogue, bool):
        raise EvaluationError(
            f"catalogue must be a number of items or a list of items, got {catalogue!r}"
        )
    if isinstance(catalogue, (int, np.integer)):
        if catalogue < 1:
            raise EvaluationError(f"catalogue size must be >= 1, got {catalogue}")
        return int(catalogue)
    if isinstance(catalogue, (str, bytes)) or not isinstance(catalogue, Iterable):
        raise EvaluationError(
            f"catalogue must be a number of items or a list of items, got {type(catalogue).__name__}"
        )
    items = pd.Index(list(catalogue) if not hasattr(catalogue, "__len__") else catalogue)
    items = items.drop_duplicates()
    if items.hasnans:
        raise EvaluationError("catalogue has missing item ids")
    if len(items) == 0:
        raise EvaluationError("catalogue is empty")
    return items


def catalogue_coverage(
    recommendations: pd.DataFrame,
    catalogue: int | Iterable[Hashable],
    k: int,
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
    score_col: str = SCORE_COL,
    rank_col: str = RANK_COL,
) -> float:
    """Distinct items recommended in any user's top-k / number of items in the catalogue.

    ``catalogue`` is either the catalogue size (an int; it must be at least the
    number of distinct recommended items) or the catalogue's item ids (duplicates
    count once), in which case recommended items outside it are not counted.
    """
    size_or_items = _catalogue_items(catalogue)
    top = _top_k(
        recommendations,
        k,
        user_col=user_col,
        item_col=item_col,
        score_col=score_col,
        rank_col=rank_col,
    )
    recommended = pd.Index(top[item_col].unique())
    if isinstance(size_or_items, int):
        if len(recommended) > size_or_items:
            raise EvaluationError(
                f"{len(recommended)} distinct items are recommended in the top-{k} but the "
                f"catalogue size is {size_or_items}; pass the full catalogue size or item list"
            )
        return len(recommended) / size_or_items
    return int(recommended.isin(size_or_items).sum()) / len(size_or_items)


def novelty(
    recommendations: pd.DataFrame,
    train: pd.DataFrame,
    k: int,
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
    score_col: str = SCORE_COL,
    rank_col: str = RANK_COL,
) -> float:
    """Mean self-information ``-log2 p(i)`` (bits) over all recommended top-k rows.

    ``p(i)`` is the share of distinct training users who interacted with item ``i``
    (repeated interactions of a user with an item count once). The mean is over
    every ``(user, item)`` row of the top-k lists pooled together, so an item
    recommended to many users weighs more. Items not in ``train`` get the maximum
    self-information an item in ``train`` can have, ``log2(number of training users)``
    (an item seen by exactly one user). Raises when there are no recommendations.
    """
    top = _top_k(
        recommendations,
        k,
        user_col=user_col,
        item_col=item_col,
        score_col=score_col,
        rank_col=rank_col,
    )
    pairs = _pairs(train, "train", user_col, item_col)
    n_users = pairs[user_col].nunique()
    if n_users == 0:
        raise EvaluationError("train has no rows: novelty needs training interactions")
    if top.empty:
        raise EvaluationError(f"recommendations has no rows in the top-{k}: novelty is undefined")
    users_per_item = pairs.groupby(item_col, sort=False, observed=True).size()
    information = np.log2(n_users / users_per_item.astype(np.float64))
    values = top[item_col].map(information).fillna(np.log2(n_users))
    return float(values.to_numpy(dtype=np.float64).mean())


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
    }


# ------------------------------------------------------------------- top-k from scores


def _exclusion(
    exclude: Any, users: pd.Index, items: pd.Index, user_col: str, item_col: str
) -> np.ndarray | sparse.csr_array | None:
    """``exclude`` as a boolean array or a CSR array of shape (users, items), or None."""
    shape = (len(users), len(items))
    if exclude is None:
        return None
    if isinstance(exclude, pd.DataFrame):
        pairs = _pairs(exclude, "exclude", user_col, item_col)
        rows = users.get_indexer(pairs[user_col])
        cols = items.get_indexer(pairs[item_col])
        known = (rows >= 0) & (cols >= 0)  # pairs of users or items not scored cannot be chosen
        rows, cols = rows[known], cols[known]
        data = np.ones(rows.size, dtype=np.int8)
        return sparse.csr_array((data, (rows, cols)), shape=shape)
    if sparse.issparse(exclude):
        if exclude.shape != shape:
            raise EvaluationError(
                f"exclude has shape {exclude.shape}, expected (users, items) = {shape}"
            )
        return sparse.csr_array(exclude)
    mask = np.asarray(exclude)
    if mask.dtype != np.bool_:
        raise EvaluationError(
            f"exclude must be a boolean mask, a sparse matrix or a DataFrame of "
            f"({user_col}, {item_col}) pairs, got an array of dtype {mask.dtype}"
        )
    if mask.shape != shape:
        raise EvaluationError(f"exclude has shape {mask.shape}, expected (users, items) = {shape}")
    return mask


def select_top(block: np.ndarray, k: int, item_order: np.ndarray | None = None) -> np.ndarray:
    """Column positions of each row's ``k`` largest values, best first.

    Ties are broken by ``item_order`` (the columns in ascending item id; default:
    column order). Only rows with more columns at their k-th value than fit are
    permuted, so the usual case costs one partition of the block.
    """
    n_cols = block.shape[1]
    if item_order is None:
        item_order = np.arange(n_cols)
    position = np.empty_like(item_order)
    position[item_order] = np.arange(n_cols)
    if k < n_cols:
        candidates = np.argpartition(block, n_cols - k, axis=1)[:, n_cols - k :]
        threshold = np.take_along_axis(block, candidates, axis=1).min(axis=1, keepdims=True)
        cols = np.take_along_axis(
            candidates, np.argsort(position[candidates], axis=1), axis=1
        )  # by item id
        ambiguous = np.flatnonzero((block >= threshold).sum(axis=1) > k)
        if ambiguous.size:  # more columns reach the threshold than fit: lowest item ids win
            sub, bar = block[ambiguous][:, item_order], threshold[ambiguous]
            above, tied = sub > bar, sub == bar
            need = k - above.sum(axis=1, keepdims=True)
            chosen = above | (tied & (np.cumsum(tied, axis=1) <= need))
            cols[ambiguous] = item_order[np.nonzero(chosen)[1].reshape(-1, k)]
    else:
        cols = np.broadcast_to(item_order, block.shape)
    values = np.take_along_axis(block, cols, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")  # cols ascend by item id: ties stay so
    return np.take_along_axis(cols, order, axis=1)


def top_k_from_scores(
    user_ids: Iterable[Hashable],
    item_ids: Iterable[Hashable],
    scores: np.ndarray,
    k: int,
    *,
    exclude: np.ndarray | sparse.sparray | sparse.spmatrix | pd.DataFrame | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
    score_col: str = SCORE_COL,
    rank_col: str = RANK_COL,
) -> pd.DataFrame:
    """Each user's ``k`` best items from a dense (users x items) score matrix, as long rows.

    Row ``u`` of ``scores`` belongs to ``user_ids[u]`` and column ``i`` to
    ``item_ids[i]`` (both unique). Scores must be finite. Items are ranked by score,
    highest first, ties broken by ascending item id (as the metrics derive ranks from
    scores). ``exclude`` marks (user, item) pairs never to recommend (e.g. seen in
    training): a boolean mask or sparse matrix shaped like ``scores`` (non-zero =
    excluded) or a DataFrame of pairs (pairs with unknown users or items are
    ignored). A user gets fewer than ``k`` rows when fewer items are left.

    Users are processed ``block_size`` at a time with ``np.argpartition``, so the
    working memory is a few copies of a ``block_size x items`` block; the result
    does not depend on ``block_size``. Returns columns (user, item, score, rank) with
    rank 1..k, sorted by the order of ``user_ids`` then rank.
    """
    k = _check_k(k)
    block_size = _check_k(block_size, "block_size")
    users = pd.Index(user_ids)
    items = pd.Index(item_ids)
    for index, name in ((users, "user_ids"), (items, "item_ids")):
        if index.has_duplicates:
            raise EvaluationError(
                f"{name} has duplicate ids, e.g. {index[index.duplicated()][0]!r}"
            )
        if index.hasnans:
            raise EvaluationError(f"{name} has missing ids")
    scores = np.asarray(scores)
    shape = (len(users), len(items))
    if scores.shape != shape:
        raise EvaluationError(
            f"scores has shape {scores.shape}, expected (len(user_ids), len(item_ids)) = {shape}"
        )
    if not np.issubdtype(scores.dtype, np.number) or np.issubdtype(
        scores.dtype, np.complexfloating
    ):
        raise EvaluationError(f"scores must be a real numeric array, got dtype {scores.dtype}")
    excluded = _exclusion(exclude, users, items, user_col, item_col)

    item_order = np.argsort(items.to_numpy(), kind="stable")  # columns by item id
    k_eff = min(k, len(items))
    user_pos, item_pos, values, ranks = [], [], [], []
    for start in range(0, len(users) if k_eff else 0, block_size):
        stop = min(start + block_size, len(users))
        block = np.array(scores[start:stop], dtype=np.float64)  # a copy to mark excluded pairs
        if not np.isfinite(block).all():
            raise EvaluationError(
                f"scores has NaN or infinite values in user rows {start}..{stop - 1}; "
                f"scores must be finite"
            )
        if isinstance(excluded, np.ndarray):
            block[excluded[start:stop]] = -np.inf
        elif excluded is not None:
            part = sparse.coo_array(excluded[start:stop])
            hit = part.data != 0
            block[part.row[hit], part.col[hit]] = -np.inf
        cols = select_top(block, k_eff, item_order)
        chosen = np.take_along_axis(block, cols, axis=1)
        keep = chosen > -np.inf
        rows = np.broadcast_to(np.arange(start, stop)[:, None], cols.shape)
        user_pos.append(rows[keep])
        item_pos.append(cols[keep])
        values.append(chosen[keep])
        ranks.append(np.broadcast_to(np.arange(1, k_eff + 1), cols.shape)[keep])

    def joined(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)

    return pd.DataFrame(
        {
            user_col: users.take(joined(user_pos, np.int64)),
            item_col: items.take(joined(item_pos, np.int64)),
            score_col: joined(values, np.float64),
            rank_col: joined(ranks, np.int64).astype(np.int64),
        }
    )
