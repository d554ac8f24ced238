"""Canonical event logs (the ingest stage's output) of every shape, from one tiny synthetic log,
for the online row's parity tests: what each public format can carry, as the ingest stage would
give it."""

from __future__ import annotations

import functools

import pandas as pd

from personalab.features.params import FeaturesParams
from personalab.features.plan import plan_features
from tests.shapes import clean_log

SHAPES = ("funnel", "ratings", "sessions", "purchase", "coarse", "short")


@functools.cache
def funnel() -> pd.DataFrame:
    events = clean_log(n_users=120, n_items=60, n_days=28, seed=11)
    events["session_id"] = events["user_id"] + "-s" + events.pop("session").astype(str)
    for name in ("category", "device", "channel"):
        events[name] = events[name].astype("category")
    return events


def shape(name: str) -> pd.DataFrame:
    """The log of one shape, in time order."""
    events = funnel().copy()
    if name == "ratings":  # MovieLens: ratings alone (each view becomes a rating)
        events = events[events["event_type"] == "view"].copy()
        events["event_type"] = "rate"
        events["rating"] = 1.0 + events["item_id"].str[-1].astype(int) % 5
        events[["dwell_seconds", "scroll_depth", "price"]] = float("nan")
    elif name == "sessions":  # YooChoose: sessions without users, each session a visitor
        events = events[events["event_type"].isin(["view", "click", "purchase"])]
        events["user_id"] = events["session_id"]
    elif name == "purchase":  # Online Retail: purchases to the minute
        events = events[events["event_type"] == "purchase"]
        events["timestamp"] = events["timestamp"].dt.floor("min")
    elif name == "coarse":  # dates only: every event of a day at midnight
        events["timestamp"] = events["timestamp"].dt.floor("D")
    elif name == "short":  # the whole funnel in six hours
        start, end = events["timestamp"].min(), events["timestamp"].max()
        squeeze = (end - start) / pd.Timedelta(hours=6)
        events["timestamp"] = start + (events["timestamp"] - start) / squeeze
        events["timestamp"] = events["timestamp"].dt.floor("us")
    return events.sort_values("timestamp", kind="stable").reset_index(drop=True)


def instants(events: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``S`` (three quarters into the log, off any round time) and ``T`` (half-way from ``S``
    to the end)."""
    times = events["timestamp"]
    as_of = times.quantile(0.75).floor("s") + pd.Timedelta(milliseconds=1234)
    return as_of, as_of + (times.max() - as_of) / 2


def store_of(past: pd.DataFrame, plan, as_of: pd.Timestamp, path):
    """The online store of ``past`` at ``as_of``, built on an in-memory DuckDB at ``path``."""
    from personalab.online.store import OnlineStore, store_of_frame

    store_of_frame(past, plan, as_of, path, 30 * 60 * 10**9)
    return OnlineStore(path)


def plan_for(events: pd.DataFrame, **params):
    return plan_features(events, FeaturesParams.from_mapping(params))
