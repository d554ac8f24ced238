"""Small hand-built frames the recommend tests share: event logs, ratings and a structured log."""

import numpy as np
import pandas as pd

T0 = pd.Timestamp("2026-01-01", tz="UTC")
N_USERS, N_ITEMS = 40, 30
TINY = {
    "algorithms": {"SVD": {"n_factors": 4, "n_epochs": 5}},
    "tuning": {"n_trials": 0},
    "interactions": {"min_user_interactions": 1, "min_item_interactions": 1},
}


def events(rows):
    """rows: (user, item, event_type, day[, rating])"""
    return pd.DataFrame(
        [(u, i, e, T0 + pd.Timedelta(days=d), r[0] if r else np.nan) for u, i, e, d, *r in rows],
        columns=["user_id", "item_id", "event_type", "timestamp", "rating"],
    )


def ratings(rows):
    """rows: (user, item, rating, day) -> a pairs frame like build_interactions gives (the
    strength: the rating)."""
    return pd.DataFrame(
        [(u, i, float(r), float(r), T0 + pd.Timedelta(days=d)) for u, i, r, d in rows],
        columns=["user_id", "item_id", "rating", "strength", "timestamp"],
    )


def structured_log(n_users=N_USERS, n_items=N_ITEMS, per_user=8, seed=0):
    """Users in two groups (even / odd), each mostly on its own half of the items, plus one
    stray item each; every pair is viewed, some clicked and some purchased, over 30 days."""
    rng = np.random.default_rng(seed)
    half = n_items // 2
    rows = []
    for u in range(n_users):
        own = np.arange(half) + (u % 2) * half
        picked = [*rng.choice(own, per_user - 1, replace=False), rng.integers(n_items)]
        for i in dict.fromkeys(int(i) for i in picked):
            user, item, day = f"u{u:02d}", f"i{i:02d}", float(rng.uniform(0, 30))
            rows.append((user, item, "view", day))
            if rng.random() < 0.5:
                rows.append((user, item, "click", day + 0.1))
            if rng.random() < 0.3:
                rows.append((user, item, "purchase", day + 0.2))
    return events(rows)


def pairs_of(frame):
    return set(zip(frame["user_id"], frame["item_id"], strict=True))
