"""Stage ``intent``: a purchase-intent classifier, XGBoost tuned by Optuna.

Input is the features stage's table (one row per user and cut-off, label
``purchased_within_horizon``) or any CSV/Parquet table named by ``table_path``
with a label column of booleans, 0/1 or TRUE/FALSE strings.

Columns. :class:`FeatureEncoder` learns each feature column's kind from the
training data: numbers stay numbers, booleans and TRUE/FALSE strings become 0/1,
other strings become categoricals that XGBoost splits natively
(``enable_categorical``) with the categories fixed at fit time (an unseen
category is treated as missing). A string column that is mostly numbers but has
a few other values fails with the column, row and value; a string column with
(almost) one value per row is an identifier and is never a feature, nor are
``id_columns`` and the time column.

Splits. A table with the time column (``cutoff``) is split in time: test = the
last cut-off, validation = the one before, training = the earlier ones, and a
cut-off whose label window (``embargo_days``, default the features stage's
horizon) would reach into the next part's is dropped. A table without time is
split at random, stratified on the label: ``test_share`` for test, then
``validation_share`` of the rest for validation. With ``kind: auto`` a table whose
cut-offs are too few for a temporal split is split this way too, and ``Split.note``
says why. Test rows are scored once, at
the end.

Tuning. An Optuna study (TPE, seeded) searches learning rate, depth, min child
weight, subsample, colsample, L1/L2, gamma and ``scale_pos_weight``; each trial
trains with early stopping on the validation metric and reports it every few
rounds so the median pruner can stop bad trials early. The study lives in
``storage`` (default the journal file ``studies/intent.journal``; an RDB URL such as
``sqlite:///optuna.db`` or ``postgresql://...`` also works) under a name derived
from the data and the search space, so a run that was interrupted resumes with
the trials it had finished, and several processes can work on one study.

Final model. The best parameters and round count are refitted on training +
validation. Calibration (none, sigmoid or isotonic; ``auto`` picks the lowest
cross-fitted Brier score on validation) and the decision threshold (best F1, or
the lowest threshold reaching a target precision) are both chosen on the
validation predictions of the model trained on the training part only.

Metrics (:func:`classification_report`):

=====================  =======================================================================
roc_auc                area under the ROC curve
pr_auc                 average precision (area under the precision-recall curve)
log_loss, brier        mean log loss and mean squared error of the probabilities
f1, precision, recall  at the threshold chosen on validation
ece                    expected calibration error: mean |mean probability - positive rate| over
                       ``calibration_bins`` equal-width bins, weighted by their share of rows
lift_at_top            positive rate among the ``top_share`` highest scores / overall rate
gains_at_top           share of all positives found in the ``top_share`` highest scores
=====================  =======================================================================

Explanations are XGBoost's own SHAP values (``pred_contribs``), in log-odds of
the uncalibrated booster.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import socket
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from personalab.core.errors import InputError
from personalab.core.params import StageParams
from personalab.core.paths import upstream
from personalab.core.registry import RegistryDecision, promote_if_better, register_model
from personalab.evaluation.classification import (
    LOWER_IS_BETTER,
    choose_threshold,
    classification_report,
    gains_table,
    higher_is_better,
    metric_value,
    reliability_table,
)
from personalab.features.schema import LABEL

STAGE = "intent"
MODEL_NAME = "personalab-intent"
TIME_COLUMN = "cutoff"
#: label strings accepted, case-insensitive
_BOOL_STRINGS = {
    "true": 1,
    "false": 0,
    "t": 1,
    "f": 0,
    "yes": 1,
    "no": 0,
    "y": 1,
    "n": 0,
    "1": 1,
    "0": 0,
    "1.0": 1,
    "0.0": 0,
}
#: a string column is an identifier when it has at least this share of distinct values
_IDENTIFIER_SHARE = 0.5
#: ... and at least this many
_IDENTIFIER_MIN = 50
#: a string column with at least this share of numbers is a numeric column with bad values
_NUMERIC_SHARE = 0.9


class IntentError(InputError, ValueError):
    """A table, column or value the intent stage cannot use; the message names it."""


class TooFewCutoffsError(IntentError):
    """The time column has too few cut-offs, spaced too closely, for a temporal split."""


# --- parameters ---------------------------------------------------------------------------------


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
    pruner_warmup_rounds: int = Field(30, ge=0)  # rounds before a trial can be pruned
    report_every: int = Field(5, ge=1)  # rounds between reports to the pruner
    storage: str | None = None  # null: journal file studies/intent.journal
    study_name: str | None = None  # null: derived from the data and the search space
    n_jobs: int | None = Field(None, ge=1)  # XGBoost threads; null: all cores
    space: SearchSpace = Field(default_factory=SearchSpace)


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
    label_column: str = LABEL
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


# --- reading and columns ------------------------------------------------------------------------


def read_table(path: Path | str) -> pd.DataFrame:
    """A CSV or Parquet feature table."""
    path = Path(path)
    if not path.is_file():
        raise IntentError(f"{path}: feature table not found")
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path, low_memory=False)
        return pd.read_parquet(path)
    except (ValueError, OSError, pd.errors.ParserError) as err:
        raise IntentError(f"{path}: cannot read the table: {err}") from None


def parse_label(values: pd.Series, column: str = LABEL) -> np.ndarray:
    """0/1 from booleans, 0/1 numbers or TRUE/FALSE-like strings; anything else fails by row."""
    if values.isna().any():
        row = values.index[values.isna().to_numpy()][0]
        raise IntentError(
            f"label column {column!r}: {int(values.isna().sum())} missing value(s), "
            f"first at row {row}"
        )
    if pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=np.int8)
    if pd.api.types.is_numeric_dtype(values):
        bad = ~values.isin([0, 1])
        if bad.any():
            row = values.index[bad.to_numpy()][0]
            raise IntentError(
                f"label column {column!r}: expected 0/1, got {_plain(values[row])!r} at row {row}"
            )
        return values.to_numpy(dtype=np.int8)
    mapped = values.astype(str).str.strip().str.lower().map(_BOOL_STRINGS)
    bad = mapped.isna()
    if bad.any():
        row = values.index[bad.to_numpy()][0]
        raise IntentError(
            f"label column {column!r}: cannot read {_plain(values[row])!r} at row {row} as a boolean "
            "(expected true/false, yes/no or 0/1)"
        )
    return mapped.to_numpy(dtype=np.int8)


@dataclass(frozen=True)
class ColumnSpec:
    """How one feature column is read: ``numeric``, ``bool`` or ``categorical`` (with categories)."""

    name: str
    kind: Literal["numeric", "bool", "categorical"]
    categories: tuple[str, ...] = ()
    optional: bool = False  # missing in training rows, so a request may leave it out
    schema_type: str = "double"  # how a served request carries it: double, long, boolean, string


class FeatureEncoder:
    """Learns each feature column's kind and categories, then encodes frames the same way.

    ``fit`` takes the raw training frame; ``transform`` returns float columns and
    pandas categoricals with the learned categories, in the learned order.
    ``to_dict``/``from_dict`` round-trip through JSON, so the served model needs no pickle.
    A column with missing values in training is ``optional``: XGBoost learned where to
    send a missing value, so a request may leave the column out (read as missing).
    """

    def __init__(self, categorical: tuple[str, ...] | list[str] = ()):
        self.categorical = tuple(categorical)

    def fit(self, frame: pd.DataFrame) -> FeatureEncoder:
        specs = []
        for name in frame.columns:
            kind = "categorical" if name in self.categorical else infer_kind(frame[name])
            categories: tuple[str, ...] = ()
            if kind == "categorical":
                labels = _as_strings(frame[name]).dropna().unique()
                categories = tuple(sorted(str(v) for v in labels))
            optional = bool(frame[name].isna().any())
            specs.append(
                ColumnSpec(str(name), kind, categories, optional, _schema_type(frame[name]))
            )
        self.columns_ = specs
        return self

    @property
    def feature_names_(self) -> list[str]:
        return [spec.name for spec in self.columns_]

    def check_columns(self, frame: pd.DataFrame) -> None:
        missing = [s.name for s in self.columns_ if s.name not in frame and not s.optional]
        if missing:
            raise IntentError(f"input lacks required feature column(s) {missing}")

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows as the booster reads them: floats in the learned column order, categories as
        their codes (missing or unseen: NaN). The same values as :meth:`transform`, with the
        plain numeric columns read as one block (:func:`float_block`)."""
        self.check_columns(frame)
        out = np.full((len(frame), len(self.columns_)), np.nan)
        kinds = {
            name: dtype.kind
            for name, dtype in zip(frame.columns.tolist(), frame.dtypes.tolist(), strict=True)
        }
        numeric = [
            j
            for j, s in enumerate(self.columns_)
            if s.kind == "numeric" and s.name in kinds and kinds[s.name] in "iuf"
        ]
        if numeric:
            out[:, numeric] = float_block(frame, [self.columns_[j].name for j in numeric])
        done = set(numeric)
        for j, spec in enumerate(self.columns_):
            if j in done or spec.name not in kinds:
                continue
            if spec.kind == "categorical":
                out[:, j] = self._codes(spec, frame)
            else:
                out[:, j] = _encode(spec, frame).to_numpy(dtype=float, na_value=np.nan)
        return out

    @staticmethod
    def _codes(spec: ColumnSpec, frame: pd.DataFrame) -> np.ndarray:
        """Category codes (NaN: missing or unseen); exact labels by dict lookup, anything else
        (numbers, padded text) read as :meth:`transform` reads it."""
        raw = frame[spec.name].to_numpy(dtype=object)
        lookup = _category_codes(spec.categories)
        codes = np.array([lookup.get(v, -1.0) if isinstance(v, str) else -1.0 for v in raw])
        odd = (codes < 0) & pd.notna(raw)
        if odd.any():
            slow = np.asarray(_encode(spec, frame).codes, dtype=float)
            codes[odd] = slow[odd]
        codes[codes < 0] = np.nan
        return codes

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        self.check_columns(frame)
        out = {spec.name: _encode(spec, frame) for spec in self.columns_}
        return pd.DataFrame(out, index=frame.index)

    def fit_transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.fit(frame).transform(frame)

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [
                {
                    "name": s.name,
                    "kind": s.kind,
                    "categories": list(s.categories),
                    "optional": s.optional,
                    "schema_type": s.schema_type,
                }
                for s in self.columns_
            ]
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureEncoder:
        encoder = cls()
        encoder.columns_ = [
            ColumnSpec(
                c["name"],
                c["kind"],
                tuple(c["categories"]),
                bool(c.get("optional")),
                c.get("schema_type", "string" if c["kind"] == "categorical" else "double"),
            )
            for c in data["columns"]
        ]
        return encoder

    def example(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame``'s feature columns as a client sends them: with the types of the training
        table (whole numbers as integers, fractions as floats, booleans, strings)."""
        types = {"long": "int64", "double": "float64", "boolean": "bool", "string": "str"}
        return pd.DataFrame(
            {s.name: frame[s.name].astype(types[s.schema_type]) for s in self.columns_},
            index=frame.index,
        )


def _schema_type(values: pd.Series) -> str:
    """The MLflow schema type that carries a raw column as the training table holds it."""
    if pd.api.types.is_bool_dtype(values):
        return "boolean"
    if pd.api.types.is_integer_dtype(values):
        return "long"
    if pd.api.types.is_float_dtype(values):
        return "double"
    return "string"


_FEW_ROWS = 64  # up to this many rows, float_block reads the frame as one object array


def float_block(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    """The numeric columns ``names`` of ``frame`` as one float matrix (an absent column: NaN);
    a value that is not a number is an error naming its column.

    A few rows (one served request) are read through one object array, in about a sixth of
    the time pandas' block copy takes for them; more rows, or nullable dtypes, through pandas.
    """
    try:
        return _float_block(frame, names)
    except (TypeError, ValueError) as err:
        bad = next(n for n in names if n in frame and not _floats(frame[n]))
        raise IntentError(f"column {bad!r}: {err}") from None


def _float_block(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    columns = frame.columns.tolist()  # (iterating a pandas Index costs a microsecond a name)
    dtypes = dict(zip(columns, frame.dtypes.tolist(), strict=True))
    plain = all(isinstance(dtypes[n], np.dtype) for n in names if n in dtypes)
    if len(frame) > _FEW_ROWS or not plain:
        return frame.reindex(columns=names).to_numpy(dtype=float, na_value=np.nan)
    where = {name: i for i, name in enumerate(columns)}
    out = np.full((len(frame), len(names)), np.nan)
    present = [j for j, name in enumerate(names) if name in where]
    cells = frame.to_numpy(dtype=object)
    out[:, present] = cells[:, [where[names[j]] for j in present]].astype(float)
    return out


def _floats(values: pd.Series) -> bool:
    try:
        values.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        return False
    return True


@functools.lru_cache(maxsize=64)
def _category_codes(categories: tuple[str, ...]) -> dict[str, float]:
    return {label: float(i) for i, label in enumerate(categories)}


def _encode(spec: ColumnSpec, frame: pd.DataFrame) -> pd.Series | pd.Categorical:
    """One feature column as the model reads it (a missing optional column: all missing)."""
    values = frame[spec.name] if spec.name in frame else pd.Series(np.nan, frame.index)
    if spec.kind == "numeric":
        return to_numeric(values, spec.name)
    if spec.kind == "bool":
        return to_bool(values, spec.name)
    text = _as_strings(values)
    known = text.isin(spec.categories)  # unseen categories are missing
    return pd.Categorical(text.where(known), categories=spec.categories)


def _as_strings(values: pd.Series) -> pd.Series:
    """Values as stripped strings (missing stays missing); numbers as their text (``3``, not ``3.0``)."""
    if pd.api.types.is_float_dtype(values) and (values.dropna() % 1 == 0).all():
        values = values.astype("Int64")
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (so messages show ``2``, not ``np.int64(2)``)."""
    return value.item() if isinstance(value, np.generic) else value


def infer_kind(values: pd.Series) -> Literal["numeric", "bool", "categorical"]:
    """``numeric``, ``bool`` or ``categorical`` for one raw column (see the module docstring)."""
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_numeric_dtype(values):
        return "numeric"
    if isinstance(values.dtype, pd.CategoricalDtype):
        return "categorical"
    text = _as_strings(values).dropna()
    if text.empty:
        return "numeric"
    if text.str.lower().isin(set(_BOOL_STRINGS) - {"1", "0", "1.0", "0.0"}).all():
        return "bool"
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().all():
        return "numeric"
    if numbers.notna().mean() >= _NUMERIC_SHARE:
        row = text.index[numbers.isna().to_numpy()][0]
        raise IntentError(
            f"column {values.name!r} holds numbers but cannot read {_plain(text[row])!r} at row {row} "
            "as a number (fix the value, or list the column under `categorical`)"
        )
    return "categorical"


def to_numeric(values: pd.Series, name: str) -> pd.Series:
    """Floats; a value that is not a number fails with the column, row and value."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    text = _as_strings(values)
    numbers = pd.to_numeric(text, errors="coerce")
    bad = numbers.isna() & text.notna()
    if bad.any():
        row = values.index[bad.to_numpy()][0]
        raise IntentError(
            f"column {name!r}: cannot read {_plain(values[row])!r} at row {row} as a number"
        )
    return numbers.astype("float64")


def to_bool(values: pd.Series, name: str) -> pd.Series:
    """1.0/0.0 from booleans, 0/1 or TRUE/FALSE strings (missing stays NaN)."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        numbers = values.astype("float64")
        bad = numbers.notna() & ~numbers.isin([0.0, 1.0])
    else:
        text = _as_strings(values)
        numbers = text.str.lower().map(_BOOL_STRINGS).astype("float64")
        bad = numbers.isna() & text.notna()
    if bad.any():
        row = values.index[bad.to_numpy()][0]
        raise IntentError(
            f"column {name!r}: cannot read {_plain(values[row])!r} at row {row} as a boolean"
        )
    return numbers


def select_features(table: pd.DataFrame, params: IntentParams) -> tuple[list[str], dict[str, str]]:
    """The feature columns, and every other column with the reason it is not a feature."""
    reserved = {params.label_column: "label", params.time_column: "time column"}
    reserved |= {name: "identifier (id_columns)" for name in params.id_columns}
    reserved |= {name: "excluded (exclude)" for name in params.exclude}
    unknown = [c for c in [*(params.features or []), *params.categorical] if c not in table]
    if unknown:
        raise IntentError(f"feature column(s) {unknown} not in the table; it has {list(table)}")
    candidates = params.features or [c for c in table.columns if c not in reserved]
    skipped = {c: reason for c, reason in reserved.items() if c in table.columns}
    chosen = []
    for name in candidates:
        values = table[name]
        if name in reserved:
            raise IntentError(f"column {name!r} is the {reserved[name]} and cannot be a feature")
        if pd.api.types.is_datetime64_any_dtype(values):
            skipped[name] = "timestamp"
            continue
        is_text = not (
            pd.api.types.is_numeric_dtype(values)
            or pd.api.types.is_bool_dtype(values)
            or isinstance(values.dtype, pd.CategoricalDtype)
        )
        distinct = values.nunique()
        if (
            is_text
            and name not in params.categorical
            and distinct >= _IDENTIFIER_MIN
            and distinct >= _IDENTIFIER_SHARE * values.notna().sum()
            and infer_kind(values) == "categorical"
        ):
            skipped[name] = f"identifier-like ({distinct} distinct strings)"
            continue
        chosen.append(name)
    if not chosen:
        raise IntentError("no feature columns left after removing the label, time and identifiers")
    return chosen, skipped


# --- splits -------------------------------------------------------------------------------------


@dataclass
class Split:
    """Row positions of each part, and how they were made."""

    kind: str
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    summary: pd.DataFrame  # part, rows, positives, positive_rate, (cutoffs)
    dropped: np.ndarray = field(default_factory=lambda: np.array([], dtype=int))
    note: str = ""  # why the split is not the one asked for, if it is not

    @property
    def train_valid(self) -> np.ndarray:
        return np.concatenate([self.train, self.valid])


def split_temporal(times: pd.Series, y: np.ndarray, embargo_days: float = 0.0) -> Split:
    """Test = the last time, validation = the latest earlier time whose label window ends by the
    test time, training = the times before that whose label window ends by the validation time."""
    stamps = pd.to_datetime(times, utc=True, errors="coerce")
    if stamps.isna().any():
        row = times.index[stamps.isna().to_numpy()][0]
        raise IntentError(
            f"time column {times.name!r}: missing or unreadable value at row {row} "
            f"({_plain(times[row])!r})"
        )
    unique = sorted(stamps.unique())
    embargo = pd.Timedelta(days=embargo_days)
    t_test = unique[-1]
    valid_times = [t for t in unique[:-1] if t + embargo <= t_test]
    if not valid_times:
        raise TooFewCutoffsError(
            f"time column {times.name!r}: a temporal split needs at least 3 cut-offs spaced by at "
            f"least the {embargo_days:g}-day label window; found {len(unique)}"
        )
    t_valid = valid_times[-1]
    train_times = [t for t in unique if t + embargo <= t_valid and t < t_valid]
    if not train_times:
        raise TooFewCutoffsError(
            f"time column {times.name!r}: no cut-off before {t_valid} leaves its {embargo_days:g}-day "
            f"label window before it; found cut-offs {[str(t) for t in unique]}"
        )
    values = stamps.to_numpy()
    part_of = {"train": np.isin(values, train_times), "valid": values == t_valid}
    part_of["test"] = values == t_test
    positions = {name: np.flatnonzero(mask) for name, mask in part_of.items()}
    dropped = np.flatnonzero(~(part_of["train"] | part_of["valid"] | part_of["test"]))
    cutoffs = {
        "train": ", ".join(str(t.date()) for t in train_times),
        "valid": str(t_valid.date()),
        "test": str(t_test.date()),
    }
    return Split("temporal", **positions, summary=_summary(positions, y, cutoffs), dropped=dropped)


def split_stratified(y: np.ndarray, test_share: float, validation_share: float, seed: int) -> Split:
    """Random split stratified on the label: test first, then validation from the rest."""
    from sklearn.model_selection import train_test_split

    counts = np.bincount(y, minlength=2)
    if counts.min() < 4:
        raise IntentError(
            f"label has {counts[1]} positive and {counts[0]} negative rows: a stratified split "
            "needs at least 4 of each"
        )
    rows = np.arange(len(y))
    rest, test = train_test_split(rows, test_size=test_share, stratify=y, random_state=seed)
    train, valid = train_test_split(
        rest, test_size=validation_share, stratify=y[rest], random_state=seed
    )
    positions = {"train": np.sort(train), "valid": np.sort(valid), "test": np.sort(test)}
    return Split("stratified", **positions, summary=_summary(positions, y))


def _summary(
    positions: Mapping[str, np.ndarray], y: np.ndarray, cutoffs: Mapping[str, str] | None = None
) -> pd.DataFrame:
    rows = []
    for part, index in positions.items():
        positives = int(y[index].sum())
        row = {
            "part": part,
            "rows": len(index),
            "positives": positives,
            "positive_rate": positives / len(index) if len(index) else np.nan,
        }
        if cutoffs:
            row["cutoffs"] = cutoffs[part]
        rows.append(row)
    return pd.DataFrame(rows)


# --- the prepared data --------------------------------------------------------------------------


@dataclass
class IntentData:
    """The raw feature frame, its encoding, the label and the split."""

    raw: pd.DataFrame  # feature columns as read
    X: pd.DataFrame  # encoded
    y: np.ndarray
    split: Split
    encoder: FeatureEncoder
    skipped: dict[str, str]
    keys: pd.DataFrame  # id and time columns of every row (for explanations and the oracle)

    def part(self, name: str) -> tuple[pd.DataFrame, np.ndarray]:
        index = getattr(self.split, name)
        return self.X.iloc[index], self.y[index]


def prepare_data(
    table: pd.DataFrame, params: IntentParams, embargo_days: float = 0.0
) -> IntentData:
    """Parse the label, pick and encode the features, split (the encoder is fitted on training)."""
    if params.label_column not in table.columns:
        raise IntentError(
            f"label column {params.label_column!r} not in the table; columns: {list(table.columns)}"
        )
    if len(table) < 20:
        raise IntentError(f"the table has {len(table)} rows; the intent stage needs at least 20")
    table = table.reset_index(drop=True)
    y = parse_label(table[params.label_column], params.label_column)
    if y.min() == y.max():
        raise IntentError(f"label column {params.label_column!r} holds a single class ({y[0]})")
    names, skipped = select_features(table, params)
    has_time = params.time_column in table.columns
    kind = params.split.kind
    if kind == "temporal" and not has_time:
        raise IntentError(f"a temporal split needs the time column {params.time_column!r}")
    split, note = None, ""
    if kind == "temporal" or (kind == "auto" and has_time):
        try:
            split = split_temporal(table[params.time_column], y, embargo_days)
        except TooFewCutoffsError as err:
            if kind == "temporal":
                raise
            note = f"stratified because a temporal split is impossible: {err}"
    if split is None:
        split = split_stratified(
            y, params.split.test_share, params.split.validation_share, params.seed
        )
        split.note = note
    raw = table[names]
    encoder = FeatureEncoder(params.categorical).fit(raw.iloc[split.train])
    keys = table[[c for c in (*params.id_columns, params.time_column) if c in table.columns]]
    return IntentData(
        raw=raw,
        X=encoder.transform(raw),
        y=y,
        split=split,
        encoder=encoder,
        skipped=skipped,
        keys=keys,
    )


def columns_report(data: IntentData) -> pd.DataFrame:
    """Every column: used as numeric/bool/categorical (with its category count) or why not."""
    rows = [
        {"column": s.name, "use": s.kind, "categories": len(s.categories) or None}
        for s in data.encoder.columns_
    ]
    rows += [
        {"column": c, "use": f"not a feature: {why}", "categories": None}
        for c, why in data.skipped.items()
    ]
    return pd.DataFrame(rows)


# --- calibration --------------------------------------------------------------------------------


class Calibrator:
    """Maps booster probabilities to calibrated ones: ``none``, ``sigmoid`` (Platt) or ``isotonic``.

    Stored as plain numbers (``to_dict``) so the served model needs no pickle.
    """

    def __init__(self, method: Literal["none", "sigmoid", "isotonic"] = "none"):
        self.method = method

    def fit(self, p: np.ndarray, y: np.ndarray) -> Calibrator:
        p = np.asarray(p, dtype=float)
        if self.method == "sigmoid":
            from sklearn.linear_model import LogisticRegression

            model = LogisticRegression(C=1e6).fit(_logit(p)[:, None], y)
            self.coef_ = (float(model.coef_[0, 0]), float(model.intercept_[0]))
        elif self.method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            model = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(p, y)
            self.x_, self.y_ = model.X_thresholds_.tolist(), model.y_thresholds_.tolist()
        return self

    def transform(self, p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, dtype=float)
        if self.method == "sigmoid":
            a, b = self.coef_
            return 1.0 / (1.0 + np.exp(-(a * _logit(p) + b)))
        if self.method == "isotonic":
            return np.interp(p, self.x_, self.y_)
        return p

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method}
        if self.method == "sigmoid":
            out["coef"] = list(self.coef_)
        elif self.method == "isotonic":
            out["x"], out["y"] = self.x_, self.y_
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibrator:
        calibrator = cls(data["method"])
        if calibrator.method == "sigmoid":
            calibrator.coef_ = tuple(data["coef"])
        elif calibrator.method == "isotonic":
            calibrator.x_, calibrator.y_ = list(data["x"]), list(data["y"])
        return calibrator


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def choose_calibration(
    p: np.ndarray, y: np.ndarray, method: str = "auto", seed: int = 0
) -> tuple[Calibrator, pd.DataFrame]:
    """The calibrator, fitted on all of (p, y), and the 2-fold cross-fitted Brier of each method.

    ``auto`` takes the method with the lowest cross-fitted Brier score.
    """
    from sklearn.metrics import brier_score_loss
    from sklearn.model_selection import StratifiedKFold

    methods = ["none", "sigmoid", "isotonic"]
    folds = list(StratifiedKFold(2, shuffle=True, random_state=seed).split(p, y))
    scores = []
    for name in methods:
        out = np.empty(len(p))
        for fit_rows, eval_rows in folds:
            out[eval_rows] = Calibrator(name).fit(p[fit_rows], y[fit_rows]).transform(p[eval_rows])
        scores.append({"method": name, "cross_fitted_brier": float(brier_score_loss(y, out))})
    table = pd.DataFrame(scores)
    chosen = (
        method if method != "auto" else table.loc[table["cross_fitted_brier"].idxmin(), "method"]
    )
    table["chosen"] = table["method"] == chosen
    return Calibrator(chosen).fit(p, y), table


# --- the model ----------------------------------------------------------------------------------


class IntentModel:
    """Encoder + XGBoost booster + calibrator + threshold: raw feature rows in, probabilities out.

    Saved as ``booster.ubj`` (XGBoost's own format) and ``intent.json`` (the rest).
    """

    def __init__(
        self, encoder: FeatureEncoder, booster: Any, calibrator: Calibrator, threshold: float
    ):
        self.encoder = encoder
        self.booster = booster
        self.calibrator = calibrator
        self.threshold = threshold

    @property
    def feature_names(self) -> list[str]:
        return self.encoder.feature_names_

    def dmatrix(self, frame: pd.DataFrame):
        import xgboost as xgb

        return xgb.DMatrix(self.encoder.transform(frame), enable_categorical=True)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated purchase probability of every row of a raw feature frame."""
        if len(frame) == 0:
            return np.zeros(0)
        return self.calibrator.transform(self.booster.inplace_predict(self.encoder.matrix(frame)))

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``purchase_probability`` and ``purchase_intent`` (probability >= threshold) per row."""
        p = self.predict_proba(frame)
        return pd.DataFrame(
            {"purchase_probability": p, "purchase_intent": p >= self.threshold}, index=frame.index
        )

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """SHAP values (log-odds, before calibration) per feature, plus ``bias``."""
        values = self.booster.predict(self.dmatrix(frame), pred_contribs=True)
        return pd.DataFrame(values, columns=[*self.feature_names, "bias"], index=frame.index)

    def save(self, folder: Path | str) -> dict[str, Path]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        booster, config = folder / "booster.ubj", folder / "intent.json"
        self.booster.save_model(str(booster))
        config.write_text(
            json.dumps(
                {
                    "encoder": self.encoder.to_dict(),
                    "calibrator": self.calibrator.to_dict(),
                    "threshold": self.threshold,
                },
                indent=1,
            )
        )
        return {"booster": booster, "config": config}

    @classmethod
    def load(cls, booster_path: Path | str, config_path: Path | str) -> IntentModel:
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(str(booster_path))
        config = json.loads(Path(config_path).read_text())
        return cls(
            FeatureEncoder.from_dict(config["encoder"]),
            booster,
            Calibrator.from_dict(config["calibrator"]),
            float(config["threshold"]),
        )


# --- tuning -------------------------------------------------------------------------------------


def xgb_params(params: IntentParams, **tuned: Any) -> dict[str, Any]:
    """Fixed XGBoost settings plus the tuned ones."""
    out = {
        "objective": "binary:logistic",
        "eval_metric": params.tuning.metric,
        "tree_method": "hist",
        "seed": params.seed,
        "verbosity": 0,
    }
    if params.tuning.n_jobs:
        out["nthread"] = params.tuning.n_jobs
    return out | tuned


def fixed_params(space: SearchSpace) -> dict[str, Any]:
    """The parameters whose bounds are equal (not tuned, so absent from a trial's params)."""
    return {name: low for name, (low, high) in space.model_dump().items() if low == high}


def suggest_params(trial: Any, space: SearchSpace) -> dict[str, Any]:
    """One point of the search space."""
    out: dict[str, Any] = {}
    for name, (low, high) in space.model_dump().items():
        if low == high:
            out[name] = low
        elif name == "max_depth":
            out[name] = trial.suggest_int(name, int(low), int(high))
        else:
            out[name] = trial.suggest_float(name, low, high, log=name in _LOG_SCALE)
    return out


class PruneOnValidation:
    """XGBoost callback: report the validation metric to Optuna every few rounds; prune if told."""

    def __new__(cls, trial: Any, metric: str, every: int = 5):
        import xgboost as xgb

        class _Callback(xgb.callback.TrainingCallback):
            def after_iteration(self, model, epoch, evals_log) -> bool:
                if epoch % every:
                    return False
                trial.report(float(evals_log["valid"][metric][-1]), epoch)
                if trial.should_prune():
                    import optuna

                    raise optuna.TrialPruned(f"pruned at round {epoch}")
                return False

        return _Callback()


def study_storage(params: IntentParams, paths: Any) -> Any:
    """The study's storage: ``tuning.storage``, else the project's ``studies/intent.journal``."""
    return open_storage(params.tuning.storage, paths.root / "studies" / f"{STAGE}.journal")


def open_storage(url: str | None, default_path: Path) -> Any:
    """An Optuna storage: the journal file ``default_path``, a journal URL/file, or an RDB URL."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    if url is None or url.startswith("journal://") or url.endswith((".journal", ".log")):
        path = Path(url.removeprefix("journal://")) if url else default_path
        path.parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    return optuna.storages.RDBStorage(url)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def fail_dead_trials(study: Any) -> int:
    """Mark RUNNING trials of processes that died on this host FAILED; return how many."""
    from optuna.trial import TrialState

    host = socket.gethostname()
    failed = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = str(trial.user_attrs.get("worker", ""))
        name, _, pid = worker.rpartition(":")
        if name == host and pid.isdigit() and not _alive(int(pid)):
            study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
            failed += 1
    return failed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def study_fingerprint(data: IntentData, params: IntentParams) -> str:
    """A short hash of the training and validation data, the split and the search settings."""
    digest = hashlib.md5()
    rows = data.split.train_valid
    digest.update(pd.util.hash_pandas_object(data.X.iloc[rows], index=False).to_numpy().tobytes())
    digest.update(data.y[rows].tobytes())
    digest.update(data.split.valid.tobytes())
    settings = params.tuning.model_dump(
        exclude={"n_trials", "timeout_minutes", "storage", "study_name", "n_jobs"}
    )
    digest.update(json.dumps([settings, params.seed], sort_keys=True).encode())
    return digest.hexdigest()[:12]


@dataclass
class TuningResult:
    study: Any
    best_params: dict[str, Any]
    best_rounds: int
    best_value: float
    trials: pd.DataFrame  # number, state, value, rounds, seconds, params..., resumed
    new_trials: int
    resumed_trials: int
    seconds: float

    @property
    def n_pruned(self) -> int:
        return int((self.trials["state"] == "PRUNED").sum())

    @property
    def n_finished(self) -> int:
        return int(self.trials["state"].isin(["COMPLETE", "PRUNED"]).sum())


def create_study(data: IntentData, params: IntentParams, storage: Any) -> Any:
    """Create or load the study (seeded TPE, median pruner); fail trials of dead processes."""
    import optuna

    tuning = params.tuning
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    sampler = optuna.samplers.TPESampler(
        seed=params.seed,
        n_startup_trials=tuning.startup_trials,
        multivariate=True,
        constant_liar=True,
    )
    pruner = (
        optuna.pruners.MedianPruner(
            n_startup_trials=max(tuning.startup_trials // 2, 1),
            n_warmup_steps=tuning.pruner_warmup_rounds,
        )
        if tuning.pruning
        else optuna.pruners.NopPruner()
    )
    name = tuning.study_name or f"{STAGE}-{study_fingerprint(data, params)}"
    study = optuna.create_study(
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        study_name=name,
        direction="minimize" if tuning.metric in LOWER_IS_BETTER else "maximize",
        load_if_exists=True,
    )
    fail_dead_trials(study)
    return study


def tune_xgboost(
    data: IntentData,
    params: IntentParams,
    study: Any,
    on_trial: Callable[[Any], None] | None = None,
) -> TuningResult:
    """Run the study until it holds ``n_trials`` finished trials or the time budget is spent."""
    import optuna
    import xgboost as xgb
    from optuna.trial import TrialState

    tuning = params.tuning
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X_train, y_train = data.part("train")
    X_valid, y_valid = data.part("valid")
    dtrain = xgb.QuantileDMatrix(X_train, y_train, enable_categorical=True)
    dvalid = xgb.DMatrix(X_valid, y_valid, enable_categorical=True)
    finished_states = (TrialState.COMPLETE, TrialState.PRUNED)
    before = {t.number for t in study.get_trials(deepcopy=False, states=finished_states)}

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", worker_id())
        start = time.perf_counter()
        callbacks = (
            [PruneOnValidation(trial, tuning.metric, tuning.report_every)] if tuning.pruning else []
        )
        try:
            booster = xgb.train(
                xgb_params(params, **suggest_params(trial, tuning.space)),
                dtrain,
                num_boost_round=tuning.max_rounds,
                evals=[(dvalid, "valid")],
                early_stopping_rounds=tuning.early_stopping_rounds,
                callbacks=callbacks,
                verbose_eval=False,
            )
        finally:
            trial.set_user_attr("seconds", time.perf_counter() - start)
        trial.set_user_attr("rounds", booster.best_iteration + 1)
        return float(booster.best_score)

    start = time.perf_counter()
    remaining = tuning.n_trials - len(before)
    if remaining > 0:
        callbacks = [optuna.study.MaxTrialsCallback(tuning.n_trials, states=finished_states)]
        if on_trial is not None:
            callbacks.append(lambda _study, trial: on_trial(trial))
        study.optimize(
            objective,
            n_trials=remaining,
            timeout=tuning.timeout_minutes * 60,
            callbacks=callbacks,
            gc_after_trial=False,
        )
    seconds = time.perf_counter() - start
    trials = trials_table(study, before)
    complete = trials[trials["state"] == "COMPLETE"]
    if complete.empty:
        raise IntentError(
            f"study {study.study_name!r} has no complete trial (raise tuning.n_trials or "
            "tuning.timeout_minutes, or set tuning.pruning: false)"
        )
    best = study.best_trial
    return TuningResult(
        study=study,
        best_params=fixed_params(tuning.space) | best.params,
        best_rounds=int(best.user_attrs["rounds"]),
        best_value=float(best.value),
        trials=trials,
        new_trials=int((~trials["resumed"] & trials["state"].isin(["COMPLETE", "PRUNED"])).sum()),
        resumed_trials=len(before),
        seconds=seconds,
    )


def trials_table(study: Any, resumed: set[int] = frozenset()) -> pd.DataFrame:
    """Every trial: number, state, value, rounds, seconds, its params, and whether it was resumed."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        rows.append(
            {
                "number": trial.number,
                "state": trial.state.name,
                "value": trial.value,
                "last_round": trial.last_step,
                "rounds": trial.user_attrs.get("rounds"),
                "seconds": trial.user_attrs.get("seconds"),
                "resumed": trial.number in resumed,
                **trial.params,
            }
        )
    return pd.DataFrame(rows)


def parameter_importance(study: Any) -> pd.DataFrame:
    """fANOVA importance of each tuned parameter over the complete trials (empty when < 2)."""
    import optuna
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2 or not complete[0].params:
        return pd.DataFrame(columns=["parameter", "importance"])
    try:
        values = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
        )
    except (RuntimeError, ValueError):
        return pd.DataFrame(columns=["parameter", "importance"])
    return pd.DataFrame({"parameter": list(values), "importance": list(values.values())})


def log_tuning(tuning: TuningResult, metric: str) -> list[str]:
    """The best parameters (``best.<name>``) on the stage run, and one nested run per trial."""
    import mlflow

    mlflow.log_params({f"best.{k}": v for k, v in tuning.best_params.items()})
    mlflow.log_params({"best.rounds": tuning.best_rounds, "study_name": tuning.study.study_name})
    return log_trial_runs(tuning.trials, metric)


def log_trial_runs(trials: pd.DataFrame, metric: str) -> list[str]:
    """One nested MLflow run per trial of the study (params, validation score, rounds, state)."""
    from personalab.core.tracking import log_child_run

    ids = []
    fixed = {"number", "state", "value", "last_round", "rounds", "seconds", "resumed"}
    for row in trials.to_dict("records"):
        params = {k: v for k, v in row.items() if k not in fixed and pd.notna(v)}
        params |= {"state": row["state"], "resumed": row["resumed"]}
        metrics = {
            f"valid_{metric}": row["value"],
            "rounds": row["rounds"],
            "seconds": row["seconds"],
        }
        metrics |= {"last_round": row["last_round"]}
        metrics = {k: v for k, v in metrics.items() if v is not None and pd.notna(v)}
        ids.append(log_child_run(f"trial-{row['number']:03d}", params, metrics))
    return ids


# --- baselines and the final model --------------------------------------------------------------


def fit_booster(data: IntentData, rows: np.ndarray, params: dict[str, Any], rounds: int):
    """An XGBoost booster on ``rows`` with fixed parameters and round count."""
    import xgboost as xgb

    dtrain = xgb.QuantileDMatrix(data.X.iloc[rows], data.y[rows], enable_categorical=True)
    return xgb.train(params, dtrain, num_boost_round=rounds, verbose_eval=False)


def logistic_baseline(X: pd.DataFrame, y: np.ndarray, seed: int = 0):
    """Logistic regression on median-imputed, standardised numbers and one-hot categoricals."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    categorical = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    numeric = [c for c in X.columns if c not in categorical]
    transformers = [
        (
            "numeric",
            make_pipeline(
                SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                StandardScaler(),
            ),
            numeric,
        )
    ]
    if categorical:
        transformers.append(
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categorical,
            )
        )
    model = make_pipeline(
        ColumnTransformer(transformers), LogisticRegression(max_iter=2000, random_state=seed)
    )
    return model.fit(_object_categoricals(X), y)


def _object_categoricals(X: pd.DataFrame) -> pd.DataFrame:
    """Categoricals as object columns with NaN for missing (what sklearn's imputers expect)."""
    out = X.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype(object).where(out[c].notna(), np.nan)
    return out


@dataclass
class BaselineScores:
    """Test probabilities of each baseline, fitted on training + validation."""

    probabilities: dict[str, np.ndarray]


def fit_baselines(data: IntentData, params: IntentParams) -> BaselineScores:
    """Class prior, logistic regression and XGBoost with default parameters; test probabilities."""
    import xgboost as xgb

    rows, test = data.split.train_valid, data.split.test
    X_test = data.X.iloc[test]
    prior = float(data.y[rows].mean())
    logreg = logistic_baseline(data.X.iloc[rows], data.y[rows], params.seed)
    default = xgb.XGBClassifier(
        enable_categorical=True, random_state=params.seed, n_jobs=params.tuning.n_jobs
    )
    default.fit(data.X.iloc[rows], data.y[rows])
    return BaselineScores(
        {
            "prior": np.full(len(test), prior),
            "logreg": logreg.predict_proba(_object_categoricals(X_test))[:, 1],
            "xgb_default": default.predict_proba(X_test)[:, 1],
        }
    )


@dataclass
class FinalModel:
    model: IntentModel
    calibration: pd.DataFrame  # method, cross_fitted_brier, chosen
    valid_report: dict[str, float]  # of the train-only model, calibrated, at the threshold
    rounds: int


def fit_final_model(data: IntentData, tuning: TuningResult, params: IntentParams) -> FinalModel:
    """Calibration and threshold from the train-only model on validation; refit on train+valid."""
    import xgboost as xgb

    booster_params = xgb_params(params, **tuning.best_params)
    train_only = fit_booster(data, data.split.train, booster_params, tuning.best_rounds)
    X_valid, y_valid = data.part("valid")
    p_valid = train_only.predict(xgb.DMatrix(X_valid, enable_categorical=True))
    calibrator, calibration = choose_calibration(p_valid, y_valid, params.calibration, params.seed)
    p_cal = calibrator.transform(p_valid)
    threshold = choose_threshold(
        y_valid, p_cal, params.threshold.rule, params.threshold.target_precision
    )
    report = classification_report(
        y_valid, p_cal, threshold, params.calibration_bins, params.top_share
    )
    booster = fit_booster(data, data.split.train_valid, booster_params, tuning.best_rounds)
    model = IntentModel(data.encoder, booster, calibrator, threshold)
    return FinalModel(model, calibration, report, tuning.best_rounds)


# --- evaluation on test -------------------------------------------------------------------------


@dataclass
class HoldoutEvaluation:
    metrics: dict[str, Any]
    probabilities: np.ndarray
    curves: dict[str, pd.DataFrame]  # roc, pr, calibration, gains
    comparison: pd.DataFrame  # model and baselines: every test metric


def evaluate_on_test(
    final: FinalModel,
    baselines: BaselineScores,
    data: IntentData,
    params: IntentParams,
    tuning: TuningResult,
    oracle: np.ndarray | None = None,
) -> HoldoutEvaluation:
    """Score the test rows once: the model, the baselines and (when known) the true probability."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    test = data.split.test
    y = data.y[test]
    p = final.model.predict_proba(data.raw.iloc[test])
    threshold = final.model.threshold
    bins, share = params.calibration_bins, params.top_share
    report = classification_report(y, p, threshold, bins, share)
    rows = [{"model": "xgboost_tuned", **report}]
    for name, scores in baselines.probabilities.items():
        rows.append({"model": name, **classification_report(y, scores, threshold, bins, share)})
    metrics: dict[str, Any] = {f"test_{k}": v for k, v in report.items()}
    metrics |= {
        "threshold": threshold,
        "ece": report["ece"],
        "calibration": str(final.calibration.loc[final.calibration["chosen"], "method"].iloc[0]),
        "n_trials": tuning.n_finished,
        "n_pruned": tuning.n_pruned,
        "best_trial_value": tuning.best_value,
        "best_rounds": tuning.best_rounds,
        "train_rows": int(len(data.split.train_valid)),
        "test_rows": int(len(test)),
        "positive_rate": float(data.y.mean()),
        "test_positive_rate": float(y.mean()),
        "features": len(data.encoder.columns_),
    }
    for name in baselines.probabilities:
        row = next(r for r in rows if r["model"] == name)
        metrics[f"baseline_{name}_roc_auc"] = row["roc_auc"]
        metrics[f"baseline_{name}_pr_auc"] = row["pr_auc"]
    if oracle is not None:
        from sklearn.metrics import roc_auc_score

        known = np.isfinite(oracle)
        metrics["oracle_roc_auc"] = float(roc_auc_score(y[known], oracle[known]))
        metrics["oracle_gap"] = metrics["oracle_roc_auc"] - metrics["test_roc_auc"]
        rows.append(
            {
                "model": "oracle (true probability)",
                **classification_report(y[known], oracle[known], threshold, bins, share),
            }
        )
    fpr, tpr, _ = roc_curve(y, p)
    precision, recall, _ = precision_recall_curve(y, p)
    curves = {
        "roc": _thin(pd.DataFrame({"fpr": fpr, "tpr": tpr})),
        "pr": _thin(pd.DataFrame({"recall": recall[::-1], "precision": precision[::-1]})),
        "calibration": reliability_table(y, p, bins),
        "gains": gains_table(y, p),
    }
    return HoldoutEvaluation(metrics, p, curves, pd.DataFrame(rows))


def _thin(curve: pd.DataFrame, points: int = 200) -> pd.DataFrame:
    """At most ``points`` rows, evenly spaced, keeping both ends (for small plot files)."""
    if len(curve) <= points:
        return curve.reset_index(drop=True)
    keep = np.unique(np.linspace(0, len(curve) - 1, points).round().astype(int))
    return curve.iloc[keep].reset_index(drop=True)


def oracle_probabilities(
    truth: pd.DataFrame, keys: pd.DataFrame, horizon_days: float, time_column: str = TIME_COLUMN
) -> np.ndarray:
    """The generator's true purchase probability of each (user, cut-off) row (NaN: unknown user)."""
    from personalab.ingest.synth import purchase_probability

    out = np.full(len(keys), np.nan)
    times = pd.to_datetime(keys[time_column], utc=True)
    for cutoff in times.unique():
        rows = np.flatnonzero((times == cutoff).to_numpy())
        truth_p = purchase_probability(truth, cutoff, horizon_days)
        out[rows] = truth_p.reindex(keys["user_id"].iloc[rows]).to_numpy()
    return out


# --- explanations -------------------------------------------------------------------------------


def mean_abs_shap(contributions: pd.DataFrame) -> pd.DataFrame:
    """Mean |SHAP| per feature, largest first."""
    values = contributions.drop(columns="bias").abs().mean()
    return (
        values.sort_values(ascending=False)
        .rename("mean_abs_shap")
        .rename_axis("feature")
        .reset_index()
    )


def explain_rows(
    contributions: pd.DataFrame,
    raw: pd.DataFrame,
    probabilities: np.ndarray,
    keys: pd.DataFrame,
    n_rows: int = 5,
    n_features: int = 3,
) -> pd.DataFrame:
    """For the ``n_rows`` highest-scored rows: the features pushing the score up the most."""
    order = np.argsort(-probabilities, kind="stable")[:n_rows]
    shap = contributions.drop(columns="bias")
    out = []
    for position in order:
        row = shap.iloc[position]
        top = row.sort_values(ascending=False).head(n_features)
        entry = {k: keys.iloc[position][k] for k in keys.columns}
        entry["purchase_probability"] = float(probabilities[position])
        entry["top_reasons"] = "; ".join(
            f"{name}={_short(raw.iloc[position][name])} (+{value:.2f})"
            for name, value in top.items()
        )
        out.append(entry)
    return pd.DataFrame(out)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return "NaN" if np.isnan(value) else f"{value:.3g}"
    return str(value)


# --- registry -----------------------------------------------------------------------------------


def score_model_uri(uri: str, raw: pd.DataFrame, y: np.ndarray, metric: str) -> float:
    """``metric`` of a registered intent model on raw feature rows (read by its own encoder)."""
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(uri).unwrap_python_model().model
    return metric_value(metric, y, model.predict_proba(raw))


def register_and_decide(
    folder: Path | str, data: IntentData, metrics: Mapping[str, Any], params: RegistryParams
) -> RegistryDecision:
    """Register the saved model and move ``champion`` to it only if it wins on the test rows."""
    import mlflow

    client, version = register_model(folder, params.model_name)
    test = data.split.test
    decision = promote_if_better(
        client,
        params.model_name,
        version,
        params.primary_metric,
        float(metrics[params.primary_metric]),
        lambda uri: score_model_uri(uri, data.raw.iloc[test], data.y[test], params.primary_metric),
        higher_is_better=higher_is_better(params.primary_metric),
    )
    mlflow.set_tags(decision.as_tags())
    return decision


# --- serving model (MLflow pyfunc) --------------------------------------------------------------


def _pyfunc_class():
    import mlflow.pyfunc

    class IntentPyfunc(mlflow.pyfunc.PythonModel):
        """Serves :class:`IntentModel`: raw feature rows in; probability and intent out."""

        def load_context(self, context):
            self.model = IntentModel.load(context.artifacts["booster"], context.artifacts["config"])

        def predict(self, context, model_input, params=None):
            frame = (
                model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
            )
            return self.model.predict(frame)

    return IntentPyfunc


def model_requirements() -> list[str]:
    """Exact pins the served model needs (personalab itself ships in the model's code/)."""
    from personalab.core.tracking import pinned_requirements

    return pinned_requirements(
        "xgboost-cpu", "numpy", "pandas", "scikit-learn", "scipy", "pydantic", "pyyaml"
    )


def input_schema(encoder: FeatureEncoder) -> Any:
    """The served model's input: each column with the type the training table gave it (long,
    double, boolean or string); optional columns (missing in training) may be left out."""
    from mlflow.types import ColSpec, Schema

    return Schema(
        [ColSpec(s.schema_type, s.name, required=not s.optional) for s in encoder.columns_]
    )


def save_serving_model(model: IntentModel, raw_example: pd.DataFrame, folder: Path | str) -> Path:
    """Write the model as an MLflow pyfunc folder (signature and input example included)."""
    from mlflow.models import infer_signature

    from personalab.core.registry import save_pyfunc

    example = model.encoder.example(raw_example)
    signature = infer_signature(example, model.predict(example))
    signature.inputs = input_schema(model.encoder)
    return save_pyfunc(
        folder, _pyfunc_class()(), model.save, signature, example, model_requirements()
    )


# --- plots --------------------------------------------------------------------------------------


def plot_tuning(trials: pd.DataFrame, importance: pd.DataFrame, metric: str, minimize: bool):
    """Optimisation history (every trial, pruned ones hollow, best so far) and parameter importance."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.2))
    done = trials[trials["state"] == "COMPLETE"].sort_values("number")
    pruned = trials[trials["state"] == "PRUNED"]
    left.scatter(done["number"], done["value"], s=18, label="complete")
    for n in pruned["number"]:
        left.axvline(n, color="0.85", lw=0.8, zorder=0)
    best = done["value"].cummin() if minimize else done["value"].cummax()
    left.step(done["number"], best, where="post", color="C3", label="best so far")
    left.set(
        title=f"Optimisation history ({len(pruned)} pruned: grey lines)",
        xlabel="trial",
        ylabel=f"validation {metric}",
    )
    left.legend(fontsize=8)
    if len(importance):
        ordered = importance.sort_values("importance")
        right.barh(ordered["parameter"], ordered["importance"])
    right.set(title="Parameter importance (fANOVA)", xlabel="importance")
    fig.tight_layout()
    return fig


def plot_evaluation(curves: Mapping[str, pd.DataFrame], metrics: Mapping[str, Any]):
    """ROC, precision-recall, reliability and cumulative gains on the test rows."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(18, 4.2))
    roc, pr, cal, gains = (curves[k] for k in ("roc", "pr", "calibration", "gains"))
    axes[0].plot(roc["fpr"], roc["tpr"], label=f"AUC {metrics['test_roc_auc']:.3f}")
    axes[0].plot([0, 1], [0, 1], ls="--", color="0.6")
    axes[0].set(title="ROC", xlabel="false positive rate", ylabel="true positive rate")
    axes[1].plot(pr["recall"], pr["precision"], label=f"AP {metrics['test_pr_auc']:.3f}")
    axes[1].axhline(metrics["test_positive_rate"], ls="--", color="0.6", label="positive rate")
    axes[1].set(title="Precision-recall", xlabel="recall", ylabel="precision")
    axes[2].plot([0, 1], [0, 1], ls="--", color="0.6")
    axes[2].plot(
        cal["mean_predicted"], cal["positive_rate"], marker="o", label=f"ECE {metrics['ece']:.3f}"
    )
    axes[2].set(title="Reliability", xlabel="mean predicted probability", ylabel="observed rate")
    axes[3].plot(gains["top_share"], gains["gain"], label="model")
    axes[3].plot([0, 1], [0, 1], ls="--", color="0.6", label="random")
    axes[3].set(
        title="Cumulative gains", xlabel="share of users contacted", ylabel="share of buyers"
    )
    for ax in axes:
        ax.legend(fontsize=8, loc="lower right" if ax is not axes[1] else "upper right")
    fig.tight_layout()
    return fig


def plot_shap_summary(
    contributions: pd.DataFrame, encoded: pd.DataFrame, top: int = 15, seed: int = 0
):
    """Beeswarm-style summary: each row's SHAP value per feature, coloured by the feature's rank."""
    import matplotlib.pyplot as plt

    shap = contributions.drop(columns="bias")
    order = shap.abs().mean().sort_values(ascending=False).index[:top][::-1]
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(shap), size=min(len(shap), 3000), replace=False)
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(order) + 1.5))
    for position, name in enumerate(order):
        values = encoded[name].iloc[sample]
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = pd.Series(values.cat.codes.to_numpy(dtype=float)).where(
                values.notna().to_numpy()
            )
        colour = pd.Series(np.asarray(values, dtype=float)).rank(pct=True).to_numpy()
        jitter = rng.uniform(-0.3, 0.3, size=len(sample))
        points = ax.scatter(
            shap[name].iloc[sample],
            position + jitter,
            c=colour,
            cmap="coolwarm",
            s=3,
            vmin=0,
            vmax=1,
        )
    ax.set_yticks(range(len(order)), order, fontsize=8)
    ax.axvline(0, color="0.5", lw=0.8)
    ax.set(title="SHAP values (log-odds) on test rows", xlabel="contribution to the log-odds")
    fig.colorbar(points, ax=ax, label="feature value (rank: blue low, red high)")
    fig.tight_layout()
    return fig


# --- loading and saving -------------------------------------------------------------------------


def features_horizon(paths: Any) -> float:
    """The label horizon of the features stage (params/features.yaml)."""
    from personalab.features.params import FeaturesParams

    return FeaturesParams.from_yaml(paths.params_file("features")).horizon_days


def load_inputs(
    paths: Any, params: IntentParams
) -> tuple[pd.DataFrame, pd.DataFrame | None, float]:
    """The table to model, the generator's truth when it applies (else None), the embargo in days."""
    if params.table_path is not None:
        path = Path(params.table_path)
        table = read_table(path if path.is_absolute() else paths.root / path)
        return table, None, params.split.embargo_days or 0.0
    path = upstream(paths.processed / "features.parquet", "features", IntentError)
    horizon = features_horizon(paths)
    truth_path = paths.interim / "truth.parquet"
    truth = pd.read_parquet(truth_path) if truth_path.is_file() else None
    embargo = params.split.embargo_days if params.split.embargo_days is not None else horizon
    return pd.read_parquet(path), (truth if truth is not None and len(truth) else None), embargo


def save_intent(
    final: FinalModel,
    evaluation: HoldoutEvaluation,
    tuning: TuningResult,
    importance: pd.DataFrame,
    shap_importance: pd.DataFrame,
    data: IntentData,
    paths: Any,
) -> dict[str, Path]:
    """Write the serving model, metrics and plot data (atomically)."""
    from personalab.core.storage import write_csv, write_metrics

    plots = paths.plots_dir(STAGE)
    curves = evaluation.curves
    out = {
        "model": save_serving_model(
            final.model, data.raw.iloc[data.split.test[:5]], paths.candidates / STAGE
        ),
        "metrics": write_metrics(evaluation.metrics, paths.metrics_file(STAGE)),
        "roc": write_csv(curves["roc"], plots / "roc.csv"),
        "pr": write_csv(curves["pr"], plots / "precision_recall.csv"),
        "calibration": write_csv(curves["calibration"], plots / "calibration.csv"),
        "gains": write_csv(curves["gains"], plots / "gains.csv"),
        "history": write_csv(
            tuning.trials[["number", "state", "value"]].assign(
                best=_best_so_far(tuning.trials, tuning.study.direction.name == "MINIMIZE")
            ),
            plots / "optimisation_history.csv",
        ),
        "param_importance": write_csv(importance, plots / "param_importance.csv"),
        "shap": write_csv(shap_importance, plots / "shap_importance.csv"),
        "comparison": write_csv(evaluation.comparison, paths.reports / STAGE / "comparison.csv"),
    }
    return out


def _best_so_far(trials: pd.DataFrame, minimize: bool) -> pd.Series:
    values = trials["value"].where(trials["state"] == "COMPLETE")
    return (values.cummin() if minimize else values.cummax()).ffill()
