"""The baselines the tuned model is compared with: class prior, logistic regression and
XGBoost with default parameters, each fitted on training + validation; and the fitting they
share with the tuned model (:func:`fit_booster`, :func:`probabilities`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from personalab.intent.linear import LinearScorer
from personalab.intent.params import IntentParams
from personalab.intent.split import IntentData
from personalab.intent.tune import xgb_params

#: boosting rounds of the default XGBoost baseline (``XGBClassifier``'s ``n_estimators``)
DEFAULT_ROUNDS = 100


def fit_booster(data: IntentData, rows: np.ndarray, params: dict[str, Any], rounds: int):
    """An XGBoost booster on ``rows`` with fixed parameters and round count."""
    import xgboost as xgb

    dtrain = xgb.QuantileDMatrix(data.X.iloc[rows], data.y[rows], enable_categorical=True)
    return xgb.train(params, dtrain, num_boost_round=rounds, verbose_eval=False)


def default_xgboost(data: IntentData, rows: np.ndarray, params: IntentParams):
    """XGBoost with its default parameters and :data:`DEFAULT_ROUNDS` rounds on ``rows``
    (what ``XGBClassifier()`` fits), as compared and as served."""
    return fit_booster(data, rows, xgb_params(params), DEFAULT_ROUNDS)


def logistic_baseline(data: IntentData, rows: np.ndarray, seed: int = 0) -> LinearScorer:
    """Logistic regression on ``rows`` of the table, read as the booster reads them
    (:class:`~personalab.intent.linear.LinearScorer`: numbers median-imputed with missing-value
    indicators and standardised, categories one-hot)."""
    matrix = data.encoder.matrix(data.raw.iloc[rows])
    return LinearScorer.fit(matrix, data.y[rows], category_counts(data), seed)


def category_counts(data: IntentData) -> list[int]:
    """Per feature column, its number of categories (0: a number or a boolean)."""
    return [len(s.categories) if s.kind == "categorical" else 0 for s in data.encoder.columns_]


def probabilities(scorer: Any, data: IntentData, rows: np.ndarray) -> np.ndarray:
    """Uncalibrated probabilities of ``rows`` by a booster or a linear scorer."""
    if isinstance(scorer, LinearScorer):
        return scorer.probabilities(data.encoder.matrix(data.raw.iloc[rows]))
    import xgboost as xgb

    return scorer.predict(xgb.DMatrix(data.X.iloc[rows], enable_categorical=True))


@dataclass
class BaselineScores:
    """Test probabilities of each baseline, fitted on training + validation."""

    probabilities: dict[str, np.ndarray]


def fit_baselines(data: IntentData, params: IntentParams) -> BaselineScores:
    """Class prior, logistic regression and XGBoost with default parameters; test probabilities
    of each, fitted as a served baseline is
    (:func:`~personalab.intent.final.fit_baseline_model`), so what is compared is what would
    be served."""
    rows, test = data.split.train_valid, data.split.test
    logreg = logistic_baseline(data, rows, params.seed)
    default = default_xgboost(data, rows, params)
    return BaselineScores(
        {
            "prior": np.full(len(test), float(data.y[rows].mean())),
            "logreg": probabilities(logreg, data, test),
            "xgb_default": probabilities(default, data, test),
        }
    )
