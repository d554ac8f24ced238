"""Tables that describe the stage's outcome: events per day, the funnel, session lengths, metrics."""

from __future__ import annotations

import pandas as pd

from personalab.core.status import StageStatus
from personalab.ingest.params import STAGE
from personalab.ingest.pipeline import IngestResult


def session_length_histogram(sessions: pd.DataFrame, max_events: int = 40) -> pd.DataFrame:
    clipped = sessions["n_events"].clip(upper=max_events)
    hist = clipped.value_counts().sort_index()
    return hist.rename("sessions").rename_axis("events_per_session").reset_index()


def summary_table(result: IngestResult) -> pd.DataFrame:
    """The stage's metrics as a table for display: counts as whole numbers (a column of one
    dtype would show ``84475.000000``), other numbers to 4 decimals."""
    values = {k: round(v, 4) if isinstance(v, float) else v for k, v in result.metrics.items()}
    return pd.DataFrame({"value": pd.Series(values, dtype=object)}).rename_axis("metric")


#: event types later stages build on, and what each gives them (the ingest status names the gaps)
USED_EVENTS = {
    "view": "viewing features and view-to-cart rates",
    "add_to_cart": "cart features and the cart_abandoner segment",
    "purchase": "purchase features and the default intent target",
    "rate": "explicit ratings for the recommender",
}


def ingest_status(result: IngestResult) -> StageStatus:
    """What ingest decided for this log (identity, how it was read) and which event types the
    later stages will miss, as the stage's :class:`StageStatus`."""
    status = StageStatus(STAGE)
    decision = result.profile.get("identity_decision") or {}
    if result.profile.get("identity") == "session":
        status.adapted(f"identity: sessions stand for users ({decision.get('reason', '')})")
    for note in result.notes:
        status.adapted(note)
    for warning in result.warnings:
        status.warn(warning)
    counts = result.profile.get("event_types", {})
    missing = [kind for kind in USED_EVENTS if not counts.get(kind)]
    if missing and result.profile.get("rows"):
        lacks = "; ".join(f"{kind} ({USED_EVENTS[kind]})" for kind in missing)
        status.adapted(
            f"the log has no event of type {lacks}: later stages leave out what needs them"
        )
    return status
