"""Tuning on the validation split: a seeded Optuna TPE study per algorithm with a search space."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from personalab.core.params import flatten
from personalab.core.status import StageStatus
from personalab.recommend.algorithms import fit_candidate
from personalab.recommend.evaluate import evaluate_ranking
from personalab.recommend.holdout import Holdout
from personalab.recommend.params import BASELINES, STAGE, RecommendError, RecommendParams, is_range


def suggest_options(trial: Any, ranges: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """Options for one trial: ``[low, high]`` numbers are ranges (log-scaled when
    ``high / low >= 10``, integers when both bounds are); other lists are choices.
    ``sim_options.<key>`` sets a similarity option."""
    chosen: dict[str, Any] = {}
    for key, values in ranges.items():
        if is_range(values):
            low, high = values
            log = low > 0 and high / low >= 10
            if isinstance(low, int) and isinstance(high, int):
                value = trial.suggest_int(key, low, high, log=log)
            else:
                value = trial.suggest_float(key, float(low), float(high), log=log)
        else:
            value = trial.suggest_categorical(key, list(values))
        chosen[key] = value
    return chosen


def merge_options(base: Mapping[str, Any], chosen: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` options with a trial's values (``sim_options.name`` into ``sim_options``)."""
    out = {k: dict(v) if isinstance(v, Mapping) else v for k, v in base.items()}
    for key, value in chosen.items():
        if "." in key:
            outer, inner = key.split(".", 1)
            out.setdefault(outer, {})
            out[outer] = {**out[outer], inner: value}
        else:
            out[key] = value
    return out


@dataclass
class TuningResult:
    best_options: dict[str, dict[str, Any]]
    validation: dict[str, float]  # the selection metric on validation, per algorithm
    trials: pd.DataFrame  # algorithm, number, state, value, seconds, started, ended, options
    best_trials: dict[str, int] = field(default_factory=dict)  # the trial chosen, per algorithm


#: the trials table; ``started`` and ``ended`` are seconds since the epoch (for MLflow only:
#: the plot data leaves them out, so versioned files do not change with the clock)
TRIAL_COLUMNS = [
    "algorithm", "number", "state", "value", "seconds", "started", "ended", "tuned", "options",
]  # fmt: skip


def tune(
    holdout: Holdout | None,
    params: RecommendParams,
    algorithms: Mapping[str, Mapping[str, Any]] | None = None,
    status: StageStatus | None = None,
) -> TuningResult:
    """Choose every algorithm's options on the validation split; tune those with a space.

    ``algorithms`` (default: ``params.algorithms``) are the Surprise algorithms with their
    options; each with a ``tuning.space`` gets a seeded TPE study of ``n_trials`` (its first
    trial is the configured options when they lie in the space), objective the selection metric
    on ``holdout`` (fit on its ``train``, ranked for its held-out users). The others and the
    baselines are evaluated once with their options. With a ``status``, an algorithm that cannot
    run on this log (a :class:`RecommendError`: memory, a similarity that divides by zero) is
    left out, noted; without, the error stops. Without a ``holdout`` (no validation split)
    nothing is evaluated.
    """
    best: dict[str, dict[str, Any]] = {}
    validation: dict[str, float] = {}
    numbers: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    if holdout is None:
        return TuningResult(best, validation, pd.DataFrame(rows, columns=TRIAL_COLUMNS))
    chosen = params.algorithms if algorithms is None else algorithms
    for name in (*chosen, *BASELINES):
        base = dict(chosen[name] or {}) if name in chosen else {}
        try:
            best[name], validation[name], numbers[name], trials = _tune_one(
                name, base, holdout, params
            )
        except RecommendError as err:
            if status is None or name in BASELINES:
                raise
            status.leave_out(f"algorithm {name}", str(err))
            continue
        rows += trials
    return TuningResult(best, validation, pd.DataFrame(rows, columns=TRIAL_COLUMNS), numbers)


def _tune_one(
    name: str, base: dict[str, Any], holdout: Holdout, params: RecommendParams
) -> tuple[dict[str, Any], float, int, list[dict[str, Any]]]:
    """(best options, their validation metric, the best trial's number, trial rows) of one
    algorithm or baseline."""
    import optuna

    metric = params.selection_metric
    ranges = params.tuning.space.get(name, {}) if params.tuning.n_trials else {}
    if not ranges:
        started = time.time()
        fitted = fit_candidate(name, base, holdout.train, params, holdout.explicit)
        value = evaluate_ranking(fitted, holdout, params.k)[metric]
        row = _trial_row(name, 0, "COMPLETE", value, (started, time.time()), base, tuned=False)
        return base, value, 0, [row]

    def objective(trial: Any) -> float:
        options = merge_options(base, suggest_options(trial, ranges))
        trial.set_user_attr("options", options)
        fitted = fit_candidate(name, options, holdout.train, params, holdout.explicit)
        return evaluate_ranking(fitted, holdout, params.k)[metric]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=params.seed),
        study_name=f"{STAGE}-{name}",
    )
    configured = flatten(base)
    start_point = {key: configured[key] for key in ranges if key in configured}
    if start_point and all(_inside(start_point[key], ranges[key]) for key in start_point):
        study.enqueue_trial(start_point)
    budget = params.tuning.timeout_minutes
    study.optimize(
        objective, n_trials=params.tuning.n_trials, timeout=None if budget is None else budget * 60
    )
    rows = []
    for trial in study.trials:
        times = (trial.datetime_start, trial.datetime_complete)
        span = tuple(t.timestamp() if t else float("nan") for t in times)
        options = trial.user_attrs.get("options", {})
        rows.append(_trial_row(name, trial.number, trial.state.name, trial.value, span, options))
    best = study.best_trial
    return best.user_attrs["options"], float(best.value), best.number, rows


def _inside(value: Any, values: Sequence[Any]) -> bool:
    if is_range(values):
        return isinstance(value, int | float) and values[0] <= value <= values[1]
    return value in values


def _trial_row(
    name: str,
    number: int,
    state: str,
    value: float | None,
    span: tuple[float, float],
    options: Mapping[str, Any],
    tuned: bool = True,
) -> dict[str, Any]:
    """One row of the trials table; ``span`` is (started, ended) in seconds since the epoch."""
    started, ended = span
    return {
        "algorithm": name,
        "number": number,
        "state": state,
        "value": value,
        "seconds": ended - started,
        "started": started,
        "ended": ended,
        "tuned": tuned,
        "options": json.dumps(options, sort_keys=True),
    }
