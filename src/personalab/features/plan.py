"""What the stage will do for one log, decided before any feature is computed: the cut-offs and
horizon (``auto`` fitted to the log), the label, the features and rule segments the log
supports, and whether there is anything to build at all. Every decision is one line on the
stage's :class:`~personalab.core.status.StageStatus` (adapted, left out, warning, skipped).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from personalab.core.profile import LogProfile
from personalab.core.status import StageStatus
from personalab.features.cutoffs import (
    DEFAULT_STEP,
    CutoffPlan,
    duration_text,
    fit_cutoffs,
    span_text,
    top_categories,
)
from personalab.features.params import AUTO, FeaturesParams
from personalab.features.query import Events, on_engine
from personalab.features.schema import label_name
from personalab.features.support import Support, decide_support, profile_of

STAGE = "features"


@dataclass(frozen=True)
class FeaturesPlan:
    """Everything decided before computing (see the module docstring)."""

    params: FeaturesParams
    trend_days: float
    cutoff_plan: CutoffPlan | None = None
    devices: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    support: Support = field(default_factory=Support)
    skip_reason: str | None = None

    @property
    def target_event(self) -> str:
        return self.params.target_event

    @property
    def label(self) -> str:
        return label_name(self.params.target_event)

    @property
    def cutoffs(self) -> list[pd.Timestamp]:
        return self.cutoff_plan.cutoffs if self.cutoff_plan else []

    @property
    def dropped_cutoffs(self) -> list[pd.Timestamp]:
        return self.cutoff_plan.dropped if self.cutoff_plan else []

    @property
    def horizon_days(self) -> float | None:
        return self.cutoff_plan.horizon_days if self.cutoff_plan else None

    @property
    def priority(self) -> list[str]:
        """``segments.priority`` over the rule segments kept."""
        return [name for name in self.params.segments.priority if name in self.support.segments]


def full_plan(
    params: FeaturesParams | None = None, devices: list[str] = (), categories: list[str] = ()
) -> FeaturesPlan:
    """A plan that computes everything (a log with every event type and column), e.g. to call
    :func:`personalab.features.build.features_at` on a hand-built log."""
    params = params or FeaturesParams()
    trend = DEFAULT_STEP / pd.Timedelta(days=1) if params.trend_days == AUTO else params.trend_days
    support = Support(weights=dict(params.engagement_weights))
    return FeaturesPlan(params, trend, None, list(devices), list(categories), support)


def plan_features(
    events: pd.DataFrame | Events,
    params: FeaturesParams,
    profile: LogProfile | None = None,
    status: StageStatus | None = None,
) -> FeaturesPlan:
    """Decide what to build from ``events`` (a frame, or the events on an engine), saying each
    decision on ``status``. ``profile`` is the ingest stage's profile.json of them (None: computed
    from a frame; the events on an engine need it)."""
    status = status if status is not None else StageStatus(STAGE)
    if profile is None:
        if not isinstance(events, pd.DataFrame):
            raise ValueError("plan_features needs the log's profile for events on an engine")
        profile = profile_of(events)
    with on_engine(events) as on:
        return _plan(on, params, profile, status)


def _plan(
    events: Events, params: FeaturesParams, profile: LogProfile, status: StageStatus
) -> FeaturesPlan:
    default_trend = DEFAULT_STEP / pd.Timedelta(days=1)
    rows, log_start, last_time = events.span()
    if not rows:
        status.skip("the events table is empty: there is nobody to describe")
        return FeaturesPlan(params, default_trend, skip_reason=status.skip_reason)
    log_end = end_of_log(last_time, profile)
    automatic = params.cutoffs.every_days == AUTO and not params.cutoffs.dates
    bulk_start = fitting_start(events, log_start, log_end, status) if automatic else log_start
    cut = fit_cutoffs(bulk_start, log_end, params, profile.granularity_seconds)
    if not cut.cutoffs:
        status.skip(no_cutoff_reason(cut, log_start, last_time, params, profile))
        return FeaturesPlan(params, default_trend, cut, skip_reason=status.skip_reason)
    step = cut.step or DEFAULT_STEP
    trend = step / pd.Timedelta(days=1) if params.trend_days == AUTO else params.trend_days
    span = span_text(log_end - bulk_start)
    if cut.adapted:
        trend_note = (
            f"; activity_trend over {duration_text(step)}" if params.trend_days == AUTO else ""
        )
        status.adapted(
            f"the log spans {span} (timestamps to the {profile.granularity}): "
            f"{cut.describe()} ({len(cut.cutoffs)} cut-offs){trend_note}"
        )
    history = cut.cutoffs[-1] - log_start
    # devices seen before the last cut-off (no column exists only because of later events)
    devices = sorted(events.value_counts_before("device", cut.cutoffs[-1].value))
    categories = top_categories(events, cut.cutoffs[-1], params.category_shares)
    support = decide_support(profile, params, history, pd.Timedelta(days=trend))
    plan = FeaturesPlan(params, trend, cut, devices, categories, support)
    note_support(plan, status, history)
    note_target(plan, profile, status)
    return plan


#: automatic cut-offs fit the span of the events after this quantile: a few stray early events
#: (a sample's outliers) do not stretch the step the log is cut into
STRAY_SHARE = 0.01


def fitting_start(
    events: Events, first: pd.Timestamp, last: pd.Timestamp, status: StageStatus
) -> pd.Timestamp:
    """Where the log's bulk starts: its first event, or, when the first 1% of events are spread
    over more time than the rest of the log, the time after them (noted)."""
    bulk = events.time_quantile(STRAY_SHARE)
    if bulk - first <= last - bulk:
        return first
    strays = events.count_before(bulk.value)
    status.adapted(
        f"{strays:,} early events ({STRAY_SHARE:.0%}) are spread from {first:%Y-%m-%d %H:%M} to "
        f"{bulk:%Y-%m-%d %H:%M}, longer than the rest of the log ({span_text(last - bulk)}): "
        "automatic cut-offs are fitted to the rest (those events still count as history)"
    )
    return bulk


def note_support(plan: FeaturesPlan, status: StageStatus, history: pd.Timedelta) -> None:
    """The features and segments left out (one line per reason), the weights that dropped out,
    windows longer than the history."""
    support = plan.support
    by_reason: dict[str, list[str]] = {}
    for name, why in support.left_out.items():
        by_reason.setdefault(why, []).append(name)
    for why, names in by_reason.items():
        status.leave_out(", ".join(names), why)
    if support.dropped_weights and support.weights:
        status.adapted(
            f"engagement_score weighs {', '.join(support.weights)}; "
            f"{', '.join(support.dropped_weights)} (left out) drop out of engagement_weights"
        )
    long = [w for w in plan.params.windows_days if pd.Timedelta(days=w) >= history]
    if long:
        status.warn(
            f"windows_days {', '.join(map(str, long))} reach back past the start of the log at "
            f"every cut-off ({duration_text(history)} of history before the last): their "
            "window counts (sessions_<W>d, events_<W>d, ...) count the whole history"
        )


def note_target(plan: FeaturesPlan, profile: LogProfile, status: StageStatus) -> None:
    """A warning when the log has no ``target_event`` at all (the label is 0 everywhere)."""
    target = plan.target_event
    if target == "return" or profile.has(target):
        return
    present = ", ".join(profile.event_types) or "none"
    status.warn(
        f"the log has no {target} events: the label {plan.label} is 0 at every cut-off, so "
        f"the intent stage has nothing to learn; set target_event in params/features.yaml to "
        f"an event type the log has ({present}) or return"
    )


def end_of_log(last_time: pd.Timestamp, profile: LogProfile) -> pd.Timestamp:
    """Where the log ends: a timestamp stands for its whole tick, so a log of dates runs to the
    end of its last day (and the last cut-off's label window takes that day's events in)."""
    return last_time + pd.Timedelta(seconds=profile.granularity_seconds)


def no_cutoff_reason(
    cut: CutoffPlan,
    log_start: pd.Timestamp,
    last_time: pd.Timestamp,
    params: FeaturesParams,
    profile: LogProfile,
) -> str:
    """Why no cut-off fits: the log's span, the horizon tried, and the settings that were given."""
    given = [] if params.horizon_days == AUTO else ["horizon_days"]
    if params.cutoffs.dates:
        given.append("cutoffs.dates")
    else:
        given += [
            f"cutoffs.{key}"
            for key in ("every_days", "over_last_days")
            if getattr(params.cutoffs, key) != AUTO
        ]
    if last_time == log_start:  # a log without times: one constant stands for them all
        return (
            f"no cut-off fits: every event has the same time ({last_time}), so no cut-off has "
            "events before it and after it (the log's times say nothing of its order)"
        )
    horizon = f"a horizon of {duration_text(cut.horizon)}"
    tried = f"with {horizon}" if given else f"even with {horizon} (the shortest automatic step)"
    reason = (
        f"no cut-off fits: the log spans {span_text(end_of_log(last_time, profile) - log_start)} "
        f"({log_start} to {last_time}), timestamps to the {profile.granularity}; {tried} no cut-off has events "
        "before it and its horizon inside the log"
    )
    if given:
        reason += f"; {', '.join(given)} set in params/features.yaml (auto fits them to the log)"
    return reason
