"""What the stage's overview shows, counted on the engine: events per UTC day and event type,
and the users reaching each funnel step."""

from __future__ import annotations

import ibis
import pandas as pd

from personalab.ingest.events import EVENT_TYPES

#: the funnel's steps, in order
FUNNEL_STEPS = ("view", "click", "add_to_cart", "purchase")
_DAY_NS = 86_400 * 10**9


def daily_counts(engine, events: ibis.Table) -> pd.DataFrame:
    """Events per UTC day and event type (long format: ``date`` as yyyy-mm-dd, ``event_type``,
    ``events``), by date then event type; ``events`` has ``ns`` (epoch ns) and ``event_type``."""
    offset = ((events.ns % _DAY_NS) + _DAY_NS) % _DAY_NS  # the time of day, also before 1970
    day = (events.ns - offset) // _DAY_NS
    counts = events.group_by(day=day, event_type=events.event_type).aggregate(events=events.count())
    out = engine.fetch(counts, order_by=["day", "event_type"])
    out["date"] = pd.to_datetime(out["day"].to_numpy(dtype="int64"), unit="D").strftime("%Y-%m-%d")
    out["event_type"] = pd.Categorical(out["event_type"].astype("str"), categories=EVENT_TYPES)
    out = out.sort_values(["day", "event_type"], kind="stable", ignore_index=True)
    return out[["date", "event_type", "events"]].astype({"events": "int64"})


def funnel_users(engine, events: ibis.Table) -> pd.DataFrame:
    """Users reaching each funnel step (:data:`FUNNEL_STEPS`): ``step``, ``users``."""
    steps = events.filter(events.event_type.isin(FUNNEL_STEPS))
    counts = steps.group_by("event_type").aggregate(users=steps.user_id.nunique())
    found = engine.fetch(counts).set_index("event_type")["users"]
    users = [int(found.get(step, 0)) for step in FUNNEL_STEPS]
    return pd.DataFrame({"step": list(FUNNEL_STEPS), "users": users})
