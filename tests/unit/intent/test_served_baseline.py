"""A baseline that beats the tuned model on the test rows beyond noise is what the intent stage
serves (never worse than the simple baseline), and the stage says so; the served logistic
regression is saved without pickle and answers through MLflow as the booster does.

The table is shaped like the UCI Online Shoppers data (tests.unit.intent.test_stage); the
tuned model's test scores are replaced by noise, which any real baseline beats."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from personalab.core.status import StageStatus
from personalab.intent.baselines import (
    DEFAULT_ROUNDS,
    BaselineScores,
    fit_baselines,
    logistic_baseline,
    probabilities,
)
from personalab.intent.choice import choose_served
from personalab.intent.evaluate import HoldoutEvaluation
from personalab.intent.linear import LinearScorer
from personalab.intent.model import IntentModel
from personalab.intent.params import TUNED, IntentParams
from personalab.intent.split import prepare_data
from tests.unit.intent.test_stage import shoppers

TUNING = SimpleNamespace(n_finished=3, n_pruned=0, best_value=0.4, best_rounds=30)


@pytest.fixture(scope="module")
def shop():
    table = shoppers(2000, seed=3)
    gaps = np.random.default_rng(3).random(len(table)) < 0.2
    table.loc[gaps, "BounceRates"] = np.nan  # a number with gaps: an indicator column
    params = IntentParams.from_mapping({"label_column": "Revenue", "tuning": {"n_jobs": 1}})
    data = prepare_data(table, params)
    return data, params, fit_baselines(data, params)


def served_instead_of_noise(shop, names: tuple[str, ...]):
    data, params, baselines = shop
    test = data.split.test
    noise = np.random.default_rng(0).uniform(size=test.size)
    tuned = HoldoutEvaluation(
        {"test_roc_auc": 0.5, "test_pr_auc": 0.2},
        noise,
        {},
        pd.DataFrame([{"model": TUNED, "served": True, "roc_auc": 0.5}]),
    )
    only = BaselineScores({name: baselines.probabilities[name] for name in names})
    status = StageStatus("intent")
    final, evaluation = choose_served(
        SimpleNamespace(name=TUNED), tuned, only, data, params, TUNING, status
    )
    return final, evaluation, status


def test_a_logistic_regression_better_beyond_noise_is_served_and_said(shop, tmp_path):
    import mlflow.pyfunc

    from personalab.intent.pyfunc import save_serving_model

    final, evaluation, status = served_instead_of_noise(shop, ("logreg",))
    assert final.name == "logreg" and final.model.linear and final.rounds == 0
    metrics = evaluation.metrics
    assert metrics["served_model"] == "logreg" and metrics["tuned_test_roc_auc"] == 0.5
    assert metrics["test_roc_auc"] > 0.75  # its own, calibrated and thresholded on validation
    table = evaluation.comparison
    assert table["model"].tolist() == ["logreg_served", TUNED]
    assert table["served"].tolist()[:2] == [True, False]
    (note,) = [n for n in status.notes if n["kind"] == "adapted"]
    assert note["message"].startswith(
        "the logistic regression baseline is served, not the tuned model: the tuned model's "
        "test ROC AUC 0.5"
    )
    assert "the baseline is better beyond noise" in note["message"]
    assert status.status == "complete"

    data = shop[0]
    raw = data.raw.iloc[data.split.test]
    folder = save_serving_model(final.model, raw.head(5), tmp_path / "intent")
    assert not (folder / "artifacts" / "booster.ubj").exists()
    served = mlflow.pyfunc.load_model(str(folder)).predict(raw)
    expected = final.model.predict(raw)
    np.testing.assert_allclose(served["purchase_probability"], expected["purchase_probability"])
    assert (served["purchase_intent"] == expected["purchase_intent"]).all()
    # its explanations add up to its log-odds, as SHAP values do
    parts = final.model.contributions(raw)
    margin = final.model.scorer.margin(data.encoder.matrix(raw))
    np.testing.assert_allclose(parts.sum(axis=1), margin, atol=1e-9)
    # ... and are centred on the rows it was fitted on (a category is not credited with the
    # intercept's share), as a linear model's SHAP values are
    fitted_on = final.model.contributions(data.raw.iloc[data.split.train_valid])
    np.testing.assert_allclose(fitted_on.drop(columns="bias").mean(), 0.0, atol=1e-9)


def test_default_xgboost_better_beyond_noise_is_served_as_a_booster(shop, tmp_path):
    final, evaluation, _ = served_instead_of_noise(shop, ("xgb_default",))
    assert final.name == "xgb_default" and not final.model.linear
    assert final.rounds == DEFAULT_ROUNDS == final.model.scorer.num_boosted_rounds()
    assert evaluation.metrics["served_model"] == "xgb_default"
    data, _, baselines = shop
    compared = baselines.probabilities["xgb_default"]  # the baseline compared is the one served
    np.testing.assert_array_equal(
        probabilities(final.model.scorer, data, data.split.test), compared
    )
    files = final.model.save(tmp_path / "model")
    assert set(files) == {"config", "booster"}
    raw = data.raw.iloc[data.split.test]
    loaded = IntentModel.load(files["config"])  # finds its booster beside it
    np.testing.assert_array_equal(loaded.predict_proba(raw), final.model.predict_proba(raw))


def test_of_two_baselines_beyond_noise_the_better_is_served(shop):
    from sklearn.metrics import roc_auc_score

    data, _, baselines = shop
    y = data.y[data.split.test]
    aucs = {
        name: roc_auc_score(y, baselines.probabilities[name]) for name in ("logreg", "xgb_default")
    }
    final, _, status = served_instead_of_noise(shop, ("logreg", "xgb_default"))
    assert final.name == max(aucs, key=aucs.get)
    (other,) = [n for n in status.notes if n["kind"] == "warning"]
    assert other["message"].endswith("baseline is better still")


def test_the_linear_scorer_round_trips_and_reads_unseen_categories_as_missing(shop):
    data, params, _ = shop
    rows = data.split.train_valid
    model = logistic_baseline(data, rows, params.seed)
    again = LinearScorer.from_dict(model.to_dict())
    matrix = data.encoder.matrix(data.raw.iloc[data.split.test])
    np.testing.assert_array_equal(again.probabilities(matrix), model.probabilities(matrix))
    month = data.encoder.feature_names_.index("Month")
    unseen = matrix.copy()
    unseen[:, month] = np.nan
    odd = data.raw.iloc[data.split.test].assign(Month="Smarch")
    np.testing.assert_array_equal(
        model.probabilities(data.encoder.matrix(odd)), model.probabilities(unseen)
    )
