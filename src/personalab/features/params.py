"""Parameters of the features stage (``params/features.yaml``), validated before any work."""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from personalab.core.params import StageParams
from personalab.features.schema import SEGMENTS, feature_names


class CutoffParams(BaseModel):
    """Where the cut-offs go: explicit ``dates``, else every ``every_days`` over the last ``over_last_days``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    every_days: int = Field(7, ge=1)
    over_last_days: int = Field(21, ge=0)
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


class FeaturesParams(StageParams):
    """Parameters of the features stage (params/features.yaml)."""

    cutoffs: CutoffParams = CutoffParams()
    horizon_days: float = Field(7.0, gt=0)
    windows_days: list[int] = Field(default_factory=lambda: [1, 7, 30], min_length=1)
    trend_days: int = Field(7, ge=1)
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
