"""The served booster's call (``intent.model.dense_predictor``) answers as XGBoost's own
``inplace_predict``, to the bit: one row or many, missing values, early-stopped boosters."""

import numpy as np
import pytest
import xgboost as xgb

from personalab.intent.model import dense_predictor


@pytest.fixture(scope="module")
def booster():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6))
    X[rng.random(X.shape) < 0.1] = np.nan
    y = (np.nan_to_num(X[:, 0]) + rng.normal(0, 0.5, 400) > 0).astype(int)
    params = {"objective": "binary:logistic", "max_depth": 4, "nthread": 1}
    return xgb.train(params, xgb.DMatrix(X, y), num_boost_round=30)


@pytest.mark.parametrize("rows", [1, 3, 257])
def test_the_same_floats_as_inplace_predict(booster, rows):
    rng = np.random.default_rng(rows)
    X = rng.normal(size=(rows, 6))
    X[rng.random(X.shape) < 0.2] = np.nan
    got, want = dense_predictor(booster)(X), booster.inplace_predict(X)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()
    fortran = np.asfortranarray(X)  # any memory layout
    assert dense_predictor(booster)(fortran).tobytes() == want.tobytes()


def test_answers_are_copies_not_xgboost_s_buffer(booster):
    predict = dense_predictor(booster)
    first = predict(np.zeros((1, 6)))
    kept = first.copy()
    predict(np.ones((1, 6)))
    assert first.tobytes() == kept.tobytes()


def test_a_wrong_width_is_refused_as_xgboost_refuses_it(booster):
    with pytest.raises(ValueError, match="[Ff]eature shape mismatch"):
        dense_predictor(booster)(np.zeros((1, 5)))


def test_an_early_stopped_booster_predicts_as_inplace_predict_does():
    rng = np.random.default_rng(1)
    X, noise = rng.normal(size=(300, 4)), rng.normal(size=300)
    y = (X[:, 0] + noise > 0).astype(int)
    train, valid = xgb.DMatrix(X[:200], y[:200]), xgb.DMatrix(X[200:], y[200:])
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 6, "eta": 0.5},
        train,
        num_boost_round=200,
        evals=[(valid, "valid")],
        early_stopping_rounds=3,
        verbose_eval=False,
    )
    assert booster.best_iteration < booster.num_boosted_rounds() - 1  # it did stop early
    got, want = dense_predictor(booster)(X[200:]), booster.inplace_predict(X[200:])
    assert got.tobytes() == want.tobytes()
