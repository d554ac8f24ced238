"""Requests by user id with a live visit, for ``benchmarks/serving.py``: known users of the
online store, each with a visit of the log's own items just after the store's end."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: the visit's shape: mostly views, with clicks, scrolls, and an item carted then bought (no
#: trigger fires on it: the personalised or trending lists are served)
KINDS = ("view", "view", "click", "view", "scroll")


def requests_by_id(paths, n: int, live_events: int, seed: int = 0) -> list[dict]:
    """``n`` requests ``{"user_id", "events"}``: users drawn from the log, ``live_events``
    events each (views with dwell and price, clicks, scrolls, an item carted and bought), one
    every 20 seconds from a minute after the log's end."""
    from personalab.online.store import FILE, OnlineStore

    store = OnlineStore(paths.models / "personalise" / "artifacts" / FILE)
    events = pd.read_parquet(
        paths.interim / "events.parquet", columns=["user_id", "item_id", "category", "price"]
    )
    rng = np.random.default_rng(seed)
    users = events["user_id"].astype(str).unique()
    items = events.dropna(subset=["item_id", "price"]).drop_duplicates("item_id")
    start = pd.Timestamp(store.as_of_ns, tz="UTC") + pd.Timedelta(minutes=1)
    out = []
    for user in rng.choice(users, size=n):
        picks = items.iloc[rng.integers(0, len(items), size=live_events)]
        visit = []
        for i, item in enumerate(picks.itertuples(index=False)):
            kind = KINDS[i % len(KINDS)]
            if i in (live_events - 5, live_events - 3):  # the same item, carted then bought
                kind, item = ("add_to_cart", "purchase")[i > live_events - 5], picks.iloc[-5]
            event = {
                "timestamp": (start + pd.Timedelta(seconds=20 * i)).isoformat(),
                "event_type": kind,
                "session_id": f"{user}-bench",
            }
            if kind == "scroll":
                event["scroll_depth"] = round(float(rng.uniform(0.2, 1.0)), 3)
            else:
                event |= {"item_id": str(item.item_id), "price": float(item.price)}
                if not pd.isna(item.category):
                    event["category"] = str(item.category)
            if kind == "view":
                event["dwell_seconds"] = round(float(rng.exponential(40.0)), 1)
            visit.append(event)
        out.append({"user_id": str(user), "events": visit})
    return out
