"""Tuning workers: several processes, on one machine or several hosts, run one study's trials.

Every process opens the same storage and study by name and runs queued trials until the study
holds ``tuning.n_trials`` finished (complete or pruned) ones. One process, the stage's, also
plans: when a batch is over (no trial waiting or running) it queues the next one
(:func:`~personalab.intent.study.plan_batch`). A trial leaves the queue atomically (the
storage's WAITING -> RUNNING change succeeds for one process only), so none runs twice, and
the trials and their values are those of a one-worker run.

- On one machine: ``tuning.n_workers`` processes (the stage's and ``n_workers - 1`` started
  with multiprocessing's "spawn"), sharing the journal file; XGBoost gets
  ``cores / n_workers`` threads each unless ``tuning.n_jobs`` is set.
- On several hosts: ``tuning.storage`` is an RDB URL (``postgresql://...``, ``mysql+pymysql://...``; not SQLite)
  that every host reaches; the stage runs on one host and ``python -m
  personalab.intent.workers`` on the others (same project, data and params).

A worker that dies leaves its trial RUNNING; the planner marks it FAILED (same host, see
:func:`~personalab.intent.study.fail_dead_trials`) and the study goes on without it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import pickle
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from personalab.intent.params import SQLITE_WORKERS, IntentError, IntentParams, is_sqlite
from personalab.intent.study import fail_dead_trials, load_study, plan_batch, worker_id

#: seconds between two looks at the study while no trial is queued
POLL_SECONDS = 0.2
#: makes an objective in a worker process: ``factory(*args, threads=...)``
ObjectiveFactory = Callable[..., Callable[[Any], float]]


def worker_threads(params: IntentParams) -> int | None:
    """XGBoost threads of each worker: ``n_jobs``, else the cores shared among ``n_workers``
    (None, all cores, for one worker)."""
    tuning = params.tuning
    if tuning.n_jobs is not None:
        return tuning.n_jobs
    if tuning.n_workers == 1:
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max((cores or 1) // tuning.n_workers, 1)


def run_workers(
    study: Any,
    params: IntentParams,
    factory: ObjectiveFactory,
    args: tuple = (),
    plan: bool = True,
    on_trial: Callable[[Any], None] | None = None,
) -> int:
    """Run the study's trials in this process and ``n_workers - 1`` spawned ones until it
    holds ``n_trials`` finished trials or ``timeout_minutes`` have passed; return how many
    this process ran. ``factory(*args, threads=...)`` makes the objective in each process (a
    module-level function: spawned processes import it); ``plan``: this process queues the
    batches (one process per study); ``on_trial`` gets each trial this process finished."""
    tuning = params.tuning
    deadline = time.time() + tuning.timeout_minutes * 60
    threads = worker_threads(params)
    helpers: list = []
    with tempfile.TemporaryDirectory(prefix="personalab-tuning-") as scratch:
        if tuning.n_workers > 1 and _finished(_states(study)) < tuning.n_trials:
            # the objective's arguments (the data) go through a file: a spawned process that
            # fails before reading a large argument would leave the parent blocked writing it
            args_file = Path(scratch) / "args.pickle"
            args_file.write_bytes(pickle.dumps(args, protocol=pickle.HIGHEST_PROTOCOL))
            context = multiprocessing.get_context("spawn")
            helpers = [
                context.Process(
                    target=_work_in_process,
                    args=(study.study_name, study._storage, params, factory, str(args_file)),
                    kwargs={"threads": threads, "deadline": deadline},
                    name=f"intent-tuning-worker-{k + 1}",
                    daemon=True,
                )
                for k in range(tuning.n_workers - 1)
            ]
            for helper in helpers:
                helper.start()
        try:
            objective = factory(*args, threads=threads)
            ran = run_trials(study, objective, params, deadline, plan, on_trial, helpers)
            for helper in helpers:
                helper.join()  # they stop once the study holds n_trials, or at the deadline
            _check(helpers)
        finally:
            for helper in helpers:
                if helper.is_alive():
                    helper.terminate()
                    helper.join()
    return ran


def run_trials(
    study: Any,
    objective: Callable[[Any], float],
    params: IntentParams,
    deadline: float,
    plan: bool = False,
    on_trial: Callable[[Any], None] | None = None,
    helpers: list = (),
) -> int:
    """This process's loop: take a queued trial and run it, until the study holds ``n_trials``
    finished trials or ``deadline`` (a ``time.time()``) passes. While none is queued, the
    planner (``plan``) queues the next batch once the last is over, else waits. Returns how
    many trials this process ran."""
    from optuna.trial import TrialState

    ran = 0
    parent = multiprocessing.parent_process()
    while time.time() < deadline:
        _check(helpers)
        if _finished(_states(study)) >= params.tuning.n_trials:
            break
        trial = pop_trial(study)
        if trial is not None:
            frozen = run_trial(study, trial, objective)
            ran += 1
            if on_trial is not None:
                on_trial(frozen)
            continue
        if plan:
            states = _states(study)
            if not states[TrialState.WAITING] and not states[TrialState.RUNNING]:
                if plan_batch(study, params) == 0:
                    break
                continue
            fail_dead_trials(study)  # a dead worker's trial would hold the batch forever
        elif parent is not None and not parent.is_alive():
            break  # the stage that started this worker is gone
        time.sleep(POLL_SECONDS)
    return ran


def pop_trial(study: Any) -> Any:
    """The first queued trial, now RUNNING in this process; None when none is queued.

    Unlike ``study.ask()``, which creates a trial when the queue is empty, this never creates
    one (only :func:`~personalab.intent.study.plan_batch` does): the storage's WAITING ->
    RUNNING change succeeds for one process only (as in Optuna's own queue)."""
    import optuna
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    storage = study._storage
    waiting = storage.get_all_trials(study._study_id, deepcopy=False, states=(TrialState.WAITING,))
    for queued in waiting:
        try:
            if not storage.set_trial_state_values(queued._trial_id, state=TrialState.RUNNING):
                continue  # another worker took it
        except UpdateFinishedTrialError:
            continue
        trial = optuna.Trial(study, queued._trial_id)
        trial.set_user_attr("worker", worker_id())
        return trial
    return None


def run_trial(study: Any, trial: Any, objective: Callable[[Any], float]) -> Any:
    """Run ``objective`` on ``trial`` and record its end: COMPLETE with the value, PRUNED with
    its last reported value, or FAIL (the error is raised again)."""
    import optuna
    from optuna.trial import TrialState

    try:
        value = objective(trial)
    except optuna.TrialPruned:
        return study.tell(trial, state=TrialState.PRUNED)
    except BaseException:
        study.tell(trial, state=TrialState.FAIL)
        raise
    return study.tell(trial, value)


def _states(study: Any) -> Counter:
    return Counter(t.state for t in study.get_trials(deepcopy=False))


def _finished(states: Counter) -> int:
    from optuna.trial import TrialState

    return states[TrialState.COMPLETE] + states[TrialState.PRUNED]


def _check(helpers: list) -> None:
    failed = [h for h in helpers if h.exitcode not in (None, 0)]
    if failed:
        raise IntentError(
            f"tuning worker {failed[0].name} (pid {failed[0].pid}) ended with exit code "
            f"{failed[0].exitcode}; its error is printed above (set tuning.n_workers: 1 to run "
            "the trials in the stage's process)"
        )


def _work_in_process(
    name: str,
    storage: Any,
    params: IntentParams,
    factory: ObjectiveFactory,
    args_file: str,
    threads: int | None,
    deadline: float,
) -> None:
    """A spawned worker: open the study and run queued trials (never plans)."""
    args = pickle.loads(Path(args_file).read_bytes())  # written by run_workers
    study = load_study(name, storage, params)
    run_trials(study, factory(*args, threads=threads), params, deadline)


def main(argv: list[str] | None = None) -> int:
    """``python -m personalab.intent.workers``: run trials of the intent stage's study on this
    host, from the project's params and data, while the stage runs on another host."""
    from personalab.core.paths import project_paths
    from personalab.core.status import StageStatus
    from personalab.intent.io import load_inputs, study_storage
    from personalab.intent.params import STAGE
    from personalab.intent.split import prepare_stage
    from personalab.intent.study import create_study
    from personalab.intent.tune import trial_objective, tuning_parts

    parser = argparse.ArgumentParser(
        prog="python -m personalab.intent.workers",
        description="Run trials of the intent stage's Optuna study on this host (the stage, "
        "running on another host with the same tuning.storage, plans them).",
    )
    parser.add_argument("--root", help="the project (default: found from the working directory)")
    parser.add_argument(
        "--workers", type=int, help="processes on this host (default: tuning.n_workers)"
    )
    options = parser.parse_args(argv)
    paths = project_paths(options.root)
    params = IntentParams.from_yaml(paths.params_file(STAGE))
    if is_sqlite(params.tuning.storage):
        parser.error(f"tuning.storage is {SQLITE_WORKERS}")
    if options.workers is not None:
        tuning = params.tuning.model_copy(update={"n_workers": max(options.workers, 1)})
        params = params.model_copy(update={"tuning": tuning})
    data = prepare_stage(load_inputs(paths, params), params, StageStatus(STAGE))
    if data is None:
        print("the intent stage has nothing to learn on this data: no trials to run")
        return 0
    study = create_study(data, params, study_storage(params, paths))
    print(f"study {study.study_name}: running its trials on {socket.gethostname()}", flush=True)
    ran = run_workers(study, params, trial_objective, (tuning_parts(data), params), plan=False)
    finished = _finished(_states(study))
    print(f"{ran} trials run here; the study holds {finished} of {params.tuning.n_trials}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
