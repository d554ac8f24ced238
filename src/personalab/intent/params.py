"""Parameters of the intent stage (``params/intent.yaml``) and its errors."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from personalab.core.errors import InputError
from personalab.core.params import StageParams

STAGE = "intent"
MODEL_NAME = "personalab-intent"
TIME_COLUMN = "cutoff"
#: the comparison's and the ``served_model`` tag's name of the tuned model
TUNED = "xgboost_tuned"
#: the baselines a tuned model should beat, by their names in the comparison
BASELINE_LABELS = {"logreg": "logistic regression", "xgb_default": "default XGBoost"}


def model_label(name: str) -> str:
    """How messages name a served model: the tuned model, or the baseline served instead."""
    return "the tuned model" if name == TUNED else f"the served {BASELINE_LABELS[name]} baseline"


class IntentError(InputError, ValueError):
    """A table, column or value the intent stage cannot use; the message names it."""


class TooFewCutoffsError(IntentError):
    """The time column has too few cut-offs, spaced too closely, for a temporal split."""


def _range(low: float, high: float):
    return Field(default_factory=lambda: [low, high], min_length=2, max_length=2)


class SearchSpace(BaseModel):
    """[low, high] of every tuned XGBoost parameter (equal bounds fix a parameter)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    learning_rate: list[float] = _range(0.02, 0.3)  # log scale
    max_depth: list[int] = _range(2, 8)
    min_child_weight: list[float] = _range(1.0, 64.0)  # log scale
    subsample: list[float] = _range(0.5, 1.0)
    colsample_bytree: list[float] = _range(0.4, 1.0)
    reg_alpha: list[float] = _range(1e-4, 10.0)  # log scale (L1)
    reg_lambda: list[float] = _range(1e-2, 50.0)  # log scale (L2)
    gamma: list[float] = _range(1e-4, 5.0)  # log scale
    scale_pos_weight: list[float] = _range(1.0, 4.0)  # log scale

    @model_validator(mode="after")
    def _ordered(self) -> SearchSpace:
        for name, (low, high) in self.model_dump().items():
            if low > high:
                raise ValueError(f"{name}: low {low} is above high {high}")
            if low <= 0 and name in _LOG_SCALE:
                raise ValueError(f"{name}: bounds must be positive (searched on a log scale)")
        return self


_LOG_SCALE = {
    "learning_rate",
    "min_child_weight",
    "reg_alpha",
    "reg_lambda",
    "gamma",
    "scale_pos_weight",
}


class TuningParams(BaseModel):
    """The Optuna study."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_trials: int = Field(25, ge=1)  # finished (complete or pruned) trials the study should hold
    timeout_minutes: float = Field(10.0, gt=0)  # wall-time budget of this run's trials
    metric: Literal["logloss", "auc", "aucpr"] = "logloss"  # validation metric, per round
    max_rounds: int = Field(2000, ge=1)
    early_stopping_rounds: int = Field(50, ge=1)
    pruning: bool = True
    startup_trials: int = Field(10, ge=0)  # random trials before TPE models the space
    # trials planned together (random, then proposed by TPE from the trials finished before
    # them): any number of workers then runs the same trials (1: one trial at a time)
    batch_size: int = Field(4, ge=1)
    pruner_warmup_rounds: int = Field(30, ge=0)  # rounds before a trial can be pruned
    report_every: int = Field(5, ge=1)  # rounds between reports to the pruner
    storage: str | None = None  # null: journal file studies/intent.journal
    study_name: str | None = None  # null: derived from the data and the search space
    n_jobs: int | None = Field(None, ge=1)  # XGBoost threads per worker; null: cores / n_workers
    n_workers: int = Field(1, ge=1)  # processes running trials here, the stage's included
    space: SearchSpace = Field(default_factory=SearchSpace)

    @model_validator(mode="after")
    def _workers_storage(self) -> TuningParams:
        if self.n_workers > 1 and is_sqlite(self.storage):
            raise ValueError(f"n_workers {self.n_workers} with {SQLITE_WORKERS}")
        return self


#: why a SQLite storage cannot serve several workers
SQLITE_WORKERS = (
    "a SQLite storage: SQLite cannot hand a queued trial to one worker only (it has no row "
    "locks); use the journal file (storage: null) or PostgreSQL/MySQL"
)


def is_sqlite(storage: str | None) -> bool:
    return storage is not None and storage.startswith("sqlite")


class SplitParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # auto: temporal when the table has the time column with enough cut-offs, else stratified
    kind: Literal["auto", "temporal", "stratified"] = "auto"
    test_share: float = Field(0.25, gt=0, lt=1)  # stratified only
    validation_share: float = Field(0.2, gt=0, lt=1)  # of the training part; stratified only
    embargo_days: float | None = Field(None, ge=0)  # temporal; null: the features horizon


class ThresholdParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: Literal["f1", "precision"] = "f1"
    target_precision: float = Field(0.5, gt=0, le=1)


class RegistryParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True  # register the model and decide its alias
    model_name: str = MODEL_NAME
    primary_metric: Literal["test_pr_auc", "test_roc_auc", "test_log_loss", "test_brier"] = (
        "test_pr_auc"
    )


class IntentParams(StageParams):
    """Parameters of the intent stage (params/intent.yaml)."""

    seed: int = 42
    table_path: str | None = None
    # null: the table's attrs `label` (the features stage's target), else purchased_within_horizon
    label_column: str | None = None
    time_column: str = TIME_COLUMN
    id_columns: list[str] = Field(default_factory=lambda: ["user_id", "session_id"])
    features: list[str] | None = None  # null: every other column
    exclude: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)  # columns forced to be categorical
    split: SplitParams = Field(default_factory=SplitParams)
    tuning: TuningParams = Field(default_factory=TuningParams)
    calibration: Literal["auto", "none", "sigmoid", "isotonic"] = "auto"
    threshold: ThresholdParams = Field(default_factory=ThresholdParams)
    calibration_bins: int = Field(10, ge=2)
    top_share: float = Field(0.1, gt=0, lt=1)
    explain_users: int = Field(5, ge=0)
    registry: RegistryParams = Field(default_factory=RegistryParams)

    @field_validator("table_path")
    @classmethod
    def _table_suffix(cls, value: str | None) -> str | None:
        if value is not None and Path(value).suffix.lower() not in (".csv", ".parquet", ".pq"):
            raise ValueError("expected a .csv or .parquet file")
        return value
