"""Beyond-accuracy metrics of recommendation lists: catalogue coverage and novelty."""

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
    _pairs,
    _top_k,
)


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
