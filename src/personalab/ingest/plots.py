"""Figures of the ingest stage (each returns a matplotlib Figure; nothing is shown or saved)."""

from __future__ import annotations

import pandas as pd

from personalab.ingest.pipeline import IngestResult
from personalab.ingest.report import session_length_histogram
from personalab.ingest.validation import summarise_reasons


def plot_overview(result: IngestResult):
    """A 2x2 overview of ``result``: events per day by type, session lengths, funnel,
    quarantine reasons."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    sessions, quarantine = result.sessions, result.quarantine
    daily = result.daily.pivot(index="date", columns="event_type", values="events").fillna(0)
    daily.index = pd.to_datetime(daily.index)
    daily.plot(ax=axes[0, 0], lw=1)
    axes[0, 0].set(title="Events per day by type", xlabel="", ylabel="events")
    axes[0, 0].legend(fontsize=7, ncol=2)
    hist = session_length_histogram(sessions)
    axes[0, 1].bar(hist["events_per_session"], hist["sessions"], color="tab:blue")
    axes[0, 1].set(
        title="Session length (last bar: 40+)", xlabel="events per session", ylabel="sessions"
    )
    funnel = result.funnel
    axes[1, 0].barh(funnel["step"][::-1], funnel["users"][::-1], color="tab:green")
    axes[1, 0].set(title="Users reaching each funnel step", xlabel="users")
    reasons = summarise_reasons(quarantine["reason"]) if len(quarantine) else pd.Series(dtype=int)
    if len(reasons):
        axes[1, 1].barh(reasons.index[::-1], reasons.to_numpy()[::-1], color="tab:red")
    axes[1, 1].set(title=f"Quarantined rows by rule ({len(quarantine)} rows)", xlabel="rows")
    fig.tight_layout()
    return fig
