"""Calibration of the booster's probabilities: none, sigmoid (Platt) or isotonic.

``auto`` picks the method with the lowest cross-fitted Brier score on validation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd


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
            self.x_, self.y_ = _floats(model.X_thresholds_), _floats(model.y_thresholds_)
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
            out["x"], out["y"] = self.x_.tolist(), self.y_.tolist()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibrator:
        calibrator = cls(data["method"])
        if calibrator.method == "sigmoid":
            calibrator.coef_ = tuple(data["coef"])
        elif calibrator.method == "isotonic":
            calibrator.x_, calibrator.y_ = _floats(data["x"]), _floats(data["y"])
        return calibrator


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


#: methods that fit a map need this many rows of each class on validation: one of each in
#: both cross-fitting folds
MIN_ROWS_PER_CLASS = 2
METHODS = ("none", "sigmoid", "isotonic")


def unavailable_reason(y: np.ndarray, method: str) -> str | None:
    """Why ``method`` cannot be fitted and cross-fitted on labels ``y`` (None when it can)."""
    if method == "none":
        return None
    counts = np.bincount(np.asarray(y, dtype=int), minlength=2)
    if counts.min() >= MIN_ROWS_PER_CLASS:
        return None
    return (
        f"validation holds {counts[1]} positive and {counts[0]} negative row(s); {method} "
        f"calibration needs at least {MIN_ROWS_PER_CLASS} of each"
    )


def choose_calibration(
    p: np.ndarray, y: np.ndarray, method: str = "auto", seed: int = 0
) -> tuple[Calibrator, pd.DataFrame]:
    """The calibrator, fitted on all of (p, y), and the 2-fold cross-fitted Brier of each method.

    ``auto`` takes the method with the lowest cross-fitted Brier score. A method that cannot
    run on these labels (:func:`unavailable_reason`) has no score and its reason in the
    ``unavailable`` column; asked for, it falls back to ``none``.
    """
    from sklearn.metrics import brier_score_loss
    from sklearn.model_selection import StratifiedKFold

    p, y = np.asarray(p, dtype=float), np.asarray(y)
    reasons = {name: unavailable_reason(y, name) for name in METHODS}
    folds = []
    if any(reason is None for name, reason in reasons.items() if name != "none"):
        folds = list(StratifiedKFold(2, shuffle=True, random_state=seed).split(p, y))
    scores = []
    for name in METHODS:
        brier = np.nan
        if reasons[name] is None:
            out = p.copy()
            for fit_rows, eval_rows in folds if name != "none" else ():
                calibrator = Calibrator(name).fit(p[fit_rows], y[fit_rows])
                out[eval_rows] = calibrator.transform(p[eval_rows])
            brier = float(brier_score_loss(y, out))
        scores.append({"method": name, "cross_fitted_brier": brier})
    table = pd.DataFrame(scores)
    if method == "auto":
        chosen = table.loc[table["cross_fitted_brier"].idxmin(), "method"]
    else:
        chosen = method if reasons[method] is None else "none"
    table["chosen"] = table["method"] == chosen
    table["unavailable"] = [reasons[name] or "" for name in METHODS]
    return Calibrator(chosen).fit(p, y), table


def _floats(values: Any) -> np.ndarray:
    """Isotonic thresholds as the float64 array ``np.interp`` reads (not a list to convert on
    every call)."""
    return np.array(values, dtype=np.float64)
