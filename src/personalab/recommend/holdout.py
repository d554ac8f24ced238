"""The held-out split: part of every user's interactions kept back to judge the top-k lists."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from personalab.recommend.params import HoldoutParams


@dataclass
class Holdout:
    """A per-user split of the interactions: the model learns ``train`` and is asked for ``relevant``."""

    train: pd.DataFrame
    test: pd.DataFrame
    relevant: pd.DataFrame  # the test pairs that count as relevant (user_id, item_id)
    explicit: bool = False  # ratings given by users (no negatives are sampled)
    exclude_seen: bool = True  # lists leave out each user's training items

    @property
    def users(self) -> list[Any]:
        """The users evaluated: those with at least one relevant held-out item."""
        return self.relevant["user_id"].drop_duplicates().tolist()

    @property
    def catalogue(self) -> list[Any]:
        return self.train["item_id"].drop_duplicates().tolist()


def split_holdout(
    ratings: pd.DataFrame, params: HoldoutParams, seed: int, explicit: bool = False
) -> Holdout:
    """Hold out part of every user's interactions; each user keeps at least one for training.

    ``random``: ``round(test_share * n)`` of a user's ``n`` pairs (at least one), those whose
    seeded hash of (user id, item id) is largest: the same ``seed`` holds out the same pairs
    whatever the row order, the feedback mode or the other columns. ``last_n``: the user's ``last_n`` latest pairs by time (ties
    by item id). Users with a single pair stay in training only. With
    ``relevant_min_rating`` only held-out pairs rated at least that count as relevant.
    """
    n = ratings.groupby("user_id", observed=True)["item_id"].transform("size").to_numpy()
    if params.kind == "random":
        n_test = np.clip(np.rint(params.test_share * n), 1, None)
        order = ratings.assign(_key=pair_keys(ratings, seed))
        order = order.sort_values(["user_id", "_key", "item_id"], kind="stable")
    else:
        n_test = np.full(len(ratings), params.last_n)
        order = ratings.sort_values(["user_id", "timestamp", "item_id"], kind="stable")
    n_test = pd.Series(np.minimum(n - 1, n_test), index=ratings.index)
    from_end = order.groupby("user_id", observed=True).cumcount(ascending=False)
    held = (from_end < n_test.loc[order.index]).reindex(ratings.index)
    train = ratings[~held].reset_index(drop=True)
    test = ratings[held].reset_index(drop=True)
    relevant = (
        test
        if params.relevant_min_rating is None
        else test[test["rating"] >= params.relevant_min_rating]
    )
    return Holdout(train, test, relevant[["user_id", "item_id"]].reset_index(drop=True), explicit)


def split_by_time(
    events: pd.DataFrame,
    pairs_of: Callable[[pd.DataFrame], pd.DataFrame],
    share: float,
    explicit: bool = False,
    exclude_seen: bool = True,
) -> tuple[Holdout, pd.DataFrame]:
    """Hold out the latest ``share`` of every user's item events (at least one; each user keeps
    at least one for training): the model learns the pairs ``pairs_of`` builds from the earlier
    events and is asked for the items of the later ones, repeats of items the user already had
    included (what a repurchase-heavy log is about). With ``exclude_seen`` the repeats cannot
    be recommended, so they are not relevant. Returns the holdout and the training events (to
    split again for validation). Row order and chance play no part (ties by item id)."""
    with_items = events[events["item_id"].notna()]
    ordered = with_items.sort_values(["user_id", "timestamp", "item_id"], kind="stable")
    n = ordered.groupby("user_id", observed=True)["item_id"].transform("size").to_numpy()
    n_test = np.minimum(n - 1, np.clip(np.rint(share * n), 1, None))
    from_end = ordered.groupby("user_id", observed=True).cumcount(ascending=False).to_numpy()
    held = from_end < n_test
    train_events = ordered[~held]
    train = pairs_of(train_events)
    later = ordered.loc[held, ["user_id", "item_id"]].drop_duplicates()
    later = later[
        later["user_id"].isin(train["user_id"].unique())
        & later["item_id"].isin(train["item_id"].unique())
    ]
    if exclude_seen:
        known = pd.MultiIndex.from_frame(train[["user_id", "item_id"]])
        later = later[~pd.MultiIndex.from_frame(later).isin(known)]
    test = later.reset_index(drop=True)
    return Holdout(train, test, test, explicit, exclude_seen), train_events


def pair_keys(ratings: pd.DataFrame, seed: int) -> np.ndarray:
    """A seeded 64-bit hash of each row's (user id, item id), as text: uniform, and the same for
    the same pair wherever it stands."""
    import hashlib

    key = hashlib.sha256(f"personalab-holdout-{seed}".encode()).hexdigest()[:16]
    pairs = pd.DataFrame(
        {
            "user_id": ratings["user_id"].astype(str).to_numpy(),
            "item_id": ratings["item_id"].astype(str).to_numpy(),
        }
    )
    return pd.util.hash_pandas_object(pairs, index=False, hash_key=key).to_numpy()
