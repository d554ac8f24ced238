"""Unit tests of personalab.intent.pyfunc's request checks: a null in a column that had no
missing value in training is refused, naming the column, instead of being scored as missing."""

import numpy as np
import pandas as pd
import pytest

from personalab.intent.calibrate import Calibrator
from personalab.intent.columns import FeatureEncoder
from personalab.intent.model import IntentModel
from personalab.intent.params import IntentError
from personalab.intent.pyfunc import check_required_values


def training_rows(n: int = 60) -> pd.DataFrame:
    """``spend`` and ``visits`` complete (required), ``dwell`` with gaps (optional)."""
    rng = np.random.default_rng(0)
    dwell = rng.uniform(0, 60, n)
    dwell[::7] = np.nan
    return pd.DataFrame(
        {
            "spend": rng.uniform(0, 100, n),
            "visits": rng.integers(0, 9, n),
            "dwell": dwell,
            "channel": rng.choice(["app", "web"], n),
        }
    )


@pytest.fixture(scope="module")
def model() -> IntentModel:
    import xgboost as xgb

    train = training_rows()
    encoder = FeatureEncoder(categorical=["channel"]).fit(train)
    y = (train["spend"] > 50).astype(int).to_numpy()
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 2, "nthread": 1, "seed": 0},
        xgb.DMatrix(encoder.transform(train), label=y, enable_categorical=True),
        num_boost_round=3,
    )
    return IntentModel(encoder, booster, Calibrator("none"), 0.5)


def test_the_encoder_marks_columns_with_gaps_in_training_optional(model):
    optional = {spec.name: spec.optional for spec in model.encoder.columns_}
    assert optional == {"spend": False, "visits": False, "dwell": True, "channel": False}


def test_a_null_in_a_required_column_is_refused_naming_column_and_rows(model):
    request = training_rows(6)
    request.loc[[1, 4], "spend"] = np.nan
    request.loc[2, "channel"] = None
    with pytest.raises(IntentError) as err:
        check_required_values(request, model.encoder)
    message = str(err.value)
    assert "spend (rows [1, 4])" in message and "channel (rows [2])" in message
    assert "\n" not in message and "dwell" not in message


def test_nulls_in_optional_columns_and_absent_columns_pass(model):
    request = training_rows(6).assign(dwell=np.nan)
    check_required_values(request, model.encoder)
    check_required_values(request.drop(columns=["dwell", "visits"]), model.encoder)


def test_the_served_model_answers_a_null_required_value_with_invalid_parameter_value(
    model, tmp_path
):
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    from personalab.intent.pyfunc import save_serving_model

    folder = save_serving_model(model, training_rows(3), tmp_path / "intent")
    served = mlflow.pyfunc.load_model(str(folder))
    request = model.encoder.example(training_rows(4))
    expected = model.predict(request)
    pd.testing.assert_frame_equal(served.predict(request), expected)
    request.loc[3, "spend"] = np.nan
    with pytest.raises(MlflowException, match=r"spend \(rows \[3\]\)") as err:
        served.predict(request)
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"


def test_a_served_model_takes_a_null_in_a_column_missing_by_definition(tmp_path):
    """``visits`` is complete integers in training but nullable (missing by definition for some
    users): its schema type is double, so MLflow passes a null through, and it is scored."""
    import mlflow.pyfunc
    import xgboost as xgb

    from personalab.intent.pyfunc import save_serving_model

    train = training_rows()
    encoder = FeatureEncoder(categorical=["channel"], nullable=("visits",)).fit(train)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 2, "nthread": 1, "seed": 0},
        xgb.DMatrix(encoder.transform(train), label=train["visits"] > 4, enable_categorical=True),
        num_boost_round=3,
    )
    model = IntentModel(encoder, booster, Calibrator("none"), 0.5)
    served = mlflow.pyfunc.load_model(str(save_serving_model(model, train.head(3), tmp_path / "m")))
    request = model.encoder.example(training_rows(4)).astype({"visits": float})
    request.loc[[0, 2], "visits"] = np.nan
    answer = served.predict(request)
    pd.testing.assert_frame_equal(answer, model.predict(request))
    assert answer["purchase_probability"].notna().all()
