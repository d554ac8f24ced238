"""The Optuna study: its name, creating or resuming it, and the trials of dead workers.

The study lives in ``storage`` (:func:`~personalab.intent.io.study_storage`: default the
journal file ``studies/intent.journal``; an RDB URL such as ``sqlite:///optuna.db`` or
``postgresql://...`` also works) under a name derived from the data and the search space,
so a run that was interrupted resumes with the trials it had finished, and several
processes can work on one study.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from typing import Any

import pandas as pd

from personalab.evaluation.classification import LOWER_IS_BETTER
from personalab.intent.params import STAGE, IntentParams
from personalab.intent.split import IntentData


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def fail_dead_trials(study: Any) -> int:
    """Mark RUNNING trials of processes that died on this host FAILED; return how many."""
    from optuna.trial import TrialState

    host = socket.gethostname()
    failed = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = str(trial.user_attrs.get("worker", ""))
        name, _, pid = worker.rpartition(":")
        if name == host and pid.isdigit() and not _alive(int(pid)):
            study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
            failed += 1
    return failed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def study_fingerprint(data: IntentData, params: IntentParams) -> str:
    """A short hash of the training and validation data, the split and the search settings."""
    digest = hashlib.md5()
    rows = data.split.train_valid
    digest.update(pd.util.hash_pandas_object(data.X.iloc[rows], index=False).to_numpy().tobytes())
    digest.update(data.y[rows].tobytes())
    digest.update(data.split.valid.tobytes())
    settings = params.tuning.model_dump(
        exclude={"n_trials", "timeout_minutes", "storage", "study_name", "n_jobs"}
    )
    digest.update(json.dumps([settings, params.seed], sort_keys=True).encode())
    return digest.hexdigest()[:12]


def create_study(data: IntentData, params: IntentParams, storage: Any) -> Any:
    """Create or load the study (seeded TPE, median pruner); fail trials of dead processes.

    Optuna logs warnings only (not its INFO line on each study created or trial finished)."""
    import optuna

    tuning = params.tuning
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(
        seed=params.seed,
        n_startup_trials=tuning.startup_trials,
        multivariate=True,
        constant_liar=True,
    )
    pruner = (
        optuna.pruners.MedianPruner(
            n_startup_trials=max(tuning.startup_trials // 2, 1),
            n_warmup_steps=tuning.pruner_warmup_rounds,
        )
        if tuning.pruning
        else optuna.pruners.NopPruner()
    )
    name = tuning.study_name or f"{STAGE}-{study_fingerprint(data, params)}"
    study = optuna.create_study(
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        study_name=name,
        direction="minimize" if tuning.metric in LOWER_IS_BETTER else "maximize",
        load_if_exists=True,
    )
    fail_dead_trials(study)
    return study
