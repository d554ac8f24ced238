"""The features stage's definitions over a recent window: each cut-off's last ``window`` of events.

The features table describes each user's whole history before a cut-off, so a change in
behaviour reaches its lifetime columns (revenue, category shares, average order value) slowly,
and columns counted from the log's start (``days_since_first_event``) move at every cut-off
whatever happens. Drift is judged on the same columns computed from the events of the window
before each cut-off only: the features plan (:func:`personalab.features.plan.plan_features`:
the same columns kept and left out, the same categories and devices) on the events in
``[cutoff - window, cutoff)``. A user with no event in the window has no row.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from personalab.core.profile import LogProfile
from personalab.core.status import StageStatus
from personalab.features.build import fetch_tables, user_table
from personalab.features.params import FeaturesParams
from personalab.features.plan import plan_features
from personalab.features.query import Events


def recent_features(
    events: Events,
    params: FeaturesParams,
    profile: LogProfile,
    cutoffs: Sequence[pd.Timestamp],
    window: pd.Timedelta,
) -> pd.DataFrame:
    """One row per (cut-off, user with an event in the window before it): the features table's
    columns (without the label), on the engine the events are on."""
    plan = plan_features(events, params, profile, StageStatus("features"))
    if plan.skip_reason is not None or not cutoffs:
        return pd.DataFrame(columns=["user_id", "cutoff"])
    tables = {}
    for cutoff in cutoffs:
        since = (cutoff - window).value
        windowed = Events(events.engine, events.table.filter(events.table.ns >= since))
        tables[cutoff] = user_table(windowed, cutoff, plan)
    return fetch_tables(events, tables)
