"""Bots: per-user activity statistics and the rules that flag a user as a bot.

Bot rules (a user is a bot when any holds; defaults in ``BotRules``): more than
``max_events_per_minute`` events in one clock minute; more than
``max_events_per_day`` in one day; or at least ``min_views_for_dwell_rule`` views
with dwell recorded of which ``zero_dwell_share`` or more have zero dwell.

The rate rules count distinct moments, not rows: events of a user that share a timestamp
count once. A basket logged as one line per item (UCI Online Retail: a 40-item invoice
shares one minute) is one action, not 40; a bot's burst has a new timestamp per event.
(A log whose clock is coarser than the rule, e.g. whole minutes, cannot show more than one
moment a minute: the per-minute rule then never fires there, and the run says so:
:func:`rate_rule_notes`.)
"""

from __future__ import annotations

import ibis
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

MINUTE_NS, DAY_NS = 60 * 10**9, 86_400 * 10**9
RULES = ("events_per_minute", "events_per_day", "zero_dwell")


class BotRules(BaseModel):
    """Thresholds that mark a user as a bot (any rule suffices)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_events_per_minute: int = Field(40, ge=1)
    max_events_per_day: int = Field(5000, ge=1)
    zero_dwell_share: float = Field(0.9, gt=0, le=1)
    min_views_for_dwell_rule: int = Field(20, ge=1)


def rate_rule_notes(granularity_seconds: float | None, rules: BotRules, dwell: bool) -> list[str]:
    """A sentence for the run when the timestamps are too coarse for a rate rule to fire: a
    clock minute holds at most 60 / granularity distinct moments, a day 86,400 / granularity
    (a log of dates: one, so no rate rule can find a bot there). ``dwell``: the log has dwell
    times, so the zero-dwell rule is still checked (else no rule is left)."""
    if not granularity_seconds:
        return []
    rate_rules = [
        (f"{limit} events a {span}", seconds // granularity_seconds <= limit)
        for limit, span, seconds in (
            (rules.max_events_per_minute, "minute", 60),
            (rules.max_events_per_day, "day", 86_400),
        )
    ]
    blind = [name for name, cannot in rate_rules if cannot]
    if not blind:
        return []
    left = [f"the {name} rule" for name, cannot in rate_rules if not cannot]
    left += ["the zero-dwell rule"] if dwell else []
    those = "those rules" if len(blind) > 1 else "that rule"
    rest = (
        f" ({' and '.join(left)} still can)"
        if left
        else "; no view has a dwell time for the zero-dwell rule either, so no bot can be found"
    )
    return [
        f"bots: every timestamp is a whole multiple of {granularity_seconds:g} s, so no user can "
        f"show more than {' or '.join(blind)}: {those} cannot flag anyone in this log{rest}"
    ]


def bot_users(events: ibis.Table, rules: BotRules) -> ibis.Table:
    """The users a rule flags (an Ibis expression over ``user_id``, ``ns``, ``event_type``,
    ``dwell_seconds``): events, peak distinct timestamps in a clock minute and in a UTC day,
    views with dwell, zero-dwell share, and one boolean column per rule (:data:`RULES`)."""
    stats = user_stats(events)
    flagged = stats.mutate(
        events_per_minute=stats.peak_per_minute > rules.max_events_per_minute,
        events_per_day=stats.peak_per_day > rules.max_events_per_day,
        zero_dwell=(stats.views_with_dwell >= rules.min_views_for_dwell_rule)
        & (stats.zero_dwell_share >= rules.zero_dwell_share).fill_null(False),
    )
    return flagged.filter(flagged.events_per_minute | flagged.events_per_day | flagged.zero_dwell)


def user_stats(events: ibis.Table) -> ibis.Table:
    """Per user: events, peak distinct timestamps per clock minute and per UTC day, views with
    dwell recorded and the share of them with zero dwell (null without any)."""
    moments = events.select("user_id", "ns").distinct()  # a basket at one moment counts once

    def peak(bucket_ns: int, name: str) -> ibis.Table:
        runs = moments.group_by(moments.user_id, bucket=moments.ns // bucket_ns).agg(
            n=ibis._.count()
        )
        return runs.group_by("user_id").agg(**{name: runs.n.max()})

    with_dwell = (events.event_type == "view") & events.dwell_seconds.notnull()
    totals = events.group_by("user_id").agg(
        events=events.count(),
        views_with_dwell=with_dwell.cast("int64").sum(),
        _zero=(with_dwell & (events.dwell_seconds == 0)).cast("int64").sum(),
    )
    out = totals.join(peak(MINUTE_NS, "peak_per_minute"), "user_id").join(
        peak(DAY_NS, "peak_per_day"), "user_id"
    )
    share = ibis.ifelse(out.views_with_dwell > 0, out._zero / out.views_with_dwell, ibis.null())
    return out.select(
        "user_id",
        "events",
        "peak_per_minute",
        "peak_per_day",
        "views_with_dwell",
        zero_dwell_share=share.cast("float64"),
    )


def rules_text(flagged: pd.DataFrame) -> pd.DataFrame:
    """Fetched :func:`bot_users` rows with the rule columns folded into one ``rules`` text."""
    hits = flagged[list(RULES)].to_numpy(dtype=bool)
    text = [";".join(name for name, hit in zip(RULES, row, strict=True) if hit) for row in hits]
    out = flagged.drop(columns=list(RULES))
    out["rules"] = pd.Series(text, index=out.index, dtype="str")
    return out.reset_index(drop=True)
