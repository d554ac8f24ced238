"""Served requests of items: "given these items (oldest first), what comes next", answered by the
sessions' next-item model a recommender carries (:func:`personalab.recommend.stage.learn_next_item`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from personalab.recommend.arrays import ServingError


def requested_contexts(frame: pd.DataFrame) -> list[list[str]] | None:
    """Each row's ``items`` (a list of item ids, oldest first) as strings; None for a row
    without (None when the request has no ``items`` column)."""
    if "items" not in frame:
        return None
    out: list[Any] = []
    for row, value in enumerate(frame["items"].tolist()):
        if value is None or (np.ndim(value) == 0 and pd.isna(value)):
            out.append(None)
        elif isinstance(value, str) or np.ndim(value) != 1:
            raise ServingError(
                f"items in row {row} of the request must be a list of item ids, got {value!r}"
            )
        else:
            out.append([str(item) for item in value])
    return out


def next_item_answer(
    recommender: Any,
    frame: pd.DataFrame,
    contexts: Sequence[list[str] | None],
    with_items: Sequence[int],
    k: int,
) -> pd.DataFrame:
    """The labelled rows answering the request rows ``with_items`` (their ``contexts``): named by
    the row's ``user_id``, ``request:<row>`` without one; ``score_kind`` ``next_item_rules`` for
    the rules' items, ``session_share`` (and ``fallback``) for the popular items completing a
    list."""
    ids = frame["user_id"] if "user_id" in frame else pd.Series([None] * len(frame))
    names = [str(ids.iloc[i]) if pd.notna(ids.iloc[i]) else f"request:{i}" for i in with_items]
    answer = recommender.recommend_next([contexts[i] for i in with_items], k)
    rules = (answer["source"] == "rules").to_numpy()
    return pd.DataFrame(
        {
            "user_id": np.asarray(names, dtype=object)[answer["request"].to_numpy()],
            "rank": answer["rank"].astype(np.int64).to_numpy(),
            "item_id": answer["item_id"].astype(str).to_numpy(),
            "score": answer["score"].astype(float).to_numpy(),
            "fallback": ~rules,
            "score_kind": np.where(rules, "next_item_rules", "session_share").astype(object),
            "reason": np.where(
                rules,
                "items after the request's items (sequential rules of the sessions)",
                "the request's items have too few rules: the items most sessions hold",
            ).astype(object),
        }
    )
