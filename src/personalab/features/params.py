"""Parameters of the features stage (``params/features.yaml``), validated before any work."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    field_validator,
    model_validator,
)

from personalab.engine.params import DataStageParams
from personalab.features.schema import SEGMENTS, TARGET_EVENTS, feature_names

AUTO = "auto"


def _days_or_auto(allow_zero: bool = False) -> PlainValidator:
    def check(value: Any) -> float | str:
        if value == AUTO:
            return AUTO
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not (value >= 0 if allow_zero else value > 0):
            least = "non-negative" if allow_zero else "positive"
            raise ValueError(f"expected a {least} number of days or 'auto'")
        return float(value)

    return PlainValidator(check)


#: a positive number of days, or ``auto``: fitted to the log (``personalab.features.cutoffs``)
DaysOrAuto = Annotated[float | Literal["auto"], _days_or_auto()]


class CutoffParams(BaseModel):
    """Where the cut-offs go: explicit ``dates``, else every ``every_days`` over the last
    ``over_last_days`` (``auto``: fitted to the log's span and granularity)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    every_days: DaysOrAuto = AUTO
    over_last_days: Annotated[float | Literal["auto"], _days_or_auto(allow_zero=True)] = AUTO
    dates: list[str] = Field(default_factory=list)

    @field_validator("dates")
    @classmethod
    def _dates_parse(cls, dates: list[str]) -> list[str]:
        for value in dates:
            try:
                pd.Timestamp(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a date") from None
        return dates


class SegmentRules(BaseModel):
    """Thresholds of the rule-based segments."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_days: int = Field(30, ge=1)
    high_click_count: int = Field(5, ge=1)
    high_click_minutes: float = Field(10.0, gt=0)
    deep_scroll_depth: float = Field(0.8, ge=0, le=1)
    long_dwell_seconds: float = Field(180.0, gt=0)
    abandon_hours: float = Field(24.0, gt=0)
    at_risk_days: int = Field(14, ge=1)
    at_risk_min_sessions: int = Field(2, ge=1)
    priority: list[str] = Field(
        default_factory=lambda: [
            "converter",
            "cart_abandoner",
            "high_clicker",
            "deep_scroller",
            "long_dweller",
            "at_risk",
        ]
    )

    @field_validator("priority")
    @classmethod
    def _known_segments(cls, priority: list[str]) -> list[str]:
        unknown = [name for name in priority if name not in SEGMENTS]
        if unknown:
            raise ValueError(f"unknown segment(s) {unknown}; known: {list(SEGMENTS)}")
        return priority


class FeaturesParams(DataStageParams):
    """Parameters of the features stage (params/features.yaml)."""

    target_event: str = "purchase"
    cutoffs: CutoffParams = CutoffParams()
    horizon_days: DaysOrAuto = AUTO
    windows_days: list[int] = Field(default_factory=lambda: [1, 7, 30], min_length=1)
    trend_days: DaysOrAuto = AUTO
    category_shares: int = Field(12, ge=0)
    segments: SegmentRules = SegmentRules()
    engagement_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "sessions_30d": 1.0,
            "events_per_session": 1.0,
            "dwell_mean": 1.0,
            "scroll_depth_mean": 1.0,
            "clicks_per_view": 1.0,
            "purchases_30d": 2.0,
        }
    )

    @field_validator("target_event")
    @classmethod
    def _known_target(cls, target: str) -> str:
        if target not in TARGET_EVENTS:
            raise ValueError(
                f"unknown event type {target!r}; one of {list(TARGET_EVENTS)} "
                "(return: any event at all)"
            )
        return target

    @field_validator("windows_days")
    @classmethod
    def _positive_windows(cls, windows: list[int]) -> list[int]:
        if any(w < 1 for w in windows) or len(set(windows)) != len(windows):
            raise ValueError(f"windows must be distinct positive day counts, got {windows}")
        return sorted(windows)

    @model_validator(mode="after")
    def _weights_name_features(self) -> FeaturesParams:
        names = set(feature_names(self.windows_days))
        unknown = sorted(set(self.engagement_weights) - names)
        if unknown:
            raise ValueError(f"engagement_weights names unknown feature(s) {unknown}")
        if any(w < 0 for w in self.engagement_weights.values()) or not sum(
            self.engagement_weights.values()
        ):
            raise ValueError("engagement_weights must be non-negative with a positive sum")
        return self
