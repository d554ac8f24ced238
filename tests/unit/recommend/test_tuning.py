"""Unit tests of personalab.recommend.tuning: a row per trial and per fixed model, with its
times; and the nested runs of the trials, the champion's marked."""

import json

import pytest

from personalab.recommend.tuning import tune


@pytest.fixture(scope="module")
def tuned(stage):
    params, _, _, validation = stage
    return tune(validation, params)


def test_tune_has_a_row_per_trial_and_per_fixed_model(tuned):
    result = tuned
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
    assert result.best_trials == {
        "SVD": svd_best_row["number"], "BaselineOnly": 0, "popularity": 0, "random": 0,
    }  # fmt: skip
    # when each ran: one after the other, its seconds the span
    assert (trials["ended"] >= trials["started"]).all()
    assert (trials["started"].iloc[1:].to_numpy() >= trials["ended"].iloc[:-1].to_numpy()).all()
    assert trials["seconds"].to_numpy() == pytest.approx(trials["ended"] - trials["started"])


def test_trial_runs_carry_their_times_and_the_champions_trial_is_chosen(
    tuned, stage, tmp_path, mlflow_tmp
):
    from mlflow.tracking import MlflowClient

    from personalab.core import tracking
    from personalab.core.paths import ProjectPaths
    from personalab.recommend.comparison import Comparison
    from personalab.recommend.registry import log_trial_runs

    params = stage[0]
    (tmp_path / "proj" / "params").mkdir(parents=True)
    parent = tracking.start_stage_run("recommend", params, paths=ProjectPaths(tmp_path / "proj"))
    best = tuned.best_options["SVD"]
    comparison = Comparison(tuned.trials.head(0), "SVD", {}, best)
    ids = log_trial_runs(tuned, comparison, params)
    tracking.end_stage_run()

    client = MlflowClient()
    runs = [client.get_run(run_id) for run_id in ids]
    assert [r.info.run_name for r in runs] == [
        "SVD trial 0", "SVD trial 1", "BaselineOnly (fixed)", "popularity (fixed)",
        "random (fixed)",
    ]  # fmt: skip
    for run, row in zip(runs, tuned.trials.itertuples(), strict=True):
        assert run.info.start_time == int(round(row.started * 1000))
        assert run.info.end_time == int(round(row.ended * 1000))
    chosen = [r.info.run_name for r in runs if r.data.tags["chosen"] == "true"]
    assert chosen == [f"SVD trial {tuned.best_trials['SVD']}"]
    stage_run = client.get_run(parent)
    assert stage_run.data.params["chosen.algorithm"] == stage_run.data.tags["chosen.algorithm"]
    assert stage_run.data.tags["chosen.algorithm"] == "SVD"
    assert stage_run.data.params["chosen.trial"] == str(tuned.best_trials["SVD"])
    assert json.loads(stage_run.data.params["chosen.options"]) == best
