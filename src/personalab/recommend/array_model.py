"""Top-k from a model's arrays: :class:`ArrayModel` ranks each known user's unseen items from
:class:`~personalab.recommend.arrays.ModelArrays`, scored by :mod:`personalab.recommend.scorers`
(so serving needs no pickled Surprise object). :class:`~personalab.recommend.served.Recommender`
adds the popularity fallback around it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from personalab.recommend.arrays import ModelArrays
from personalab.recommend.dense import DENSE_CELLS
from personalab.recommend.scorers import block_scorer


class ArrayModel:
    """A fitted model (:class:`ModelArrays`) answering each known user's top-k unseen items."""

    #: item-item scores filling less than this share of a block are ranked sparse (else dense)
    sparse_density = 1 / 16

    def __init__(self, model: ModelArrays, seed: int = 0, block_size: int = 2048):
        self.model, self.block_size = model, block_size
        self.users = pd.Index(model.arrays["user_ids"])
        self._user_position = {user: i for i, user in enumerate(self.users.tolist())}
        self.items = pd.Index(model.arrays["item_ids"])
        self.item_ids = self.items.to_numpy(dtype=object)
        self.item_order = np.argsort(self.items.to_numpy(), kind="stable")  # ties by item id
        self.item_position = np.empty_like(self.item_order)
        self.item_position[self.item_order] = np.arange(self.item_order.size)
        self.seen = model.seen()
        self.scorer = block_scorer(model, seed)
        self.low, self.high = float(model.scalars["low"]), float(model.scalars["high"])

    def inner(self, users: Sequence[Any]) -> np.ndarray:
        """Inner ids of raw user ids (-1: unknown)."""
        position = self._user_position
        return np.fromiter((position.get(user, -1) for user in users), np.int64, len(users))

    def seen_pairs(self, inner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position in ``inner``, item position) of every item each user has seen, read from
        the CSR arrays (slicing the matrix costs more than the look-up for a few users)."""
        indptr, indices = self.seen.indptr, self.seen.indices
        starts, counts = indptr[inner], indptr[inner + 1] - indptr[inner]
        rows = np.repeat(np.arange(inner.size), counts)
        offsets = np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)
        return rows, indices[np.repeat(starts, counts) + offsets].astype(np.int64)

    def scores(self, inner: np.ndarray) -> np.ndarray:
        """Clipped scores (users x items) of inner user ids, as Surprise's ``predict`` gives."""
        out = self.scorer(np.asarray(inner, dtype=np.int64))
        if np.isinf(self.low) and np.isinf(self.high):  # ranking scores: nothing to clip
            return out
        return np.clip(out, self.low, self.high, out=out)

    def top_k_arrays(self, inner: np.ndarray, k: int, exclude_seen: bool = True) -> tuple:
        """(row in ``inner``, item position, score, rank) of each known user's ``k`` best items.

        Ranked as :func:`personalab.evaluation.topk.top_k_from_scores` ranks (ties by item id),
        without its checks: the ids are the model's own, so each call costs only the scores.
        """
        from personalab.evaluation.topk import select_top, sparse_top_k

        parts = []
        k_eff = min(int(k), len(self.items))
        sparse = getattr(self.scorer, "sparse", None) if exclude_seen else None
        for start in range(0, inner.size if k_eff else 0, self.block_size):
            block = inner[start : start + self.block_size]
            dense_size = block.size * len(self.items)
            few = dense_size <= DENSE_CELLS  # scored densely, in the sparse product's floats
            product = sparse(block) if sparse is not None and not few else None
            if product is not None and product.nnz < self.sparse_density * dense_size:
                # item-item scores touching few items: ranked from the sparse product
                rows, cols, chosen, ranks = sparse_top_k(
                    product, self.seen[block], k_eff, self.item_position
                )
                parts.append((rows + start, cols, chosen, ranks))
                continue
            scores = self.scores(block) if product is None else product.toarray()
            if exclude_seen:
                scores[self.seen_pairs(block)] = -np.inf
            cols = select_top(scores, k_eff, self.item_order)
            chosen = np.take_along_axis(scores, cols, axis=1)
            keep = chosen > -np.inf
            rows = np.broadcast_to(np.arange(start, start + block.size)[:, None], cols.shape)
            ranks = np.broadcast_to(np.arange(1, k_eff + 1), cols.shape)
            parts.append((rows[keep], cols[keep], chosen[keep], ranks[keep]))
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0), empty
        return tuple(np.concatenate(column) for column in zip(*parts, strict=True))

    def top_k(self, users: Sequence[Any], k: int, exclude_seen: bool = True) -> pd.DataFrame:
        """Columns user_id, item_id, score, rank for the known ones of ``users`` (others skipped)."""
        inner = self.inner(list(users))
        inner = inner[inner >= 0]
        rows, cols, scores, ranks = self.top_k_arrays(inner, k, exclude_seen)
        return pd.DataFrame(
            {
                "user_id": self.users.take(inner[rows]),
                "item_id": self.items.take(cols),
                "score": scores,
                "rank": ranks.astype(np.int64),
            }
        )
