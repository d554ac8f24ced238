"""The recommender's hit rate over successive windows after it stopped learning.

The champion's recipe (its algorithm and options, :mod:`personalab.recommend.algorithms`) and the
popularity recommender both learn the interactions before the first window, the way the recommend
stage builds them, and are then asked, window after window, for the top-k of every user who
interacts with a known item in the window. A hit is a user with at least one of those items in
the list (items the user had before are left out of both when ``exclude_seen``). A recommender
that goes stale loses hit rate window after window while popularity, as stale, shows how much is
the log's own change.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from personalab.recommend.algorithms import fit_candidate
from personalab.recommend.evaluate import evaluate_ranking
from personalab.recommend.holdout import Holdout
from personalab.recommend.learnable import learnable_interactions
from personalab.recommend.params import RecommendParams

COLUMNS = ["window", "start", "end", "users", "hit_rate", "popularity_hit_rate"]


def log_end(last: pd.Timestamp, width: pd.Timedelta) -> pd.Timestamp:
    """Just after the last event, rounded up to the day (to the hour, the minute) when the
    window is a whole number of them, so the windows start at readable times."""
    for unit in ("D", "h", "min", "s"):
        if width % pd.Timedelta(1, unit) == pd.Timedelta(0):
            return (last + pd.Timedelta(1, "ns")).ceil(unit)
    return last + pd.Timedelta(1, "ns")


def window_starts(end: pd.Timestamp, windows: int, width: pd.Timedelta) -> list[pd.Timestamp]:
    """The starts of ``windows`` windows of ``width`` that end at ``end``."""
    return [end - (windows - i) * width for i in range(windows)]


def hit_rate_windows(
    events: pd.DataFrame,
    params: RecommendParams,
    algorithm: str,
    options: dict[str, Any],
    windows: int,
    width: pd.Timedelta,
) -> tuple[pd.DataFrame, str | None]:
    """One row per window (:data:`COLUMNS`), and why nothing could be measured (else None)."""
    timed = events[events["item_id"].notna()]
    if timed.empty:
        return pd.DataFrame(columns=COLUMNS), "the log has no item events"
    end = log_end(timed["timestamp"].max(), width)
    starts = window_starts(end, windows, width)
    learn = timed[timed["timestamp"] < starts[0]]
    if learn.empty:
        return pd.DataFrame(columns=COLUMNS), (
            f"no item event before the first window ({starts[0]:%Y-%m-%d %H:%M}): the log is "
            f"shorter than {windows} windows of {_days(width)}"
        )
    interactions, _ = learnable_interactions(learn, params)
    train, explicit = interactions.ratings, interactions.explicit
    if train["item_id"].nunique() < 2:
        return pd.DataFrame(columns=COLUMNS), "fewer than two items to learn before the windows"
    model = fit_candidate(algorithm, options, train, params, explicit)
    popular = fit_candidate("popularity", {}, train, params, explicit)
    known_users, known_items = set(train["user_id"]), set(train["item_id"])
    seen = pd.MultiIndex.from_frame(train[["user_id", "item_id"]])
    counted = timed[timed["event_type"].isin(list(params.interactions.weights))]
    rows = []
    for i, start in enumerate(starts):
        stop = start + width
        inside = counted[(counted["timestamp"] >= start) & (counted["timestamp"] < stop)]
        pairs = inside[["user_id", "item_id"]].drop_duplicates()
        pairs = pairs[pairs["user_id"].isin(known_users) & pairs["item_id"].isin(known_items)]
        if params.exclude_seen:
            pairs = pairs[~pd.MultiIndex.from_frame(pairs).isin(seen)]
        pairs = pairs.reset_index(drop=True)
        holdout = Holdout(train, pairs, pairs, explicit, params.exclude_seen)
        key = f"hit_rate_at_{params.k}"
        both = (
            (
                evaluate_ranking(model, holdout, params.k)[key],
                evaluate_ranking(popular, holdout, params.k)[key],
            )
            if len(pairs)
            else (np.nan, np.nan)
        )
        rows.append(
            {
                "window": i + 1,
                "start": start,
                "end": stop,
                "users": int(pairs["user_id"].nunique()),
                "hit_rate": both[0],
                "popularity_hit_rate": both[1],
            }  # fmt: skip
        )
    return pd.DataFrame(rows, columns=COLUMNS), None


def hit_rate_drop(table: pd.DataFrame) -> float:
    """The last window's hit rate below the first's, relative (NaN without both)."""
    rates = table["hit_rate"].dropna()
    if len(rates) < 2 or not rates.iloc[0]:
        return float("nan")
    return float(1 - rates.iloc[-1] / rates.iloc[0])


def _days(width: pd.Timedelta) -> str:
    days = width / pd.Timedelta(days=1)
    return f"{days:g} day{'s' if days != 1 else ''}"
