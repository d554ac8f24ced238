"""What makes a synthetic log raw: bot users, and dirt at the rates of the config.

Dirt: re-sent duplicates (same ``event_id``, arriving later), late arrivals
(delivered hours after they happened), bot users (bursts of views about a second
apart with zero dwell) and malformed rows (bad timestamps, unknown event types,
negative prices, missing user ids).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from personalab.ingest.synth.config import MALFORMED_KINDS, SECONDS_PER_DAY, SynthConfig
from personalab.ingest.synth.drift import shifted_prices


def make_bots(
    config: SynthConfig, items: pd.DataFrame, rng: np.random.Generator, first_user: int
) -> dict:
    n = config.bot_users
    ids = np.array([f"u{first_user + k:06d}" for k in range(n)], dtype=object)
    bursts = rng.integers(2, 6, size=n)
    b_owner = np.repeat(np.arange(n), bursts)
    b_start = rng.uniform(0, config.n_days * SECONDS_PER_DAY - 3 * 3600, size=b_owner.size)
    b_len = rng.integers(150, 900, size=b_owner.size)
    e_burst = np.repeat(np.arange(b_owner.size), b_len)
    gaps = rng.uniform(0.3, 1.5, size=e_burst.size)
    first = np.cumsum(b_len) - b_len
    offset = np.cumsum(gaps) - gaps
    offset = offset - offset[first][e_burst]
    item = rng.integers(0, len(items), size=e_burst.size)
    time_s = b_start[e_burst] + offset
    price = shifted_prices(config, items["price"].to_numpy()[item], time_s)
    events = pd.DataFrame(
        {
            "user_id": ids[b_owner[e_burst]],
            "timestamp_s": time_s,
            "event_type": np.where(rng.random(e_burst.size) < 0.9, "view", "click").astype(object),
            "item_id": items["item_id"].to_numpy()[item],
            "category": items["category"].to_numpy()[item],
            "price": price,
            "quantity": np.nan,
            "rating": np.nan,
            "dwell_seconds": 0.0,
            "scroll_depth": np.nan,
            "device": "desktop",
            "channel": "direct",
        }
    )
    truth = pd.DataFrame(
        {
            "user_id": ids,
            "user_type": "bot",
            "is_bot": True,
            "intent_z": np.nan,
            "base_rate": 0.0,
            "purchase_prob": 0.0,
            "active_from": config.start_ts,
            "lapse_start": pd.NaT,
            "lapse_tau_days": np.nan,
            "favourite_category": None,
        }
    )
    truth["lapse_start"] = pd.to_datetime(truth["lapse_start"], utc=True)
    return {"events": events, "truth": truth}


def add_dirt(
    config: SynthConfig, events: pd.DataFrame, rng: np.random.Generator
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Order by arrival, re-send duplicates, deliver some late, corrupt some rows; format as raw."""
    n = len(events)
    arrival = events["timestamp_s"].to_numpy() + rng.uniform(0.0, 30.0, n)
    late = rng.random(n) < config.late_rate
    arrival = np.where(late, arrival + rng.uniform(2 * 3600, 48 * 3600, n), arrival)
    event_id = np.array([f"e{k:08d}" for k in range(n)], dtype=object)
    # re-sent duplicates: the same event (same id) arrives again a little later
    dup = np.flatnonzero(rng.random(n) < config.duplicate_rate)
    idx = np.concatenate([np.arange(n), dup])
    arrival = np.concatenate([arrival, arrival[dup] + rng.uniform(1.0, 600.0, dup.size)])
    raw = events.iloc[idx].reset_index(drop=True)
    raw.insert(0, "event_id", event_id[idx])
    order = np.argsort(arrival, kind="stable")
    raw = raw.iloc[order].reset_index(drop=True)
    start = config.start_ts.value // 1000  # microseconds
    micros = start + np.round(raw["timestamp_s"].to_numpy() * 1e6).astype(np.int64)
    stamps = np.datetime_as_string(micros.astype("datetime64[us]"), unit="ms") + "Z"
    raw = raw.drop(columns="timestamp_s")
    raw.insert(2, "timestamp", stamps.astype(object))
    # malformed rows, each broken in one of four ways
    bad = np.flatnonzero(rng.random(len(raw)) < config.malformed_rate)
    kinds = rng.integers(0, len(MALFORMED_KINDS), bad.size)
    ts = raw["timestamp"].to_numpy(dtype=object, copy=True)
    et = raw["event_type"].to_numpy(dtype=object, copy=True)
    uid = raw["user_id"].to_numpy(dtype=object, copy=True)
    pr = raw["price"].to_numpy(dtype=float, copy=True)
    rows = bad[kinds == 0]
    ts[rows] = np.where(rng.random(rows.size) < 0.5, "not-a-date", "2026-02-30T25:61:00Z")
    et[bad[kinds == 1]] = "hover"
    rows = bad[kinds == 2]
    pr[rows] = -np.where(np.isnan(pr[rows]), 9.99, np.abs(pr[rows]))
    uid[bad[kinds == 3]] = None
    raw["timestamp"], raw["event_type"], raw["user_id"], raw["price"] = ts, et, uid, pr
    counts = {
        "rows": len(raw),
        "duplicates": int(dup.size),
        "late_delivered": int(late.sum()),
        **{f"malformed_{k}": int((kinds == i).sum()) for i, k in enumerate(MALFORMED_KINDS)},
    }
    return raw, counts
