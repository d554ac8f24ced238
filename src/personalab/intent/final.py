"""The final model: calibration and threshold chosen on validation, refitted on train + valid.

The best parameters and round count are refitted on training +
validation. Calibration (none, sigmoid or isotonic; ``auto`` picks the lowest
cross-fitted Brier score on validation) and the decision threshold (best F1, or
the lowest threshold reaching a target precision) are both chosen on the
validation predictions of the model trained on the training part only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from personalab.evaluation._base import EvaluationError
from personalab.evaluation.classification import choose_threshold, classification_report
from personalab.intent.baselines import (
    DEFAULT_ROUNDS,
    default_xgboost,
    fit_booster,
    logistic_baseline,
    probabilities,
)
from personalab.intent.calibrate import choose_calibration
from personalab.intent.model import IntentModel
from personalab.intent.params import TUNED, IntentParams, model_label
from personalab.intent.split import IntentData
from personalab.intent.tune import TuningResult, xgb_params

if TYPE_CHECKING:
    from personalab.core.status import StageStatus


@dataclass
class FinalModel:
    model: IntentModel
    calibration: pd.DataFrame  # method, cross_fitted_brier, chosen
    valid_report: dict[str, float]  # of the train-only model, calibrated, at the threshold
    rounds: int  # boosting rounds (0: a linear model)
    name: str = TUNED  # its row in the comparison: the tuned model, or a served baseline


def fit_final_model(
    data: IntentData, tuning: TuningResult, params: IntentParams, status: StageStatus | None = None
) -> FinalModel:
    """Calibration and threshold from the train-only model on validation; refit on train+valid.

    Few positives on validation never stop it: a calibration method that cannot run is left
    out (noted on ``status``), and a target precision no threshold reaches falls back to the
    best-F1 threshold (a warning)."""
    booster_params = xgb_params(params, **tuning.best_params)

    def fit(rows: np.ndarray) -> Any:
        return fit_booster(data, rows, booster_params, tuning.best_rounds)

    return _final(data, params, status, fit, tuning.best_rounds, TUNED)


def fit_baseline_model(
    data: IntentData, name: str, params: IntentParams, status: StageStatus | None = None
) -> FinalModel:
    """A baseline made a served model as the tuned one is (:func:`fit_final_model`):
    ``logreg`` (:func:`~personalab.intent.baselines.logistic_baseline`) or ``xgb_default``
    (:func:`~personalab.intent.baselines.default_xgboost`)."""
    if name == "logreg":
        return _final(
            data, params, status, partial(logistic_baseline, data, seed=params.seed), 0, name
        )
    fit = partial(default_xgboost, data, params=params)
    return _final(data, params, status, fit, DEFAULT_ROUNDS, name)


def _final(
    data: IntentData,
    params: IntentParams,
    status: StageStatus | None,
    fit: Callable[[np.ndarray], Any],
    rounds: int,
    name: str,
) -> FinalModel:
    """Fit on training, choose calibration and threshold on validation, refit on both."""
    train_only = fit(data.split.train)
    y_valid = data.y[data.split.valid]
    p_valid = probabilities(train_only, data, data.split.valid)
    calibrator, calibration = choose_calibration(p_valid, y_valid, params.calibration, params.seed)
    _note_calibration(calibration, params.calibration, status)
    p_cal = calibrator.transform(p_valid)
    if status is not None and np.unique(p_cal).size == 1:
        why = f"no model found beat the class prior's validation {params.tuning.metric}, so "
        status.warn(
            f"{model_label(name)} gives every validation row one intent score "
            f"({p_cal[0]:.4f}): {why if name == TUNED else ''}intent does not rank users on "
            "this log and every user is routed alike"
        )
    threshold = _threshold(y_valid, p_cal, params, status)
    report = classification_report(
        y_valid, p_cal, threshold, params.calibration_bins, params.top_share
    )
    model = IntentModel(data.encoder, fit(data.split.train_valid), calibrator, threshold)
    return FinalModel(model, calibration, report, rounds, name)


def _note_calibration(table: pd.DataFrame, asked: str, status: StageStatus | None) -> None:
    """Each calibration method that was wanted (``auto``: both; else the one asked) but could
    not run, left out with its reason."""
    if status is None or asked == "none":
        return
    for row in table.to_dict("records"):
        if row["unavailable"] and asked in ("auto", row["method"]):
            fallback = "" if asked == "auto" else " (probabilities left uncalibrated)"
            status.leave_out(f"{row['method']} calibration", row["unavailable"] + fallback)


def _threshold(
    y: np.ndarray, p: np.ndarray, params: IntentParams, status: StageStatus | None
) -> float:
    rule = params.threshold
    try:
        return choose_threshold(y, p, rule.rule, rule.target_precision)
    except EvaluationError as err:
        if status is None:
            raise
        status.warn(f"{err}; the threshold is the best-F1 one instead")
        return choose_threshold(y, p, "f1")
