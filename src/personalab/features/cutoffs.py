"""Where the cut-offs go, the label at each, and the categories that get a share column.

For each cut-off ``T`` every feature uses only events with ``timestamp < T``; the label is 1
when the user has a ``target_event`` (``return``: any event) in ``[T, T + horizon)``.
Cut-offs whose horizon runs past the end of the log, or with no event before them, are
dropped (never labelled negative); a periodic cut-off also needs half a step of history
(:data:`MIN_HISTORY_STEPS`), so the first one does not describe users by their first hours.

Periodic cut-offs: the last is the latest time, rounded down to the step's unit (midnight for
steps of days, the hour, the minute), whose horizon still ends inside the log; earlier ones
follow every ``every``, over the last ``over``. ``auto`` settings are fitted to the log: the
longest step of :data:`AUTO_STEPS` (7 days first: the horizon, the spacing, and three times it
as ``over``, so four cut-offs) that is a whole number of the log's timestamp granularity and
keeps at least :data:`MIN_CUTOFFS` cut-offs. A log of a few months keeps the 7-day defaults;
a 10-day log gets 2 days; a 6-hour log 1 hour. Explicit settings always win.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from personalab.features.params import AUTO, FeaturesParams
from personalab.features.query import Events, on_engine
from personalab.features.schema import category_share_column

#: the steps ``auto`` tries, longest first (7 days is the default on a long enough log)
AUTO_STEPS = tuple(
    pd.Timedelta(step)
    for step in ("7D", "3D", "2D", "1D", "12h", "6h", "3h", "2h", "1h", "30min", "15min",
                 "10min", "5min", "2min", "1min")
)  # fmt: skip
DEFAULT_STEP = AUTO_STEPS[0]
#: an automatic placement keeps the longest step that gives at least this many cut-offs
#: (a temporal train/validation/test split needs three)
MIN_CUTOFFS = 3
#: cut-offs of an automatic placement when the log allows: every step over three steps
AUTO_CUTOFFS = 4
#: a periodic cut-off needs at least this many steps of log before it: features over a sliver of
#: history (a cut-off a few hours after the log starts, e.g. Taobao's at 2017-11-25 with 8 hours
#: before it) describe users by their first hours and make that cut-off unlike the others
MIN_HISTORY_STEPS = 0.5
#: rounding units of the last cut-off, coarsest first (pandas frequency, name)
UNITS = ((pd.Timedelta("1D"), "D", "day"), (pd.Timedelta("1h"), "h", "hour"),
         (pd.Timedelta("1min"), "min", "minute"), (pd.Timedelta("1s"), "s", "second"))  # fmt: skip


@dataclass(frozen=True)
class CutoffPlan:
    """The cut-offs kept and dropped, the horizon, and how they were placed."""

    cutoffs: list[pd.Timestamp]
    dropped: list[pd.Timestamp]
    horizon: pd.Timedelta
    every: pd.Timedelta | None  # None with explicit dates
    over: pd.Timedelta | None
    unit: str  # the last cut-off is rounded down to this unit ("day", "hour", ...)
    step: pd.Timedelta | None  # the automatic step chosen; None when nothing was auto

    @property
    def horizon_days(self) -> float:
        return self.horizon / pd.Timedelta(days=1)

    @property
    def adapted(self) -> bool:
        """True when an ``auto`` setting took a step other than the 7-day default."""
        return self.step is not None and self.step != DEFAULT_STEP

    def describe(self) -> str:
        """``horizon 1 hour, cut-offs every hour over the last 3 hours, rounded to the hour``."""
        if self.every is None:
            where = "at the dates given"
        else:
            where = (
                f"cut-offs every {every_text(self.every)} over the last {duration_text(self.over)}"
            )
            where += f", the last rounded down to the {self.unit}"
        return f"horizon {duration_text(self.horizon)}, {where}"


def fit_cutoffs(
    log_start: pd.Timestamp,
    log_end: pd.Timestamp,
    params: FeaturesParams,
    granularity_seconds: float = 1.0,
) -> CutoffPlan:
    """The cut-offs for a log from ``log_start`` to ``log_end``, with ``auto`` settings fitted.

    Tries each automatic step that is a whole number of ``granularity_seconds`` (a day-granular
    log gets whole days), longest first, and keeps the first that gives at least
    ``MIN_CUTOFFS`` cut-offs (or every cut-off asked for, when fewer are asked; with explicit
    ``dates`` and an ``auto`` horizon: at least one date); else the step with the most. The
    plan may hold no cut-off: the caller says why.
    """
    settings = (params.horizon_days, params.cutoffs.every_days, params.cutoffs.over_last_days)
    dates = params.cutoffs.dates
    auto = params.horizon_days == AUTO or (not dates and AUTO in settings[1:])
    steps = automatic_steps(granularity_seconds) if auto else [None]
    best: CutoffPlan | None = None
    for step in steps:
        plan = _plan_for_step(log_start, log_end, params, step)
        wanted = 1 if dates else min(len(plan.cutoffs) + len(plan.dropped), MIN_CUTOFFS)
        if len(plan.cutoffs) >= wanted:
            return plan
        if best is None or not best.cutoffs or len(plan.cutoffs) > len(best.cutoffs):
            best = plan  # with none at all: the shortest step tried (named by the skip reason)
    return best


def automatic_steps(granularity_seconds: float) -> list[pd.Timedelta]:
    """The steps of :data:`AUTO_STEPS` that are whole numbers of the log's granularity."""
    grain = pd.Timedelta(seconds=max(float(granularity_seconds or 1.0), 1e-9))
    steps = [s for s in AUTO_STEPS if s >= grain and s % grain == pd.Timedelta(0)]
    return steps or [max(AUTO_STEPS[0], grain)]


def _plan_for_step(
    log_start: pd.Timestamp,
    log_end: pd.Timestamp,
    params: FeaturesParams,
    step: pd.Timedelta | None,
) -> CutoffPlan:
    horizon = _days(params.horizon_days, step)
    if params.cutoffs.dates:
        dates = [_utc(pd.Timestamp(d)) for d in params.cutoffs.dates]
        kept, dropped = keep_fitting(dates, log_start, log_end, horizon)
        return CutoffPlan(kept, dropped, horizon, None, None, "day", step)
    every = _days(params.cutoffs.every_days, step)
    over_days = params.cutoffs.over_last_days
    over = (AUTO_CUTOFFS - 1) * every if over_days == AUTO else pd.Timedelta(days=over_days)
    freq, unit = rounding_unit(every)
    kept, dropped = place_cutoffs(log_start, log_end, every, over, horizon, freq)
    return CutoffPlan(kept, dropped, horizon, every, over, unit, step)


def _days(value: float | str, step: pd.Timedelta | None) -> pd.Timedelta:
    return (step or DEFAULT_STEP) if value == AUTO else pd.Timedelta(days=value)


def rounding_unit(every: pd.Timedelta) -> tuple[str | None, str]:
    """The coarsest unit (pandas frequency, name) no longer than ``every``: a 7-day step rounds
    to midnight, a 12-hour one to the hour; None (no rounding) below a second."""
    for length, freq, name in UNITS:
        if length <= every:
            return freq, name
    return None, "nanosecond"


def place_cutoffs(
    log_start: pd.Timestamp,
    log_end: pd.Timestamp,
    every: pd.Timedelta,
    over: pd.Timedelta,
    horizon: pd.Timedelta,
    freq: str | None = "D",
) -> tuple[list[pd.Timestamp], list[pd.Timestamp]]:
    """Return (kept, dropped) periodic cut-offs; dropped ones have a horizon past ``log_end`` or
    no history. The last is ``log_end - horizon`` rounded down to ``freq``; earlier ones follow
    every ``every`` over the last ``over``."""
    last = log_end - horizon
    last = last.floor(freq) if freq else last
    steps = int(over / every + 1e-9)
    candidates = [last - k * every for k in range(steps, -1, -1)]
    return keep_fitting(candidates, log_start, log_end, horizon, MIN_HISTORY_STEPS * every)


def keep_fitting(
    candidates: list[pd.Timestamp],
    log_start: pd.Timestamp,
    log_end: pd.Timestamp,
    horizon: pd.Timedelta,
    history: pd.Timedelta | None = None,
) -> tuple[list[pd.Timestamp], list[pd.Timestamp]]:
    """Sorted distinct ``candidates`` split into (kept, dropped): kept ones have history before
    them (at least ``history`` when given) and their horizon inside the log."""
    candidates = sorted(set(candidates))
    kept = [
        t
        for t in candidates
        if t + horizon <= log_end
        and t > log_start
        and (history is None or t - log_start >= history)
    ]
    dropped = [t for t in candidates if t not in kept]
    return kept, dropped


def _utc(ts: pd.Timestamp) -> pd.Timestamp:
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def top_categories(events: pd.DataFrame | Events, before: pd.Timestamp, n: int) -> list[str]:
    """The ``n`` most frequent categories of the events before ``before`` (ties by name)."""
    if n == 0:
        return []
    with on_engine(events) as on:
        counts = on.value_counts_before("category", before.value)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    chosen, columns = [], set()
    for name, _ in ranked:
        column = category_share_column(name)
        if column not in columns:  # two names with one column name: keep the more frequent
            chosen.append(name)
            columns.add(column)
        if len(chosen) == n:
            break
    return chosen


# --- how durations read ---------------------------------------------------------------------


def duration_text(length: pd.Timedelta) -> str:
    """``7 days``, ``1 day``, ``12 hours``, ``30 minutes``, ``2.5 days``."""
    for unit, name in ((pd.Timedelta("1D"), "day"), (pd.Timedelta("1h"), "hour"),
                       (pd.Timedelta("1min"), "minute"), (pd.Timedelta("1s"), "second")):  # fmt: skip
        count = length / unit
        if count >= 1 or unit == pd.Timedelta("1s"):
            number = f"{count:g}" if abs(count - round(count)) < 1e-9 else f"{count:.1f}"
            return f"{number} {name}{'' if number == '1' else 's'}"
    raise AssertionError("unreachable")


def every_text(length: pd.Timedelta) -> str:
    """``day`` for 1 day, ``hour`` for 1 hour, else as :func:`duration_text`."""
    text = duration_text(length)
    return text.removeprefix("1 ") if text.startswith("1 ") else text


def span_text(length: pd.Timedelta) -> str:
    """A log's span in the unit that reads best: ``90.0 days``, ``6.0 hours``, ``17.0 minutes``."""
    for unit, name in ((pd.Timedelta("1D"), "days"), (pd.Timedelta("1h"), "hours")):
        if length >= 2 * unit:
            return f"{length / unit:.1f} {name}"
    return f"{length / pd.Timedelta('1min'):.1f} minutes"
