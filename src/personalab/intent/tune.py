"""Tuning XGBoost: the search space, the pruned trials, the results and their MLflow runs.

An Optuna study (seeded TPE in batches; :mod:`personalab.intent.study`) searches learning
rate, depth, min child weight, subsample, colsample, L1/L2, gamma and ``scale_pos_weight``;
each trial trains with early stopping on the validation metric and reports it every few
rounds so the median pruner can stop bad trials early. ``tuning.n_workers`` processes run
the trials (:mod:`personalab.intent.workers`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from personalab.intent.params import _LOG_SCALE, IntentError, IntentParams, SearchSpace
from personalab.intent.split import IntentData
from personalab.intent.study import BATCH


def xgb_params(params: IntentParams, **tuned: Any) -> dict[str, Any]:
    """Fixed XGBoost settings plus the tuned ones."""
    out = {
        "objective": "binary:logistic",
        "eval_metric": params.tuning.metric,
        "tree_method": "hist",
        "seed": params.seed,
        "verbosity": 0,
    }
    if params.tuning.n_jobs:
        out["nthread"] = params.tuning.n_jobs
    return out | tuned


def fixed_params(space: SearchSpace) -> dict[str, Any]:
    """The parameters whose bounds are equal (not tuned, so absent from a trial's params)."""
    return {name: low for name, (low, high) in space.model_dump().items() if low == high}


def suggest_params(trial: Any, space: SearchSpace) -> dict[str, Any]:
    """One point of the search space."""
    out: dict[str, Any] = {}
    for name, (low, high) in space.model_dump().items():
        if low == high:
            out[name] = low
        elif name == "max_depth":
            out[name] = trial.suggest_int(name, int(low), int(high))
        else:
            out[name] = trial.suggest_float(name, low, high, log=name in _LOG_SCALE)
    return out


class PruneOnValidation:
    """XGBoost callback: report the validation metric to Optuna every few rounds; prune if told."""

    def __new__(cls, trial: Any, metric: str, every: int = 5):
        import xgboost as xgb

        class _Callback(xgb.callback.TrainingCallback):
            def after_iteration(self, model, epoch, evals_log) -> bool:
                if epoch % every:
                    return False
                trial.report(float(evals_log["valid"][metric][-1]), epoch)
                if trial.should_prune():
                    import optuna

                    raise optuna.TrialPruned(f"pruned at round {epoch}")
                return False

        return _Callback()


@dataclass
class TuningResult:
    study: Any
    best_params: dict[str, Any]
    best_rounds: int
    best_value: float
    trials: pd.DataFrame  # number, state, value, rounds, seconds, params..., resumed
    new_trials: int
    resumed_trials: int
    seconds: float

    @property
    def n_pruned(self) -> int:
        return int((self.trials["state"] == "PRUNED").sum())

    @property
    def n_finished(self) -> int:
        return int(self.trials["state"].isin(["COMPLETE", "PRUNED"]).sum())


def tuning_parts(data: IntentData) -> tuple[pd.DataFrame, Any, pd.DataFrame, Any]:
    """The training and validation parts a trial needs (what a worker process receives)."""
    return (*data.part("train"), *data.part("valid"))


def trial_objective(
    parts: tuple[pd.DataFrame, Any, pd.DataFrame, Any],
    params: IntentParams,
    threads: int | None = None,
) -> Callable[[Any], float]:
    """The objective of a trial: XGBoost trained on the training part with the trial's
    parameters (``threads`` threads; None: ``n_jobs``, else all cores), early-stopped and
    reported to the pruner on the validation part; the best validation metric."""
    import xgboost as xgb

    tuning = params.tuning
    X_train, y_train, X_valid, y_valid = parts
    nthread = {"nthread": threads} if threads else {}
    dtrain = xgb.QuantileDMatrix(X_train, y_train, enable_categorical=True, **nthread)
    dvalid = xgb.DMatrix(X_valid, y_valid, enable_categorical=True, **nthread)

    def objective(trial: Any) -> float:
        start = time.perf_counter()
        callbacks = (
            [PruneOnValidation(trial, tuning.metric, tuning.report_every)] if tuning.pruning else []
        )
        try:
            booster = xgb.train(
                xgb_params(params, **suggest_params(trial, tuning.space)) | nthread,
                dtrain,
                num_boost_round=tuning.max_rounds,
                evals=[(dvalid, "valid")],
                early_stopping_rounds=tuning.early_stopping_rounds,
                callbacks=callbacks,
                verbose_eval=False,
            )
        finally:
            trial.set_user_attr("seconds", time.perf_counter() - start)
        trial.set_user_attr("rounds", booster.best_iteration + 1)
        return float(booster.best_score)

    return objective


def tune_xgboost(
    data: IntentData,
    params: IntentParams,
    study: Any,
    on_trial: Callable[[Any], None] | None = None,
) -> TuningResult:
    """Run the study until it holds ``n_trials`` finished trials or the time budget is spent,
    in ``tuning.n_workers`` processes (:func:`~personalab.intent.workers.run_workers`); this
    one plans the batches. ``on_trial`` gets each trial this process finished."""
    import optuna
    from optuna.trial import TrialState

    from personalab.intent.workers import run_workers  # not at import: it is also a command

    tuning = params.tuning
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    finished_states = (TrialState.COMPLETE, TrialState.PRUNED)
    before = {t.number for t in study.get_trials(deepcopy=False, states=finished_states)}
    start = time.perf_counter()
    if len(before) < tuning.n_trials:
        run_workers(study, params, trial_objective, (tuning_parts(data), params), True, on_trial)
    seconds = time.perf_counter() - start
    trials = trials_table(study, before)
    complete = trials[trials["state"] == "COMPLETE"]
    if complete.empty:
        raise IntentError(
            f"study {study.study_name!r} has no complete trial (raise tuning.n_trials or "
            "tuning.timeout_minutes, or set tuning.pruning: false)"
        )
    best = study.best_trial
    return TuningResult(
        study=study,
        best_params=fixed_params(tuning.space) | best.params,
        best_rounds=int(best.user_attrs["rounds"]),
        best_value=float(best.value),
        trials=trials,
        new_trials=int((~trials["resumed"] & trials["state"].isin(["COMPLETE", "PRUNED"])).sum()),
        resumed_trials=len(before),
        seconds=seconds,
    )


def trials_table(study: Any, resumed: set[int] = frozenset()) -> pd.DataFrame:
    """Every trial: number, state, value, rounds, seconds, when it started and completed,
    whether it was resumed, its batch and worker (host:pid), and its params."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        rows.append(
            {
                "number": trial.number,
                "state": trial.state.name,
                "value": trial.value,
                "last_round": trial.last_step,
                "rounds": trial.user_attrs.get("rounds"),
                "seconds": trial.user_attrs.get("seconds"),
                "started": trial.datetime_start,
                "completed": trial.datetime_complete,
                "resumed": trial.number in resumed,
                "batch": trial.user_attrs.get(BATCH),
                "worker": trial.user_attrs.get("worker"),
                **trial.params,
            }
        )
    return pd.DataFrame(rows)


def parameter_importance(study: Any) -> pd.DataFrame:
    """fANOVA importance of each tuned parameter over the complete trials (empty when < 2)."""
    import optuna
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2 or not complete[0].params:
        return pd.DataFrame(columns=["parameter", "importance"])
    try:
        values = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
        )
    except (RuntimeError, ValueError):
        return pd.DataFrame(columns=["parameter", "importance"])
    return pd.DataFrame({"parameter": list(values), "importance": list(values.values())})


#: the trials table's columns that are not trial parameters
TRIAL_FIELDS = ("number", "state", "value", "last_round", "rounds", "seconds", "started",
                "completed", "resumed", "batch", "worker")  # fmt: skip
#: the tags naming a trial's nested run: its study and its number in it
STUDY_TAG, TRIAL_TAG = "optuna.study", "optuna.trial"


def log_tuning(tuning: TuningResult, metric: str) -> list[str]:
    """The best parameters (``best.<name>``) and the chosen trial (``chosen.trial``) on the stage
    run; one nested run per finished trial not logged yet (a resumed study's earlier trials
    were logged by the run that ran them), the best one tagged ``chosen=true``. Returns the ids
    of the runs logged now."""
    import mlflow

    from personalab.core.nested_runs import log_choice, logged_child_runs

    study = tuning.study.study_name
    mlflow.log_params({f"best.{k}": v for k, v in tuning.best_params.items()})
    mlflow.log_params({"best.rounds": tuning.best_rounds, "study_name": study})
    logged = logged_child_runs(TRIAL_TAG, **{STUDY_TAG: study})
    new = tuning.trials[~tuning.trials["number"].astype(str).isin(logged)]
    ids = log_trial_runs(new, metric, study)
    logged |= dict(
        zip(new.loc[new["state"].isin(FINISHED), "number"].astype(str), ids, strict=True)
    )
    best = tuning.study.best_trial.number
    log_choice({"trial": best}, logged.get(str(best)))
    return ids


#: the trial states that are logged (a RUNNING trial belongs to a worker that logs it itself)
FINISHED = ("COMPLETE", "PRUNED", "FAIL")


def log_trial_runs(trials: pd.DataFrame, metric: str, study: str | None = None) -> list[str]:
    """One nested MLflow run per finished trial (params, validation score, rounds, state), from
    its start to its completion, tagged with its ``study`` and number."""
    from personalab.core.nested_runs import log_child_run

    ids = []
    for row in trials[trials["state"].isin(FINISHED)].to_dict("records"):
        params = {k: v for k, v in row.items() if k not in TRIAL_FIELDS and pd.notna(v)}
        params |= {"state": row["state"], "resumed": row["resumed"]}
        metrics = {
            f"valid_{metric}": row["value"],
            "rounds": row["rounds"],
            "seconds": row["seconds"],
            "last_round": row["last_round"],
        }
        metrics = {k: v for k, v in metrics.items() if v is not None and pd.notna(v)}
        tags = {TRIAL_TAG: row["number"]} | ({STUDY_TAG: study} if study else {})
        ids.append(
            log_child_run(
                f"trial-{row['number']:03d}",
                params,
                metrics,
                tags=tags,
                started=_moment(row["started"]),
                ended=_moment(row["completed"]),
                status="FAILED" if row["state"] == "FAIL" else "FINISHED",
            )
        )
    return ids


def _moment(value: Any) -> Any:
    """A trial's datetime, or None when it has none (NaT)."""
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()
