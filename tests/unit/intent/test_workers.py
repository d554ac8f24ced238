"""Tuning workers: processes sharing one journal study run each trial once, and the same trials,
with the same values, as one process does."""

import os
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from personalab.core.params import ParamsError
from personalab.intent.io import open_storage
from personalab.intent.split import prepare_data
from personalab.intent.study import BATCH, create_study, make_pruner, plan_batch
from personalab.intent.tune import tune_xgboost
from personalab.intent.workers import main, pop_trial, worker_threads
from tests.conftest import tool_env
from tests.unit.intent.helpers import params

N_TRIALS = 10
TUNING = {
    "n_trials": N_TRIALS, "startup_trials": 4, "batch_size": 2, "max_rounds": 400,
    "early_stopping_rounds": 30, "pruner_warmup_rounds": 10, "report_every": 5, "n_jobs": 1,
    "space": {"learning_rate": [0.02, 0.1], "max_depth": [4, 8]},
}  # fmt: skip
#: the trials table's columns that must be equal between runs (timings and workers may differ)
COMPARED = ["number", "state", "value", "last_round", "rounds", "batch", "learning_rate",
            "max_depth", "min_child_weight", "subsample", "colsample_bytree", "reg_alpha",
            "reg_lambda", "gamma", "scale_pos_weight"]  # fmt: skip


def table(rows: int = 20_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(rows, 10)), columns=[f"x{i}" for i in range(10)])
    z = X["x0"] + X["x1"] * X["x2"] + np.sin(3 * X["x3"]) + rng.normal(size=rows)
    return X.assign(bought=(z > 1).astype(int))


def tune(journal, n_workers: int, **tuning):
    p = params(label_column="bought", tuning=TUNING | {"n_workers": n_workers} | tuning)
    data = prepare_data(table(), p)
    return tune_xgboost(data, p, create_study(data, p, open_storage(str(journal), None)))


@pytest.fixture(scope="module")
def one_and_two(tmp_path_factory):
    folder = tmp_path_factory.mktemp("workers")
    return tune(folder / "one.journal", 1), tune(folder / "two.journal", 2)


@pytest.mark.slow
def test_two_workers_run_every_trial_once(one_and_two):
    _, two = one_and_two
    trials = two.trials
    assert sorted(trials["number"]) == list(range(N_TRIALS))  # no trial beyond n_trials
    assert set(trials["state"]) <= {"COMPLETE", "PRUNED"} and two.n_finished == N_TRIALS
    points = trials[COMPARED[6:]].round(12).apply(tuple, axis=1)
    assert points.is_unique  # no parameter set evaluated twice
    # both processes ran trials: the stage's and the spawned worker
    workers = trials["worker"].str.rpartition(":")[2]
    assert workers.nunique() == 2 and str(os.getpid()) in set(workers)


@pytest.mark.slow
def test_two_workers_give_the_trials_and_the_choice_of_one(one_and_two):
    one, two = one_and_two
    assert one.trials["worker"].nunique() == 1
    pd.testing.assert_frame_equal(
        two.trials[COMPARED].sort_values("number").reset_index(drop=True),
        one.trials[COMPARED].sort_values("number").reset_index(drop=True),
    )
    assert two.best_params == one.best_params and two.best_value == one.best_value
    assert two.best_rounds == one.best_rounds
    assert two.study.study_name == one.study.study_name  # n_workers does not name the study
    # two trials a batch: 4 random startup trials, then TPE proposals; pruned ones among them
    assert one.trials.sort_values("number")["batch"].tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert (one.trials["state"] == "PRUNED").any()  # the pruner's decisions are compared too


def test_a_trial_of_a_worker_that_died_is_failed_and_replaced(tmp_path):
    """A worker killed mid-trial leaves it RUNNING: the stage marks it FAILED (its process is
    gone) and the study still ends with n_trials finished trials."""
    p = params(label_column="bought", tuning=TUNING | {"n_trials": 4, "startup_trials": 2})
    data = prepare_data(table(1000), p)
    study = create_study(data, p, open_storage(str(tmp_path / "s.journal"), None))
    assert plan_batch(study, p) == 2
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, env=tool_env())  # fmt: skip
    trial = pop_trial(study)  # trial 0, by a worker that then died
    trial.set_user_attr("worker", f"{socket.gethostname()}:{dead.stdout.strip()}")
    result = tune_xgboost(data, p, study)
    states = result.trials.set_index("number")["state"]
    assert states[0] == "FAIL" and result.n_finished == 4 and len(states) == 5


def test_each_worker_gets_a_share_of_the_cores():
    def threads(**tuning):
        return worker_threads(params(tuning=tuning))

    cores = len(os.sched_getaffinity(0))
    assert threads() is None  # one worker: XGBoost's default, every core
    assert threads(n_workers=2) == max(cores // 2, 1)
    assert threads(n_workers=4 * cores) == 1
    assert threads(n_workers=2, n_jobs=3) == 3


def test_the_pruner_judges_a_trial_by_earlier_batches_only():
    """Trials of one batch run at the same time in some order: none judges another, so a
    pruning decision is the same whichever finished first."""
    import optuna
    from optuna.trial import TrialState, create_trial

    p = params(tuning={"startup_trials": 2, "pruner_warmup_rounds": 0})
    pruner = make_pruner(p)
    study = optuna.create_study(direction="minimize", pruner=pruner)

    def trial(batch: int, at_10: float, state=TrialState.COMPLETE):
        value = at_10 if state == TrialState.COMPLETE else None
        return create_trial(state=state, value=value, intermediate_values={10: at_10},
                            user_attrs={BATCH: batch})  # fmt: skip

    study.add_trials([trial(0, 0.5), trial(0, 0.7), trial(1, 0.1)])  # median of batch 0: 0.6
    running = trial(1, 0.55, TrialState.RUNNING)
    assert not pruner.prune(study, running)  # 0.55 < 0.6; batch 1's 0.1 is not looked at
    assert optuna.pruners.MedianPruner(1).prune(study, running)  # it would be, by Optuna's rule
    assert pruner.prune(study, trial(2, 0.55, TrialState.RUNNING))  # median of 0.1, 0.5, 0.7
    assert pruner.prune(study, trial(1, 0.65, TrialState.RUNNING))  # worse than 0.6


@pytest.mark.slow
def test_the_worker_command_runs_trials_of_the_stages_study(tmp_path):
    """The multi-host form, on one host: `python -m personalab.intent.workers` in the project
    while the stage tunes, on one study (here a journal file) named from the same data."""
    from personalab.core.paths import project_paths
    from personalab.core.status import StageStatus
    from personalab.intent.io import load_inputs, study_storage
    from personalab.intent.params import IntentParams
    from personalab.intent.split import prepare_stage

    (tmp_path / "params").mkdir()
    table().to_csv(tmp_path / "table.csv", index=False)
    storage = str(tmp_path / "shared.journal")  # on several hosts: postgresql://...
    values = {"table_path": "table.csv", "label_column": "bought",
              "tuning": TUNING | {"storage": storage}}  # fmt: skip
    (tmp_path / "params" / "intent.yaml").write_text(yaml.safe_dump(values))
    worker = subprocess.Popen(
        [sys.executable, "-m", "personalab.intent.workers", "--root", str(tmp_path)],
        env=tool_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert "running its trials" in worker.stdout.readline()  # it has opened the study
        paths = project_paths(tmp_path)
        p = IntentParams.from_yaml(paths.params_file("intent"))
        data = prepare_stage(load_inputs(paths, p), p, StageStatus("intent"))
        result = tune_xgboost(data, p, create_study(data, p, study_storage(p, paths)))
        out, err = worker.communicate(timeout=120)
    finally:
        worker.kill()
    assert worker.returncode == 0, err[-3000:]
    trials = result.trials
    assert sorted(trials["number"]) == list(range(N_TRIALS)) and result.n_finished == N_TRIALS
    by_worker = trials["worker"].str.rpartition(":")[2].value_counts()
    ran_there = int(out.split(" trials run here")[0].split()[-1])
    assert by_worker.get(str(worker.pid)) == ran_there > 0
    assert by_worker.get(str(os.getpid())) == N_TRIALS - ran_there


def test_sqlite_is_refused_for_several_workers(tmp_path):
    """SQLite ignores the row lock that hands a queued trial to one worker: two workers could
    run the same trial. The params and the worker command refuse it."""
    with pytest.raises(ParamsError, match="SQLite cannot hand a queued trial to one worker"):
        params(tuning={"n_workers": 2, "storage": "sqlite:///optuna.db"})
    assert params(tuning={"storage": "sqlite:///optuna.db"}).tuning.n_workers == 1  # alone: fine
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "intent.yaml").write_text("tuning: {storage: 'sqlite:///o.db'}\n")
    with pytest.raises(SystemExit) as stop:
        main(["--root", str(tmp_path)])
    assert stop.value.code == 2
