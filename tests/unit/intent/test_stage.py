"""The tuned pipeline, run once on a 600-row table shaped like the UCI "Online Shoppers
Purchasing Intention" data (a few Optuna trials of at most 30 rounds)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from personalab.intent.baselines import fit_baselines
from personalab.intent.evaluate import evaluate_on_test
from personalab.intent.final import fit_final_model
from personalab.intent.io import open_storage, read_table
from personalab.intent.model import IntentModel
from personalab.intent.params import IntentError, IntentParams
from personalab.intent.split import prepare_data
from personalab.intent.study import create_study
from personalab.intent.tune import tune_xgboost
from tests.unit.intent.helpers import MONTHS

VISITORS = ["Returning_Visitor", "New_Visitor", "Other"]
N_SHOP = 600
N_TRIALS = 3


def shoppers(n: int = N_SHOP, seed: int = 0) -> pd.DataFrame:
    """Sessions shaped like the UCI Online Shoppers data; Revenue depends on PageValues."""
    rng = np.random.default_rng(seed)
    page_values = np.where(rng.random(n) < 0.3, rng.lognormal(3.0, 1.0, n), 0.0).round(2)
    buy = rng.random(n) < np.where(page_values > 0, 0.6, 0.04)
    return pd.DataFrame(
        {
            "Administrative": rng.integers(0, 10, n),
            "ProductRelated_Duration": rng.gamma(2.0, 400.0, n).round(1),
            "BounceRates": rng.beta(1, 20, n).round(4),
            "PageValues": page_values,
            "SpecialDay": rng.choice([0.0, 0.2, 0.6, 1.0], n, p=[0.85, 0.05, 0.05, 0.05]),
            "Month": rng.choice(MONTHS, n),
            "VisitorType": rng.choice(VISITORS, n, p=[0.8, 0.15, 0.05]),
            "Weekend": np.where(rng.random(n) < 0.25, "TRUE", "FALSE"),
            "Revenue": np.where(buy, "TRUE", "FALSE"),
        }
    )


@pytest.fixture(scope="module")
def shop_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shoppers")
    shoppers().to_csv(folder / "online_shoppers.csv", index=False)
    table = read_table(folder / "online_shoppers.csv")
    p = IntentParams.from_mapping(
        {
            "label_column": "Revenue",
            "tuning": {
                "n_trials": N_TRIALS,
                "max_rounds": 30,
                "early_stopping_rounds": 10,
                "startup_trials": 2,
                "pruner_warmup_rounds": 5,
                "n_jobs": 1,
                "storage": str(folder / "s.journal"),
            },
        }
    )
    data = prepare_data(table, p)
    study = create_study(data, p, open_storage(p.tuning.storage, folder / "unused.journal"))
    tuning = tune_xgboost(data, p, study)
    final = fit_final_model(data, tuning, p)
    baselines = fit_baselines(data, p)
    evaluation = evaluate_on_test(final, baselines, data, p, tuning)
    return {
        "folder": folder,
        "table": table,
        "params": p,
        "data": data,
        "tuning": tuning,
        "final": final,
        "baselines": baselines,
        "evaluation": evaluation,
    }


def test_shoppers_table_is_read_and_encoded_by_kind(shop_run):
    data = shop_run["data"]
    kinds = {s.name: s.kind for s in data.encoder.columns_}
    assert kinds == {
        "Administrative": "numeric",
        "ProductRelated_Duration": "numeric",
        "BounceRates": "numeric",
        "PageValues": "numeric",
        "SpecialDay": "numeric",
        "Month": "categorical",
        "VisitorType": "categorical",
        "Weekend": "bool",
    }
    categories = {s.name: s.categories for s in data.encoder.columns_}
    assert categories["Month"] == tuple(sorted(MONTHS))
    assert categories["VisitorType"] == ("New_Visitor", "Other", "Returning_Visitor")
    assert set(data.X["Weekend"].unique()) == {0.0, 1.0}
    assert data.split.kind == "stratified"
    assert len(data.split.test) == 150 and len(data.split.train_valid) == 450
    expected = (shoppers()["Revenue"] == "TRUE").to_numpy().astype(int)
    np.testing.assert_array_equal(data.y, expected)


def test_shoppers_tuning_runs_the_requested_trials_and_resumes(shop_run):
    tuning, data, p = shop_run["tuning"], shop_run["data"], shop_run["params"]
    assert tuning.n_finished == N_TRIALS
    assert tuning.new_trials == N_TRIALS and tuning.resumed_trials == 0
    assert 1 <= tuning.best_rounds <= 30
    assert set(tuning.best_params) == set(p.tuning.space.model_dump())
    complete = tuning.trials[tuning.trials["state"] == "COMPLETE"]
    assert tuning.best_value == pytest.approx(complete["value"].min())
    # the same data and settings load the same study: nothing left to run
    again = create_study(data, p, open_storage(p.tuning.storage, shop_run["folder"] / "x"))
    assert again.study_name == tuning.study.study_name
    resumed = tune_xgboost(data, p, again)
    assert resumed.new_trials == 0 and resumed.resumed_trials == N_TRIALS
    assert resumed.best_params == tuning.best_params


def test_shoppers_test_metrics(shop_run):
    metrics = shop_run["evaluation"].metrics
    assert metrics["test_roc_auc"] > 0.7
    assert metrics["n_trials"] == N_TRIALS
    assert metrics["train_rows"] + metrics["test_rows"] == N_SHOP
    assert 0 < metrics["threshold"] < 1
    assert metrics["threshold"] == shop_run["final"].model.threshold
    assert metrics["calibration"] in ("none", "sigmoid", "isotonic")
    assert metrics["features"] == 8
    data = shop_run["data"]
    assert metrics["test_positive_rate"] == pytest.approx(data.y[data.split.test].mean())
    assert metrics["baseline_prior_roc_auc"] == pytest.approx(0.5)
    comparison = shop_run["evaluation"].comparison
    assert comparison["model"].tolist() == ["xgboost_tuned", "prior", "logreg", "xgb_default"]
    assert shop_run["evaluation"].curves["gains"]["gain"].iloc[-1] == 1.0


def test_shoppers_model_predicts_raw_string_rows_and_survives_save_and_load(shop_run, tmp_path):
    model: IntentModel = shop_run["final"].model
    data = shop_run["data"]
    raw = data.raw.iloc[data.split.test]
    p = model.predict_proba(raw)
    # the same rows as a client might send them: every value a string
    as_text = raw.astype(str)
    assert as_text["Weekend"].isin(["True", "False"]).all()
    out = model.predict(as_text)
    assert list(out.columns) == ["purchase_probability", "purchase_intent"]
    assert out["purchase_intent"].dtype == bool
    assert out["purchase_probability"].between(0, 1).all()
    np.testing.assert_allclose(out["purchase_probability"], p)
    assert (out["purchase_intent"] == (p >= model.threshold)).all()
    assert out.index.equals(raw.index)
    # an unseen month is read as missing
    odd = model.predict(as_text.iloc[:3].assign(Month="Jan"))
    assert odd["purchase_probability"].between(0, 1).all()
    files = model.save(tmp_path / "model")
    loaded = IntentModel.load(files["config"], files["booster"])
    np.testing.assert_array_equal(loaded.predict_proba(raw), p)
    assert loaded.threshold == model.threshold
    assert loaded.feature_names == model.feature_names
    with pytest.raises(
        IntentError, match=re.escape("lacks required feature column(s) ['PageValues']")
    ):
        loaded.predict(raw.drop(columns="PageValues"))


def test_a_tuned_model_that_scores_everyone_alike_is_said_to(shop_run):
    """On a log whose features carry no signal, the best validation log loss can be the
    class prior's: a model with no split (here min_child_weight past the rows' weight)."""
    from dataclasses import replace

    from personalab.core.status import StageStatus

    tuning = shop_run["tuning"]
    flat = replace(tuning, best_params={**tuning.best_params, "min_child_weight": 1e9})
    status = StageStatus("intent")
    final = fit_final_model(shop_run["data"], flat, shop_run["params"], status)
    scores = final.model.predict_proba(shop_run["data"].raw)
    assert np.unique(scores).size == 1
    assert any("gives every validation row one intent score" in n for n in status.lines())
    status = StageStatus("intent")  # the tuned model ranks: nothing said
    fit_final_model(shop_run["data"], tuning, shop_run["params"], status)
    assert not any("one intent score" in n for n in status.lines())
