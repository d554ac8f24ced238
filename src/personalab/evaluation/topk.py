"""Top-k selection from a score matrix: exclusions, ties by item id, blocks of users."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from personalab.evaluation._base import (
    DEFAULT_BLOCK_SIZE,
    ITEM_COL,
    RANK_COL,
    SCORE_COL,
    USER_COL,
    EvaluationError,
    _check_k,
    _pairs,
)


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
        # each row's k-th largest value by partitioning the negated block (NumPy's introselect
        # is several times faster this way round when many scores are equal); the columns
        # reaching it are the row's top k unless more than k tie there
        negated = np.negative(block)
        bar = np.partition(negated, k - 1, axis=1)[:, k - 1 : k]
        reach = negated <= bar
        exact = reach.sum(axis=1) == k
        cols = np.empty((block.shape[0], k), dtype=np.int64)
        if exact.any():
            cols[exact] = np.nonzero(reach[exact])[1].reshape(-1, k)
        ambiguous = np.flatnonzero(~exact)
        if ambiguous.size:  # more columns reach the k-th value than fit: lowest item ids win
            sub, threshold = negated[ambiguous], bar[ambiguous]
            # keys: -1 above the k-th value, the item-id position when tied, past the end below
            key = np.where(sub == threshold, position[None, :], n_cols)
            key[sub < threshold] = -1
            cols[ambiguous] = np.argpartition(key, k - 1, axis=1)[:, :k]
        cols = np.take_along_axis(cols, np.argsort(position[cols], axis=1), axis=1)  # by item id
    else:
        cols = np.broadcast_to(item_order, block.shape)
    values = np.take_along_axis(block, cols, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")  # cols ascend by item id: ties stay so
    return np.take_along_axis(cols, order, axis=1)


def sparse_top_k(scores, excluded, k: int, position: np.ndarray) -> tuple[np.ndarray, ...]:
    """(row, column, score, rank) of each row's ``k`` best columns of a sparse score matrix in
    which absent entries score 0 and the columns ``excluded`` holds (a sparse matrix of the same
    shape) are never chosen; ties by ``position`` (each column's rank in item-id order).

    The same lists :func:`select_top` gives on the dense matrix with the excluded entries at
    -inf (a row with fewer than ``k`` eligible columns gets them all), without building it: the
    stored positive scores are sorted, and a row they cannot fill takes its zero-score columns in
    item-id order, then its negative scores.
    """
    n_rows, n_cols = scores.shape
    banned_csr = excluded.tocsr()
    mask = banned_csr.astype(bool).astype(scores.dtype)
    stored = (scores - scores.multiply(mask)).tocoo()  # excluded entries become 0
    r, c, v = stored.row.astype(np.int64), stored.col.astype(np.int64), stored.data
    keep = v != 0
    r, c, v = r[keep], c[keep], v[keep]
    order = np.lexsort((position[c], -v, r))
    r, c, v = r[order], c[order], v[order]
    starts = np.searchsorted(r, np.arange(n_rows + 1))
    rank = np.arange(r.size) - starts[r]
    positive = v > 0
    n_positive = np.bincount(r[positive], minlength=n_rows)
    top = positive & (rank < k)
    parts = [(r[top], c[top], v[top], rank[top] + 1)]
    short = np.flatnonzero(n_positive < k)
    if short.size:
        by_id = np.argsort(position)
        for row in short:
            need, done = k - int(n_positive[row]), int(n_positive[row])
            mine = slice(starts[row], starts[row + 1])
            used = np.concatenate(
                [c[mine], banned_csr.indices[banned_csr.indptr[row] : banned_csr.indptr[row + 1]]]
            )
            window = by_id[: need + used.size]
            zeros = window[~np.isin(window, used)][:need]
            negative = ~positive[mine]
            fill_c = np.concatenate([zeros, c[mine][negative][: need - zeros.size]])
            fill_v = np.concatenate([np.zeros(zeros.size), v[mine][negative][: need - zeros.size]])
            ranks = np.arange(done + 1, done + 1 + fill_c.size)
            parts.append((np.full(fill_c.size, row), fill_c, fill_v, ranks))
    rows, cols, values, ranks = (np.concatenate(column) for column in zip(*parts, strict=True))
    final = np.lexsort((ranks, rows))
    return rows[final], cols[final], values[final], ranks[final]


def _checked_inputs(
    user_ids: Iterable[Hashable], item_ids: Iterable[Hashable], scores: np.ndarray
) -> tuple[pd.Index, pd.Index, np.ndarray]:
    """Unique, non-missing user and item ids, and a real score matrix of the matching shape."""
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
    return users, items, scores


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
    users, items, scores = _checked_inputs(user_ids, item_ids, scores)
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
