"""Which columns are clustered: the features and the ``log1p`` columns, fitted to the table.

``features: null`` (the default) clusters on those of ``DEFAULT_FEATURES`` that the features
table has values of at the latest cut-off. A default the features stage did not build (its
table's ``attrs["left_out"]`` says why), one the table lacks, one with no values or with the
same value for every user is left out, with the reason, and the stage becomes ``partial``. An explicit
list always wins: a column it names that is missing, not numeric or empty stops the stage with
an error naming it. ``log1p: null`` takes log1p of the heavy-tailed defaults
(``DEFAULT_LOG1P``) among the features clustered on; an explicit ``log1p`` list keeps the
columns of it that are clustered on.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from personalab.core.status import StageStatus
from personalab.segments.params import (
    DEFAULT_FEATURES,
    DEFAULT_LOG1P,
    SegmentsError,
    SegmentsParams,
)
from personalab.segments.preprocess import feature_matrix, latest_cutoff


@dataclass(frozen=True)
class FeatureChoice:
    """The columns clustered on, those of them taken log1p of, and the defaults left out (why)."""

    features: list[str]
    log1p: list[str]
    left_out: dict[str, str] = field(default_factory=dict)
    explicit: bool = False

    def describe(self) -> str:
        """One line: how many features, which, and the log1p ones."""
        source = "params 'features'" if self.explicit else "the default features this table has"
        logged = ", ".join(self.log1p) or "none"
        return (
            f"{len(self.features)} feature(s) from {source}: {', '.join(self.features)} "
            f"(log1p: {logged})"
        )


def choose_features(
    table: pd.DataFrame, params: SegmentsParams, status: StageStatus
) -> FeatureChoice:
    """The features to cluster on (see the module docstring); notes go to ``status``."""
    latest = latest_cutoff(table)
    upstream = stage_left_out(table)
    if params.features is not None:
        return explicit_features(latest, params, upstream, status)
    left_out: dict[str, str] = {}
    for name in DEFAULT_FEATURES:
        why = unusable_reason(latest, name, upstream)
        if why is not None:
            left_out[name] = why
    features = [name for name in DEFAULT_FEATURES if name not in left_out]
    wanted = DEFAULT_LOG1P if params.log1p is None else params.log1p
    log1p = [name for name in wanted if name in features]
    note_left_out(left_out, status)
    return FeatureChoice(features=features, log1p=log1p, left_out=left_out)


def explicit_features(
    latest: pd.DataFrame, params: SegmentsParams, upstream: dict[str, str], status: StageStatus
) -> FeatureChoice:
    """``params.features`` as given: a missing, non-numeric or empty column is an error."""
    features = list(params.features or [])
    missing = [name for name in features if name not in latest]
    if missing:
        known = [f"{name}: {upstream[name]}" for name in missing if name in upstream]
        why = f" (the features stage left out {'; '.join(known)})" if known else ""
        raise SegmentsError(
            f"features table lacks column(s) {missing} named in params 'features'{why}; "
            "name others, or set features: null for the default features the table has"
        )
    feature_matrix(latest, features)  # non-numeric or empty columns: an error naming them
    constant = [name for name in features if latest[name].nunique(dropna=True) <= 1]
    if constant:
        status.warn(
            f"feature(s) {', '.join(constant)} named in params 'features' have the same value "
            "for every user at the latest cut-off: they do not separate users"
        )
    wanted = DEFAULT_LOG1P if params.log1p is None else params.log1p
    log1p = [name for name in wanted if name in features]
    return FeatureChoice(features=features, log1p=log1p, explicit=True)


def stage_left_out(table: pd.DataFrame) -> dict[str, str]:
    """``{feature: why}`` the features stage left out (its table's ``attrs["left_out"]``)."""
    left_out: Any = table.attrs.get("left_out") or {}
    if not isinstance(left_out, dict):
        return {}
    return {str(name): str(why) for name, why in left_out.items()}


def unusable_reason(latest: pd.DataFrame, name: str, upstream: dict[str, str]) -> str | None:
    """Why a default feature cannot be clustered on for these users, or None when it can."""
    if name in upstream:
        return f"not built by the features stage ({upstream[name]})"
    if name not in latest:
        return "not in the features table"
    column = latest[name]
    if not pd.api.types.is_numeric_dtype(column):
        return f"not numeric ({column.dtype})"
    values = column.dropna()
    if values.empty:
        return "no values at the latest cut-off"
    if values.nunique() == 1:
        return f"the same value ({float(values.iloc[0]):g}) for every user at the latest cut-off"
    return None


def note_left_out(left_out: dict[str, str], status: StageStatus) -> None:
    """One ``left out`` note per reason, naming the features it holds for."""
    by_reason: dict[str, list[str]] = defaultdict(list)
    for name, why in left_out.items():
        by_reason[why].append(name)
    for why, names in by_reason.items():
        status.leave_out(f"feature(s) {', '.join(names)}", why)
