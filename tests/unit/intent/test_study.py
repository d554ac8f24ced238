"""An interrupted Optuna study resumes: a process killed mid-study loses only its running trial."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import tool_env
from tests.unit.intent.helpers import params

pytestmark = pytest.mark.slow

N_TRIALS = 10
#: tunes a fixed synthetic table in the journal file argv[1]; prints the TuningResult counts
SCRIPT = f"""
import json, sys
import numpy as np, pandas as pd
from personalab.intent.io import open_storage
from personalab.intent.params import IntentParams
from personalab.intent.split import prepare_data
from personalab.intent.study import create_study
from personalab.intent.tune import tune_xgboost

rng = np.random.default_rng(0)
X = pd.DataFrame(rng.normal(size=(4000, 8)), columns=[f"x{{i}}" for i in range(8)])
y = (X["x0"] + X["x1"] * X["x2"] + rng.normal(size=len(X)) > 1).astype(int)
table = X.assign(bought=y)
params = IntentParams.from_mapping({{
    "label_column": "bought",
    "tuning": {{"n_trials": {N_TRIALS}, "storage": sys.argv[1], "pruning": False,
                "max_rounds": 400, "early_stopping_rounds": 400, "n_jobs": 1,
                "space": {{"learning_rate": [0.01, 0.02]}}}},
}})
data = prepare_data(table, params)
study = create_study(data, params, open_storage(sys.argv[1], None))
result = tune_xgboost(data, params, study)
print(json.dumps({{"study": study.study_name, "resumed": result.resumed_trials,
                  "new": result.new_trials, "finished": result.n_finished}}))
"""


def finished_trials(journal: Path) -> dict[int, float]:
    import optuna
    from optuna.storages.journal import JournalFileBackend
    from optuna.trial import TrialState

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
    summaries = optuna.get_all_study_summaries(storage)
    if not summaries:
        return {}
    study = optuna.load_study(study_name=summaries[0].study_name, storage=storage)
    return {
        t.number: t.value for t in study.get_trials(states=(TrialState.COMPLETE,), deepcopy=False)
    }


def all_states(journal: Path) -> list[str]:
    import optuna
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
    name = optuna.get_all_study_summaries(storage)[0].study_name
    return [t.state.name for t in optuna.load_study(study_name=name, storage=storage).trials]


def test_killed_study_resumes_keeping_finished_trials(tmp_path):
    journal = tmp_path / "study.journal"
    script = tmp_path / "tune.py"
    script.write_text(SCRIPT)
    cmd = [sys.executable, str(script), str(journal)]
    first = subprocess.Popen(cmd, env=tool_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and first.poll() is None:
        # three trials done and the next one running (not between two: a trial waits briefly
        # before it runs)
        ready = journal.exists() and len(finished_trials(journal)) >= 3
        if ready and "RUNNING" in all_states(journal):
            break
        time.sleep(0.05)
    assert first.poll() is None, "the study finished before it could be interrupted"
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    before = finished_trials(journal)
    assert 3 <= len(before) < N_TRIALS
    assert "RUNNING" in all_states(journal)  # the trial in flight when the process died

    second = subprocess.run(cmd, env=tool_env(), capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    report = json.loads(second.stdout.strip().splitlines()[-1])
    after = finished_trials(journal)
    # the finished trials are kept with their values, not redone; only the missing ones are run
    assert {n: after[n] for n in before} == before
    assert report["resumed"] == len(before)
    assert report["new"] == N_TRIALS - len(before)
    assert report["finished"] == len(after) == N_TRIALS
    states = all_states(journal)
    assert "RUNNING" not in states and states.count("FAIL") == 1  # the dead process's trial

    # a third run on the same data finds the study complete and trains nothing
    third = subprocess.run(cmd, env=tool_env(), capture_output=True, text=True, timeout=300)
    assert json.loads(third.stdout.strip().splitlines()[-1])["new"] == 0


def _tuning_result(study, resumed: set[int]):
    from personalab.intent.tune import TuningResult, trials_table

    best = study.best_trial
    return TuningResult(
        study=study, best_params=best.params, best_rounds=int(best.user_attrs["rounds"]),
        best_value=best.value, trials=trials_table(study, resumed), new_trials=0,
        resumed_trials=len(resumed), seconds=0.0,
    )  # fmt: skip


def test_a_resumed_study_logs_each_trial_once_with_its_real_times_and_marks_the_best(
    tmp_path, mlflow_tmp
):
    """Each stage run logs the trials no run has logged yet (not the resumed ones again), from
    the trial's start to its completion; the best trial's run is tagged chosen."""
    import optuna
    from mlflow.tracking import MlflowClient

    from personalab.core import tracking
    from personalab.core.paths import ProjectPaths
    from personalab.intent.tune import log_tuning

    (tmp_path / "proj" / "params").mkdir(parents=True)
    paths = ProjectPaths(tmp_path / "proj")

    def objective(trial):
        trial.set_user_attr("rounds", 10)
        time.sleep(0.05)
        return (trial.suggest_float("learning_rate", 0.0, 1.0) - 0.3) ** 2

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    runs, best = [], []
    # a first run with 3 trials, a run that resumes and adds 2, one that resumes and adds none
    for added in (3, 2, 0):
        resumed = {t.number for t in study.trials}
        study.optimize(objective, n_trials=added)
        runs.append(tracking.start_stage_run("intent", params(), paths=paths))
        log_tuning(_tuning_result(study, resumed), "logloss")
        tracking.end_stage_run()
        best.append(study.best_trial.number)

    client = MlflowClient()
    stage_runs = [client.get_run(run_id) for run_id in runs]
    children = client.search_runs(
        [stage_runs[0].info.experiment_id], filter_string="tags.`optuna.trial` != ''"
    )
    by_trial = {int(c.data.tags["optuna.trial"]): c for c in children}
    assert sorted(by_trial) == [0, 1, 2, 3, 4] and len(children) == 5  # 3 + 2 + 0, none twice
    parents = [by_trial[n].data.tags["mlflow.parentRunId"] for n in range(5)]
    assert parents == [runs[0]] * 3 + [runs[1]] * 2
    for trial in study.trials:
        run = by_trial[trial.number]
        assert run.info.start_time == int(round(trial.datetime_start.timestamp() * 1000))
        assert run.info.end_time - run.info.start_time >= 50  # the trial's time, not logging's
        assert run.data.tags["optuna.study"] == study.study_name
    for run, chosen in zip(stage_runs, best, strict=True):
        assert run.data.params["chosen.trial"] == run.data.tags["chosen.trial"] == str(chosen)
        assert run.data.tags["chosen.run_id"] == by_trial[chosen].info.run_id  # maybe resumed
    assert {n for n, c in by_trial.items() if c.data.tags["chosen"] == "true"} == set(best)
