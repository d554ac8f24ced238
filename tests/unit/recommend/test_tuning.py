"""Unit tests of personalab.recommend.tuning: a row per trial and per fixed model."""

import json

import pytest

from personalab.recommend.tuning import tune


def test_tune_has_a_row_per_trial_and_per_fixed_model(stage):
    params, _, _, validation = stage
    result = tune(validation, params)
    trials = result.trials
    assert trials["algorithm"].tolist() == ["SVD", "SVD", "BaselineOnly", "popularity", "random"]
    assert trials["tuned"].tolist() == [True, True, False, False, False]
    assert trials["number"].tolist() == [0, 1, 0, 0, 0]
    assert (trials["state"] == "COMPLETE").all()
    # the configured options lie in the space, so they are the first trial
    assert json.loads(trials["options"].iloc[0]) == {"n_factors": 4, "n_epochs": 5}
    best = result.best_options["SVD"]
    assert set(best) == {"n_factors", "n_epochs"}
    assert 2 <= best["n_factors"] <= 6 and 3 <= best["n_epochs"] <= 6
    assert isinstance(best["n_factors"], int)
    assert result.best_options["BaselineOnly"] == {}
    assert set(result.validation) == {"SVD", "BaselineOnly", "popularity", "random"}
    assert all(0 <= v <= 1 for v in result.validation.values())
    assert result.validation["SVD"] == pytest.approx(trials["value"].iloc[:2].max())
    svd_best_row = trials.iloc[int(trials["value"].iloc[:2].to_numpy().argmax())]
    assert json.loads(svd_best_row["options"]) == best
