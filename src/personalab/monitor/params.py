"""Parameters of the monitor stage (``params/monitor.yaml``), validated before any work."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from personalab.core.errors import InputError
from personalab.core.params import StageParams

STAGE = "monitor"


class MonitorError(InputError, ValueError):
    """The monitor cannot read what it needs (a missing or unreadable input)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DriftParams(_Section):
    """How a feature's drift is measured and when it counts as drifted."""

    statistic: Literal["psi", "js", "ks"] = "psi"
    threshold: float = Field(0.2, gt=0, description="the statistic at or above which it drifted")
    bins: int = Field(10, ge=2, le=100)
    missing_change: float = Field(0.1, gt=0, le=1, description="a move of the missing share")
    # the window before each cut-off the recent features are computed over; null: the
    # cut-offs' spacing (the features stage's every_days)
    window_days: float | None = Field(None, gt=0)


class HitRateParams(_Section):
    """The recommender's hit rate over successive windows after it stopped learning."""

    # at most this many; fewer on a short log, so the recommender learns at least half of it
    windows: int = Field(4, ge=2)
    window_days: float | None = Field(None, gt=0)  # null: the cut-offs' spacing


class RetrainRule(_Section):
    """Retraining is recommended when any of these holds (each is a reason given)."""

    drifted_features: int = Field(1, ge=1, description="at least this many drifted features")
    prediction_psi: float = Field(0.2, gt=0)
    roc_auc_drop: float = Field(0.05, gt=0, description="below the champion's test ROC-AUC")
    segment_psi: float = Field(0.2, gt=0)
    hit_rate_drop: float = Field(0.3, gt=0, lt=1, description="relative, last vs first window")
    # a hit-rate drop, or popularity hitting more often than the recipe in the last window, is
    # a reason only when a one-sided exact test gives a p-value below this (few hits are noise)
    significance: float = Field(0.05, gt=0, lt=1)


class MonitorParams(StageParams):
    """Parameters of the monitor stage (params/monitor.yaml)."""

    drift: DriftParams = DriftParams()
    hit_rate: HitRateParams = HitRateParams()
    retrain: RetrainRule = RetrainRule()
    calibration_bins: int = Field(10, ge=2, le=100)
