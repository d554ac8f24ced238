"""What the stage predicts, and whether it can be learned at all.

The features table names its target in ``table.attrs`` (written by the features stage, kept by
Parquet): ``label`` (the column), ``target_event`` (``purchase``, ``rate``, ..., or ``return``
for any event) and ``horizon_days``. ``label_column`` in params/intent.yaml overrides the
column; a table of one's own without attrs falls back to ``purchased_within_horizon``.

No target is learnable when the table has no rows (e.g. the features stage skipped), when the
label holds one class (e.g. a ratings log has no purchases), or when a part of the split has no
positive or no negative row. :func:`prepare_stage` then records the reason with
:meth:`~personalab.core.status.StageStatus.skip` and the stage writes empty, marked outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from personalab.features.schema import LABEL
from personalab.intent.params import IntentError, IntentParams

#: the event behind the default label (``purchased_within_horizon``)
DEFAULT_EVENT = "purchase"
#: the target meaning "any event at all" (a return visit)
RETURN_EVENT = "return"
#: a part of the split with fewer positives than this gets a warning (its scores are noisy)
FEW_POSITIVES = 5


class UnlearnableTargetError(IntentError):
    """No model can be learned from this table (no rows, one class, a part with one class): the
    stage skips with this message as its reason."""


@dataclass(frozen=True)
class Target:
    """The label column, the event it marks and its horizon (None when the table does not say)."""

    label: str
    target_event: str | None = None
    horizon_days: float | None = None

    def describe(self) -> str:
        """E.g. ``predicting purchase within 7 days (label purchased_within_horizon)``."""
        if self.target_event is None:
            return f"predicting the label {self.label!r}"
        what = "a return (any event)" if self.target_event == RETURN_EVENT else self.target_event
        within = f" within {format_horizon(self.horizon_days)}" if self.horizon_days else ""
        return f"predicting {what}{within} (label {self.label})"

    def metrics(self) -> dict[str, Any]:
        """``label``, ``target_event`` and ``horizon_days`` (those known) for the metrics file."""
        out: dict[str, Any] = {"label": self.label}
        if self.target_event is not None:
            out["target_event"] = self.target_event
        if self.horizon_days is not None:
            out["horizon_days"] = float(self.horizon_days)
        return out


def format_horizon(days: float) -> str:
    """``7 days``, ``1 day``, ``6 hours``, ``30 minutes``."""
    for unit, size in (("day", 1.0), ("hour", 1 / 24), ("minute", 1 / 1440)):
        if days >= size or unit == "minute":
            value = days / size
            text = f"{value:g}" if value != round(value) else f"{round(value)}"
            return f"{text} {unit}{'' if text == '1' else 's'}"
    raise AssertionError("unreachable")  # pragma: no cover


def resolve_target(
    table: pd.DataFrame, params: IntentParams, horizon_days: float | None = None
) -> Target:
    """The target of ``table``: ``params.label_column``, else the table's attrs ``label``, else
    ``purchased_within_horizon``; the horizon from attrs, else ``horizon_days``."""
    attrs: Mapping[str, Any] = table.attrs or {}
    label = params.label_column or attrs.get("label") or LABEL
    event = attrs.get("target_event")
    if event is None and label == LABEL:
        event = DEFAULT_EVENT
    if attrs.get("label") and label != attrs["label"]:
        event = None  # a column of the user's choice: the table's target does not describe it
    horizon = attrs.get("horizon_days", horizon_days)
    horizon = float(horizon) if horizon is not None and event is not None else None
    return Target(str(label), None if event is None else str(event), horizon)


def empty_table_reason(table: pd.DataFrame, source: str = "the table") -> str | None:
    """Why a table without rows holds nothing to learn (None when it has rows)."""
    if len(table):
        return None
    attrs = table.attrs or {}
    if attrs.get("status") == "skipped":
        why = attrs.get("skip_reason") or "no reason given"
        return f"the features stage skipped ({why}), so there is no table to learn from"
    return f"{source} has no rows"


def one_class_reason(target: Target, positives: int, rows: int, profile: Any = None) -> str:
    """Why a label of one class cannot be learned, with what to change when the log says it."""
    if positives == rows:
        return (
            f"label column {target.label!r} holds a single class (1): every one of the "
            f"{rows:,} rows is positive, so there is nothing to tell apart"
        )
    event = target.target_event
    if profile is not None and event is not None and not event_present(profile, event):
        present = [e for e in profile.event_types if e != event]
        options = ", ".join([*present[:3], RETURN_EVENT])
        return (
            f"the log has no {event} events; set target_event in params/features.yaml "
            f"(e.g. {options})"
        )
    within = f" within {format_horizon(target.horizon_days)}" if target.horizon_days else ""
    happened = f"no {event}{within} of a cut-off" if event else "no positive row"
    return (
        f"label column {target.label!r} holds a single class (0): {happened} in {rows:,} rows; "
        "a longer horizon, more cut-offs or another target_event (params/features.yaml) "
        "gives it positives"
    )


def event_present(profile: Any, event: str) -> bool:
    """True when the log holds ``event`` (``return``: any event at all)."""
    if event == RETURN_EVENT:
        return profile.rows > 0
    return profile.has(event)


def warn_few_positives(summary: pd.DataFrame, status: Any) -> None:
    """A warning for each part of the split with fewer than :data:`FEW_POSITIVES` positives."""
    names = {"train": "training", "valid": "validation", "test": "test"}
    for row in summary.to_dict("records"):
        if row["positives"] < FEW_POSITIVES:
            status.warn(
                f"the {names.get(row['part'], row['part'])} part has {row['positives']} positive "
                f"row(s) of {row['rows']:,}: its scores and metrics are noisy"
            )
