"""Parameters of the experiment stage (``params/experiment.yaml``), validated before any work."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from personalab.core.errors import InputError
from personalab.core.params import StageParams

STAGE = "experiment"


class ExperimentError(InputError, ValueError):
    """An experiment table that cannot be analysed: the message names the file and column."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AssignmentParams(_Section):
    """The assignment table: one row per user (the first assignment counts)."""

    path: str | None = None  # CSV or Parquet; None: the simulated experiment (synthetic data)
    user_id: str = "user_id"
    variant: str = "variant"
    timestamp: str = "timestamp"


class SimulationParams(_Section):
    """The simulated experiment on the synthetic data (:mod:`personalab.experiment.simulate`)."""

    control: str = "trending"
    treatment: str = "personalised"
    days: float = Field(28.0, gt=0)  # four weeks: every weekday four times
    treatment_share: float = Field(0.5, gt=0, lt=1)
    influence: float = Field(0.25, ge=0, le=2)
    click_rate: float = Field(0.02, gt=0, le=1)
    seed: int = 42


class ExperimentParams(StageParams):
    """Parameters of the experiment stage (params/experiment.yaml)."""

    assignments: AssignmentParams = AssignmentParams()
    impressions: str | None = None  # CSV or Parquet of user_id, item_id, impressions
    control: str | None = None  # None: "control" if a variant has that name, else the first
    window_days: float | None = Field(None, gt=0)
    expected_split: dict[str, float] | None = None
    covariates: dict[str, str] = Field(
        default_factory=lambda: {
            "conversion": "cupac",
            "revenue_per_user": "intent_probability",
        }
    )
    alpha: float = Field(0.05, gt=0, lt=0.5)
    power: float = Field(0.8, gt=0, lt=1)
    srm_alpha: float = Field(0.001, gt=0, lt=0.5)
    simulation: SimulationParams = SimulationParams()

    @model_validator(mode="after")
    def _check(self) -> ExperimentParams:
        unknown = set(self.covariates) - {"conversion", "revenue_per_user"}
        if unknown:
            raise ValueError(
                f"covariates: unknown metric(s) {sorted(unknown)}; known: conversion, revenue_per_user"
            )
        if self.expected_split is not None and any(v <= 0 for v in self.expected_split.values()):
            raise ValueError("expected_split: every share must be positive")
        return self
