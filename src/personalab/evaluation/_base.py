"""Shared pieces of the metrics: column names, the error, and up-front input checks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from personalab.core.errors import InputError

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
