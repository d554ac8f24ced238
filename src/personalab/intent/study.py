"""The Optuna study: its name, creating or resuming it, its batches of trials, its pruner and
the trials of dead workers.

The study lives in ``storage`` (:func:`~personalab.intent.io.study_storage`: default the
journal file ``studies/intent.journal``; an RDB URL such as ``sqlite:///optuna.db`` or
``postgresql://...`` also works) under a name derived from the data and the search space,
so a run that was interrupted resumes with the trials it had finished, and several
processes can work on one study (:mod:`personalab.intent.workers`).

Trials are planned in batches of ``batch_size`` (:func:`plan_batch`), random until
``startup_trials`` have finished, then proposed by a seeded TPE sampler from the trials
finished before the batch, and queued in the study. The median pruner of a trial looks
only at complete trials of earlier batches (:class:`BatchMedianPruner`). So which worker runs
a trial, and when, changes nothing: one worker or several run the same trials, with the same
parameters, pruning decisions and values.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import warnings
from typing import Any

import numpy as np
import pandas as pd

from personalab.evaluation.classification import LOWER_IS_BETTER
from personalab.intent.params import _LOG_SCALE, STAGE, IntentParams, SearchSpace
from personalab.intent.split import IntentData

#: the user attribute holding a trial's batch (see :func:`plan_batch`)
BATCH = "batch"


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
        exclude={"n_trials", "timeout_minutes", "storage", "study_name", "n_jobs", "n_workers"}
    )
    digest.update(json.dumps([settings, params.seed], sort_keys=True).encode())
    return digest.hexdigest()[:12]


def create_study(data: IntentData, params: IntentParams, storage: Any) -> Any:
    """Create or load the study (batch median pruner; its trials are planned by
    :func:`plan_batch`); fail trials of dead processes.

    Optuna logs warnings only (not its INFO line on each study created or trial finished)."""
    import optuna

    tuning = params.tuning
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = tuning.study_name or f"{STAGE}-{study_fingerprint(data, params)}"
    study = optuna.create_study(
        storage=storage,
        sampler=optuna.samplers.RandomSampler(params.seed),  # unused: every trial is planned
        pruner=make_pruner(params),
        study_name=name,
        direction="minimize" if tuning.metric in LOWER_IS_BETTER else "maximize",
        load_if_exists=True,
    )
    fail_dead_trials(study)
    return study


def load_study(name: str, storage: Any, params: IntentParams) -> Any:
    """The study ``name`` in ``storage``, with the stage's pruner (a worker's view of it)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(
        study_name=name,
        storage=storage,
        sampler=optuna.samplers.RandomSampler(params.seed),
        pruner=make_pruner(params),
    )


def make_pruner(params: IntentParams) -> Any:
    """The median pruner over earlier batches, or none (``tuning.pruning: false``)."""
    import optuna

    tuning = params.tuning
    if not tuning.pruning:
        return optuna.pruners.NopPruner()
    return BatchMedianPruner(max(tuning.startup_trials // 2, 1), tuning.pruner_warmup_rounds)


class BatchMedianPruner:
    """Optuna's median rule with the complete trials of earlier batches only: a trial is pruned
    at a step when its best value so far is worse than their median at that step (after
    ``warmup_steps``, once ``startup_trials`` of them are complete). Trials that run at the same
    time never judge each other, so a decision does not depend on the order trials finish in."""

    def __new__(cls, startup_trials: int, warmup_steps: int):
        from optuna.pruners import BasePruner
        from optuna.study import StudyDirection
        from optuna.trial import TrialState

        class _Pruner(BasePruner):
            def prune(self, study: Any, trial: Any) -> bool:
                step = trial.last_step
                if step is None or step < warmup_steps:
                    return False
                batch = trial.user_attrs.get(BATCH)
                earlier = [
                    t
                    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                    if batch is None or t.user_attrs.get(BATCH, -1) < batch
                ]
                at_step = [
                    t.intermediate_values[step] for t in earlier if step in t.intermediate_values
                ]
                if len(earlier) < startup_trials or not at_step:
                    return False
                own = np.asarray(list(trial.intermediate_values.values()), dtype=float)
                if np.isnan(own).all():
                    return True
                median = float(np.nanmedian(at_step))
                if study.direction == StudyDirection.MAXIMIZE:
                    return bool(np.nanmax(own) < median)
                return bool(np.nanmin(own) > median)

        return _Pruner()


def search_distributions(space: SearchSpace) -> dict[str, Any]:
    """The Optuna distribution of each tuned parameter (those with unequal bounds)."""
    from optuna.distributions import FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for name, (low, high) in space.model_dump().items():
        if low == high:
            continue
        if name == "max_depth":
            out[name] = IntDistribution(int(low), int(high))
        else:
            out[name] = FloatDistribution(low, high, log=name in _LOG_SCALE)
    return out


def plan_batch(study: Any, params: IntentParams) -> int:
    """Queue the study's next batch of trials; return how many (0: it holds ``n_trials``).

    Call it when no trial is waiting or running. A batch has ``batch_size`` trials (never
    beyond ``n_trials`` finished ones). While fewer than ``startup_trials`` have finished
    they are random (never beyond ``startup_trials``): the next draws of one random stream
    seeded by ``seed``. Then a multivariate TPE sampler proposes them from the finished
    trials, in their order, seeing the batch's earlier proposals as running (constant liar,
    so they spread out); it is seeded by ``seed`` for the first TPE batch, else by (seed,
    batch number). So the random trials and the first TPE proposal are those of a TPE
    sampler seeded by ``seed`` run one trial at a time."""
    import optuna
    from optuna.trial import TrialState

    tuning = params.tuning
    trials = study.get_trials(deepcopy=False)
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    size = min(tuning.batch_size, tuning.n_trials - len(finished))
    startup = len(finished) < tuning.startup_trials
    if startup:
        size = min(size, tuning.startup_trials - len(finished))
    if size <= 0:
        return 0
    batches = [int(t.user_attrs[BATCH]) for t in trials if BATCH in t.user_attrs]
    batch = 1 + max(batches, default=-1)
    if startup:  # the draws after those of the trials planned so far (failed ones included)
        sampler = optuna.samplers.RandomSampler(params.seed)
        history, skip = [], len(batches)
    else:
        history, skip = sorted(finished, key=lambda t: t.number), 0
        sampler = _tpe_sampler(params, batch, [int(t.user_attrs.get(BATCH, -1)) for t in finished])
    draft = optuna.create_study(direction=study.direction, sampler=sampler)
    draft.add_trials(history)
    distributions = search_distributions(tuning.space)
    proposals = [draft.ask(distributions).params for _ in range(skip + size)][skip:]
    for proposal in proposals:
        study.enqueue_trial(proposal, user_attrs={BATCH: batch})
    return size


def _tpe_sampler(params: IntentParams, batch: int, finished_batches: list[int]) -> Any:
    """The TPE sampler of a batch: seeded by ``seed`` when it is the first TPE batch (the one
    before it was planned with fewer than ``startup_trials`` finished), else by (seed, batch)."""
    import optuna

    before_last = sum(b < batch - 1 for b in finished_batches)  # finished when it was planned
    seed = params.seed
    if batch > 0 and before_last >= params.tuning.startup_trials:  # an earlier TPE batch
        seed = int(np.random.SeedSequence([params.seed, batch]).generate_state(1)[0])
    with warnings.catch_warnings():  # multivariate is "experimental" since Optuna 2.2
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=seed,
            n_startup_trials=params.tuning.startup_trials,
            multivariate=True,
            constant_liar=True,
        )
