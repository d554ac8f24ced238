"""An interrupted Optuna study resumes: a process killed mid-study loses only its running trial."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import tool_env

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
        if journal.exists() and len(finished_trials(journal)) >= 3:
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
