"""The recommender's hit rate over successive windows after it stopped learning.

The champion's recipe (its algorithm and options, :mod:`personalab.recommend.algorithms`) and the
popularity recommender both learn the interactions before the first window, the way the recommend
stage builds them, and are then asked, window after window, for the top-k of every user who
interacts with a known item in the window. A hit is a user with at least one of those items in
the list (items the user had before are left out of both when ``exclude_seen``). A recommender
that goes stale loses hit rate window after window while popularity, as stale, shows how much is
the log's own change.

The windows are fitted to the log: at most ``windows`` of them, as many as leave the recommender
at least half the log to learn from (a recipe learned on the first day of a 9-day log is not the
champion). Each window counts the users with a hit, so the figures can be tested: a drop from
the first window to the last (Fisher's exact test, the windows' users being different people)
and popularity hitting more often than the recipe in the last window (an exact McNemar test on
the same users' paired hits), by :func:`drop_pvalue` and :func:`beaten_pvalue`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from personalab.recommend.algorithms import fit_candidate
from personalab.recommend.holdout import Holdout
from personalab.recommend.learnable import learnable_interactions
from personalab.recommend.params import RecommendParams

COLUMNS = ["window", "start", "end", "users", "hits", "hit_rate", "popularity_hits",
           "popularity_hit_rate", "only_recipe_hit", "only_popularity_hit"]  # fmt: skip
#: the log the recommender learns from is at least this share of the log, windows aside
LEARN_SHARE = 0.5
#: the first ``STRAY_SHARE`` of events do not count as the log's start when they are spread
#: over longer than the rest (the features stage's rule, :func:`personalab.features.plan.fitting_start`)
STRAY_SHARE = 0.01


def log_end(last: pd.Timestamp, width: pd.Timedelta) -> pd.Timestamp:
    """Just after the last event, rounded up to the day (to the hour, the minute) when the
    window is a whole number of them, so the windows start at readable times."""
    for unit in ("D", "h", "min", "s"):
        if width % pd.Timedelta(1, unit) == pd.Timedelta(0):
            return (last + pd.Timedelta(1, "ns")).ceil(unit)
    return last + pd.Timedelta(1, "ns")


def bulk_start(times: pd.Series) -> pd.Timestamp:
    """Where the log's bulk starts: its first time, or after its first 1% when those are spread
    over longer than the rest (a sample's stray early events)."""
    first, last, bulk = times.min(), times.max(), times.quantile(STRAY_SHARE)
    return first if bulk - first <= last - bulk else bulk


def fitted_windows(span: pd.Timedelta, windows: int, width: pd.Timedelta) -> int:
    """How many windows of ``width`` (at most ``windows``) leave the recommender at least
    :data:`LEARN_SHARE` of a log of ``span`` to learn from."""
    return max(0, min(windows, int((1 - LEARN_SHARE) * span / width)))


def window_starts(end: pd.Timestamp, windows: int, width: pd.Timedelta) -> list[pd.Timestamp]:
    """The starts of ``windows`` windows of ``width`` that end at ``end``."""
    return [end - (windows - i) * width for i in range(windows)]


def one_time(events: pd.DataFrame) -> str | None:
    """Why no window can follow another when every item event has the same time (a log without
    times, given one as a constant), else None."""
    times = events.loc[events["item_id"].notna(), "timestamp"]
    if len(times) and times.min() == times.max():
        return (
            f"every item event has the same time ({times.min():%Y-%m-%d %H:%M}), so no window "
            "follows another: the hit rate over time cannot be measured on this log"
        )
    return None


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
    if (why := one_time(timed)) is not None:
        return pd.DataFrame(columns=COLUMNS), why
    end = log_end(timed["timestamp"].max(), width)
    span = end - bulk_start(timed["timestamp"])
    fitted = fitted_windows(span, windows, width)
    if fitted < 2:
        return pd.DataFrame(columns=COLUMNS), (
            f"the log ({duration(span)}) is too short for two windows of {duration(width)} after "
            f"the recommender learns at least {LEARN_SHARE:.0%} of it (set hit_rate.window_days "
            "shorter)"
        )
    starts = window_starts(end, fitted, width)
    learn = timed[timed["timestamp"] < starts[0]]
    interactions, why = learnable_interactions(learn, params)
    if why is not None and algorithm != "popularity":
        # the recipe would not be the champion's: the recommend stage serves popularity here
        return pd.DataFrame(columns=COLUMNS), (
            f"no collaborative filter can be learned before the first window "
            f"({starts[0]:%Y-%m-%d %H:%M}): {why}"
        )
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
        mine, theirs = user_hits(model, holdout, params.k), user_hits(popular, holdout, params.k)
        rows.append(
            {
                "window": i + 1,
                "start": start,
                "end": stop,
                "users": len(mine),
                "hits": int(mine.sum()),
                "hit_rate": float(mine.mean()) if len(mine) else np.nan,
                "popularity_hits": int(theirs.sum()),
                "popularity_hit_rate": float(theirs.mean()) if len(theirs) else np.nan,
                "only_recipe_hit": int((mine & ~theirs).sum()),
                "only_popularity_hit": int((theirs & ~mine).sum()),
            }  # fmt: skip
        )
    return pd.DataFrame(rows, columns=COLUMNS), None


def user_hits(fitted, holdout: Holdout, k: int) -> pd.Series:
    """Per user of ``holdout`` (in its order): whether the top-``k`` list holds a relevant item."""
    users = holdout.users
    if not users:
        return pd.Series(dtype=bool)
    recs = fitted.model.top_k(users, k, exclude_seen=holdout.exclude_seen)
    relevant = holdout.relevant[["user_id", "item_id"]].drop_duplicates()
    hit = recs[["user_id", "item_id"]].merge(relevant, on=["user_id", "item_id"])
    return pd.Series(users, dtype=object).isin(set(hit["user_id"])).set_axis(users)


def drop_pvalue(table: pd.DataFrame) -> float:
    """One-sided p-value of the last window's hit rate being below the first's (Fisher's exact
    test on hits and misses; NaN without two windows with users)."""
    from scipy.stats import fisher_exact

    rows = table[table["users"] > 0]
    if len(rows) < 2:
        return float("nan")
    first, last = rows.iloc[0], rows.iloc[-1]
    counts = [[first["hits"], first["users"] - first["hits"]],
              [last["hits"], last["users"] - last["hits"]]]  # fmt: skip
    return float(fisher_exact(counts, alternative="greater").pvalue)


def beaten_pvalue(table: pd.DataFrame) -> float:
    """One-sided p-value of popularity hitting more often than the recipe in the last window
    (exact McNemar: of the users only one of the two hit, how many were popularity's; NaN
    without users)."""
    from scipy.stats import binomtest

    rows = table[table["users"] > 0]
    if rows.empty:
        return float("nan")
    last = rows.iloc[-1]
    split = int(last["only_recipe_hit"] + last["only_popularity_hit"])
    if not split:
        return 1.0
    return float(binomtest(int(last["only_popularity_hit"]), split, 0.5, "greater").pvalue)


#: below this many users in a hit-rate window, the stage warns that its rate is noise
FEW_WINDOW_USERS = 30


def few_users(table: pd.DataFrame) -> str | None:
    """The warning when a window holds under :data:`FEW_WINDOW_USERS` users (else None)."""
    if int(table["users"].min()) >= FEW_WINDOW_USERS:
        return None
    counts = ", ".join(f"{n:,}" for n in table["users"])
    return (
        f"recommender hit rate: the windows hold {counts} users who come back with a known "
        f"item, fewer than {FEW_WINDOW_USERS} in one: its rates move by whole users, so read "
        "them with the tests' p-values, not alone"
    )


def hit_rate_drop(table: pd.DataFrame) -> float:
    """The last window's hit rate below the first's, relative (NaN without both)."""
    rates = table["hit_rate"].dropna()
    if len(rates) < 2 or not rates.iloc[0]:
        return float("nan")
    return float(1 - rates.iloc[-1] / rates.iloc[0])


def duration(width: pd.Timedelta, adjective: bool = False) -> str:
    """``2 days`` (``2-day`` as an adjective); ``6 hours`` below a day."""
    days = width / pd.Timedelta(days=1)
    number, unit = (days, "day") if days >= 1 else (days * 24, "hour")
    if adjective:
        return f"{number:.3g}-{unit}"
    return f"{number:.3g} {unit}{'s' if number != 1 else ''}"
