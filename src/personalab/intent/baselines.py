"""The baselines the tuned model is compared with: class prior, logistic regression and
XGBoost with default parameters, each fitted on training + validation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from personalab.intent.linear import LinearScorer
from personalab.intent.params import IntentParams
from personalab.intent.split import IntentData


def logistic_baseline(data: IntentData, rows: np.ndarray, seed: int = 0) -> LinearScorer:
    """Logistic regression on ``rows`` of the table, read as the booster reads them
    (:class:`~personalab.intent.linear.LinearScorer`: numbers median-imputed with missing-value
    indicators and standardised, categories one-hot)."""
    matrix = data.encoder.matrix(data.raw.iloc[rows])
    return LinearScorer.fit(matrix, data.y[rows], category_counts(data), seed)


def category_counts(data: IntentData) -> list[int]:
    """Per feature column, its number of categories (0: a number or a boolean)."""
    return [len(s.categories) if s.kind == "categorical" else 0 for s in data.encoder.columns_]


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
    logreg = logistic_baseline(data, rows, params.seed)
    default = xgb.XGBClassifier(
        enable_categorical=True, random_state=params.seed, n_jobs=params.tuning.n_jobs
    )
    default.fit(data.X.iloc[rows], data.y[rows])
    return BaselineScores(
        {
            "prior": np.full(len(test), prior),
            "logreg": logreg.probabilities(data.encoder.matrix(data.raw.iloc[test])),
            "xgb_default": default.predict_proba(X_test)[:, 1],
        }
    )
