"""The baselines every algorithm is compared with: most popular (or trending) and random; and
the popularity recommender as arrays (the served model when no collaborative filter can be
learned)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from personalab.recommend.arrays import POPULARITY, ModelArrays
from personalab.recommend.params import BASELINES, RecommendError


def popularity(ratings: pd.DataFrame, window_days: float | None = None) -> pd.Series:
    """Share of users who interacted with each item, most popular first (ties by item id).

    With ``window_days`` (trending) only pairs whose latest event is within that
    many days of the newest one count; an empty window falls back to all pairs.
    """
    pairs = ratings
    if window_days is not None and "timestamp" in ratings and len(ratings):
        recent = ratings[
            ratings["timestamp"] >= ratings["timestamp"].max() - pd.Timedelta(days=window_days)
        ]
        pairs = recent if len(recent) else ratings
    users = max(pairs["user_id"].nunique(), 1)
    share = pairs.groupby("item_id", observed=True)["user_id"].nunique() / users
    frame = (
        share.rename("score")
        .reset_index()
        .sort_values(["score", "item_id"], ascending=[False, True], kind="stable")
    )
    return frame.set_index("item_id")["score"]


def popularity_arrays(ratings: pd.DataFrame, window_days: float | None = None) -> ModelArrays:
    """The popularity recommender as :class:`ModelArrays` (algorithm ``popularity``): every
    item's :func:`popularity` as its score for every user, each user's pairs in ``ratings`` as
    seen. Served, it ranks as :class:`BaselineModel` ``popularity`` fitted on ``ratings`` does."""
    if ratings.empty:
        raise RecommendError("the popularity recommender needs at least one user-item pair")
    users, user_ids = pd.factorize(ratings["user_id"], sort=False)
    item_ids = pd.Index(ratings["item_id"].drop_duplicates().sort_values())
    items = item_ids.get_indexer(ratings["item_id"])
    pairs = np.unique(np.stack([users, items]), axis=1)  # by user, then item; repeats once
    scores = popularity(ratings, window_days).reindex(item_ids, fill_value=0.0)
    return ModelArrays(
        {
            "user_ids": np.asarray(user_ids, dtype=object),
            "item_ids": item_ids.to_numpy(dtype=object),
            "seen_indptr": np.concatenate(
                [[0], np.cumsum(np.bincount(pairs[0], minlength=len(user_ids)))]
            ),
            "seen_indices": pairs[1].astype(np.int64),
            "item_scores": scores.to_numpy(dtype=float),
        },
        {"algorithm": POPULARITY, "low": 0.0, "high": 1.0, "window_days": window_days},
    )


class BaselineModel:
    """``popularity`` (or trending) and ``random`` rankings over the training items, seen excluded."""

    def __init__(
        self,
        kind: str,
        train: pd.DataFrame,
        seed: int = 0,
        window_days: float | None = None,
        block_size: int = 2048,
    ):
        from scipy.sparse import csr_array

        if kind not in BASELINES:
            raise RecommendError(f"unknown baseline {kind!r}; choose from {', '.join(BASELINES)}")
        self.kind, self.seed, self.block_size = kind, seed, block_size
        self.items = pd.Index(train["item_id"].drop_duplicates().sort_values())
        self.users = pd.Index(train["user_id"].drop_duplicates())
        rows = self.users.get_indexer(train["user_id"])
        cols = self.items.get_indexer(train["item_id"])
        shape = (len(self.users) + 1, len(self.items))  # the last row: users never seen
        self.seen = csr_array((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=shape)
        self.item_scores = (
            popularity(train, window_days).reindex(self.items, fill_value=0.0).to_numpy()
            if kind == "popularity"
            else None
        )

    def top_k(self, users: Sequence[Any], k: int, exclude_seen: bool = True) -> pd.DataFrame:
        from personalab.evaluation.topk import top_k_from_scores

        users = list(dict.fromkeys(users))
        rows = self.users.get_indexer(users)
        rows = np.where(rows < 0, len(self.users), rows)
        rng = np.random.default_rng(self.seed)
        parts = []
        for start in range(0, len(users), self.block_size):
            block = rows[start : start + self.block_size]
            if self.item_scores is None:
                scores = rng.random((block.size, len(self.items)))
            else:
                scores = np.tile(self.item_scores, (block.size, 1))
            parts.append(
                top_k_from_scores(
                    users[start : start + self.block_size],
                    self.items,
                    scores,
                    k,
                    exclude=self.seen[block] if exclude_seen else None,
                    block_size=self.block_size,
                )
            )
        return pd.concat(parts, ignore_index=True) if parts else _empty_top()


def _empty_top() -> pd.DataFrame:
    return pd.DataFrame(columns=["user_id", "item_id", "score", "rank"])
