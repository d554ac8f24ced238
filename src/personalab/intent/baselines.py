"""The baselines the tuned model is compared with: class prior, logistic regression and
XGBoost with default parameters, each fitted on training + validation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from personalab.intent.params import IntentParams
from personalab.intent.split import IntentData


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
