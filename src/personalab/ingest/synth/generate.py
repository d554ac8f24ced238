"""One call that generates a whole log: items, taste, users, sessions, events, bots, dirt."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from personalab.ingest.synth.behaviour import make_events, make_sessions
from personalab.ingest.synth.config import SECONDS_PER_DAY, SynthConfig
from personalab.ingest.synth.dirt import add_dirt, make_bots
from personalab.ingest.synth.drift import drift_users
from personalab.ingest.synth.population import make_items, make_taste, make_users


@dataclass
class SyntheticLog:
    """A generated log: raw events (file order, dirt included), truth per user, items."""

    events: pd.DataFrame
    truth: pd.DataFrame
    items: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)


def generate_log(config: SynthConfig | None = None) -> SyntheticLog:
    """Generate a raw behavioural event log (see :mod:`personalab.ingest.synth` for the model)."""
    config = config or SynthConfig()
    rng = np.random.default_rng(config.seed)
    items = make_items(config, rng)
    taste = make_taste(items, rng)
    users = make_users(config, rng, taste)
    drift_users(config, users, rng)
    sessions = make_sessions(config, users, rng)
    clean = make_events(config, users, sessions, items, taste, rng)
    bots = make_bots(config, items, rng, first_user=config.n_users)
    events = pd.concat([clean, bots["events"]], ignore_index=True)
    # the log is an export of [start, end): activity spilling past either edge is cut
    inside = (events["timestamp_s"] >= 0) & (
        events["timestamp_s"] < config.n_days * SECONDS_PER_DAY
    )
    events = events.loc[inside].reset_index(drop=True)
    truth = pd.concat([users["truth"], bots["truth"]], ignore_index=True)
    events, counts = add_dirt(config, events, rng)
    counts["bot_events"] = len(bots["events"])
    counts["clean_events"] = len(clean)
    return SyntheticLog(events=events, truth=truth, items=items, counts=counts)
