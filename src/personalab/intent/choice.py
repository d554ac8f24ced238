"""Which model is served: the tuned one, unless a simple baseline beats it on the test rows.

The tuned model is compared with the logistic regression and default XGBoost baselines by test
ROC AUC, with a paired bootstrap interval of the difference over the test rows. A baseline
better within noise leaves the tuned model served, with a warning. A baseline better beyond
noise is served instead (the better one, when both are): it is refitted as the tuned model
is (calibration and threshold chosen on validation, refit on training + validation;
:func:`~personalab.intent.final.fit_baseline_model`), scored on the test rows, and the stage
says so. Its test metrics become the stage's (what the registry and the export stage's
personalise gate read), with the tuned model's ROC AUC and PR AUC beside them. This is the
recommend stage's rule, where popularity is served when it wins on test beyond noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from personalab.evaluation.classification import NEAR_CHANCE_AUC
from personalab.intent.baselines import BaselineScores
from personalab.intent.evaluate import MIN_INTERVAL_ROWS, HoldoutEvaluation, evaluate_on_test
from personalab.intent.final import FinalModel, fit_baseline_model
from personalab.intent.params import BASELINE_LABELS, IntentParams, model_label
from personalab.intent.split import IntentData
from personalab.intent.tune import TuningResult


@dataclass
class Gap:
    """A baseline whose test ROC AUC is above the tuned model's, and how sure that is."""

    name: str
    model_auc: float
    base_auc: float
    how: str  # the interval, or why there is none
    beyond_noise: bool

    @property
    def label(self) -> str:
        return BASELINE_LABELS[self.name]


def baseline_gaps(
    evaluation: HoldoutEvaluation,
    baselines: BaselineScores,
    data: IntentData,
    seed: int = 0,
    resamples: int = 200,
) -> list[Gap]:
    """The baselines above the tuned model's test ROC AUC (none when the test rows hold one
    class), each with a 95% paired bootstrap interval of the difference; below
    :data:`~personalab.intent.evaluate.MIN_INTERVAL_ROWS` positive or negative test rows no
    interval is any guide, and the loss is taken as noise."""
    from sklearn.metrics import roc_auc_score

    y, p = data.y[data.split.test], evaluation.probabilities
    if len(np.unique(y)) < 2:
        return []
    model_auc = float(roc_auc_score(y, p))
    gaps = []
    for name in BASELINE_LABELS:
        scores = baselines.probabilities.get(name)
        if scores is None:
            continue
        base_auc = float(roc_auc_score(y, scores))
        if model_auc >= base_auc:
            continue
        beyond = False
        if (fewer := int(min(y.sum(), y.size - y.sum()))) < MIN_INTERVAL_ROWS:
            kind = "positive" if y.sum() <= y.size - y.sum() else "negative"
            how = f"{fewer} {kind} test row(s): too few to tell it from noise"
        else:
            draws = _resampled(y, seed, resamples)
            diff = [roc_auc_score(y[d], p[d]) - roc_auc_score(y[d], scores[d]) for d in draws]
            low, high = np.percentile(diff, [2.5, 97.5]) if diff else (np.nan, np.nan)
            beyond = bool(high < 0)
            verdict = "the baseline is better beyond noise" if beyond else "within noise"
            how = f"95% bootstrap interval {low:+.4f} to {high:+.4f} over {y.size:,} test rows: "
            how += verdict
        gaps.append(Gap(name, model_auc, base_auc, how, beyond))
    return gaps


def choose_served(
    final: FinalModel,
    evaluation: HoldoutEvaluation,
    baselines: BaselineScores,
    data: IntentData,
    params: IntentParams,
    tuning: TuningResult,
    status: Any,
    oracle: np.ndarray | None = None,
) -> tuple[FinalModel, HoldoutEvaluation]:
    """The model to serve and its test evaluation (module docstring), said in ``status``:
    a baseline better within noise is a warning, one better beyond noise is served (an
    adaptation); a served model near chance is a warning too."""
    from sklearn.metrics import roc_auc_score

    gaps = baseline_gaps(evaluation, baselines, data, params.seed)
    winners = [gap for gap in gaps if gap.beyond_noise]
    for gap in gaps:
        if gap in winners:
            continue
        status.warn(
            f"{_difference(gap)}; the tuned model stays the one served, so compare "
            "reports/intent/comparison.csv before relying on it"
        )
    if winners:
        best = max(winners, key=lambda gap: gap.base_auc)
        final, evaluation = _serve_baseline(
            best, evaluation, baselines, data, params, tuning, status, oracle
        )
        for gap in winners:
            if gap is not best:
                status.warn(f"{_difference(gap)}; the {best.label} baseline is better still")
    y = data.y[data.split.test]
    auc = float(roc_auc_score(y, evaluation.probabilities)) if len(np.unique(y)) == 2 else np.nan
    if auc < NEAR_CHANCE_AUC:
        status.warn(
            f"{model_label(final.name)}'s test ROC AUC {auc:.4f} is "
            f"{'no' if auc <= 0.5 else 'barely'} better than chance (0.5): "
            "a threshold on it splits users almost at random, so the export stage does not "
            "gate the personalise rule on it (personalise.min_intent_roc_auc in "
            f"params/export.yaml, {NEAR_CHANCE_AUC:g} by default)"
        )
    return final, evaluation


def _serve_baseline(
    best: Gap,
    tuned_evaluation: HoldoutEvaluation,
    baselines: BaselineScores,
    data: IntentData,
    params: IntentParams,
    tuning: TuningResult,
    status: Any,
    oracle: np.ndarray | None,
) -> tuple[FinalModel, HoldoutEvaluation]:
    served = fit_baseline_model(data, best.name, params, status)
    evaluation = evaluate_on_test(served, baselines, data, params, tuning, oracle)
    tuned = tuned_evaluation.metrics
    evaluation.metrics |= {
        "tuned_test_roc_auc": tuned["test_roc_auc"],
        "tuned_test_pr_auc": tuned["test_pr_auc"],
    }
    first = evaluation.comparison.iloc[:1].assign(model=f"{best.name}_served")
    others = tuned_evaluation.comparison.assign(served=False)
    evaluation.comparison = pd.concat([first, others], ignore_index=True)
    status.adapted(
        f"the {best.label} baseline is served, not the tuned model: {_difference(best)}. "
        "It is calibrated and thresholded on validation and refitted on training + validation "
        f"as the tuned model is; its test ROC AUC so served is "
        f"{evaluation.metrics['test_roc_auc']:.4f}, and the stage's test metrics are its own "
        "(the tuned model's are tuned_test_roc_auc and tuned_test_pr_auc)"
    )
    return served, evaluation


def _difference(gap: Gap) -> str:
    return (
        f"the tuned model's test ROC AUC {gap.model_auc:.4f} is below the {gap.label} "
        f"baseline's {gap.base_auc:.4f} (difference {gap.model_auc - gap.base_auc:+.4f}, "
        f"{gap.how})"
    )


def _resampled(y: np.ndarray, seed: int, resamples: int):
    """Bootstrap resamples of ``y``'s rows, one at a time (the same ones for the same seed),
    keeping those with both classes."""
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        draw = rng.integers(0, y.size, y.size)
        if 0 < y[draw].sum() < y.size:
            yield draw
