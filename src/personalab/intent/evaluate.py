"""Scoring the test rows once: the model, the baselines and the generator's true probability.

Metrics (:func:`~personalab.evaluation.classification.classification_report`):

=====================  =======================================================================
roc_auc                area under the ROC curve
pr_auc                 average precision (area under the precision-recall curve)
log_loss, brier        mean log loss and mean squared error of the probabilities
f1, precision, recall  at the threshold chosen on validation
ece                    expected calibration error: mean |mean probability - positive rate| over
                       ``calibration_bins`` equal-width bins, weighted by their share of rows
lift_at_top            positive rate among the ``top_share`` highest scores / overall rate
gains_at_top           share of all positives found in the ``top_share`` highest scores
=====================  =======================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from personalab.evaluation.classification import (
    NEAR_CHANCE_AUC,
    classification_report,
    gains_table,
    reliability_table,
)
from personalab.intent.baselines import BaselineScores
from personalab.intent.final import FinalModel
from personalab.intent.params import TIME_COLUMN, IntentParams
from personalab.intent.split import IntentData
from personalab.intent.tune import TuningResult


@dataclass
class HoldoutEvaluation:
    metrics: dict[str, Any]
    probabilities: np.ndarray
    curves: dict[str, pd.DataFrame]  # roc, pr, calibration, gains
    comparison: pd.DataFrame  # model and baselines: every test metric


def evaluate_on_test(
    final: FinalModel,
    baselines: BaselineScores,
    data: IntentData,
    params: IntentParams,
    tuning: TuningResult,
    oracle: np.ndarray | None = None,
) -> HoldoutEvaluation:
    """Score the test rows once: the model, the baselines and (when known) the true probability.
    The metrics name the target (``label``, ``target_event``, ``horizon_days``)."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    test = data.split.test
    y = data.y[test]
    p = final.model.predict_proba(data.raw.iloc[test])
    threshold = final.model.threshold
    bins, share = params.calibration_bins, params.top_share
    report = classification_report(y, p, threshold, bins, share)
    rows = [{"model": "xgboost_tuned", **report}]
    for name, scores in baselines.probabilities.items():
        rows.append({"model": name, **classification_report(y, scores, threshold, bins, share)})
    metrics: dict[str, Any] = {f"test_{k}": v for k, v in report.items()}
    metrics |= {
        "threshold": threshold,
        "ece": report["ece"],
        "calibration": str(final.calibration.loc[final.calibration["chosen"], "method"].iloc[0]),
        "n_trials": tuning.n_finished,
        "n_pruned": tuning.n_pruned,
        "best_trial_value": tuning.best_value,
        "best_rounds": tuning.best_rounds,
        "train_rows": int(len(data.split.train_valid)),
        "test_rows": int(len(test)),
        "positive_rate": float(data.y.mean()),
        "test_positive_rate": float(y.mean()),
        "features": len(data.encoder.columns_),
        **data.target.metrics(),
    }
    for name in baselines.probabilities:
        row = next(r for r in rows if r["model"] == name)
        metrics[f"baseline_{name}_roc_auc"] = row["roc_auc"]
        metrics[f"baseline_{name}_pr_auc"] = row["pr_auc"]
    if oracle is not None:
        from sklearn.metrics import roc_auc_score

        known = np.isfinite(oracle)
        both = len(np.unique(y[known])) == 2
        metrics["oracle_roc_auc"] = (
            float(roc_auc_score(y[known], oracle[known])) if both else float("nan")
        )
        metrics["oracle_gap"] = metrics["oracle_roc_auc"] - metrics["test_roc_auc"]
        rows.append(
            {
                "model": "oracle (true probability)",
                **classification_report(y[known], oracle[known], threshold, bins, share),
            }
        )
    fpr, tpr, _ = roc_curve(y, p)
    precision, recall, _ = precision_recall_curve(y, p)
    curves = {
        "roc": _thin(pd.DataFrame({"fpr": fpr, "tpr": tpr})),
        "pr": _thin(pd.DataFrame({"recall": recall[::-1], "precision": precision[::-1]})),
        "calibration": reliability_table(y, p, bins),
        "gains": gains_table(y, p),
    }
    return HoldoutEvaluation(metrics, p, curves, pd.DataFrame(rows))


#: below this many positive (or negative) test rows, neither a bootstrap interval of ROC AUC nor
#: a positive rate to judge calibration by is any guide (Olist: one positive in 1,430 rows gave
#: a narrow interval "beyond noise")
MIN_INTERVAL_ROWS = 10
#: the baselines a tuned model should beat, by their names in the comparison
COMPARED = {"logreg": "logistic regression", "xgb_default": "default XGBoost"}


def warn_below_baselines(
    evaluation: HoldoutEvaluation,
    baselines: BaselineScores,
    data: IntentData,
    status: Any,
    seed: int = 0,
    resamples: int = 200,
) -> None:
    """Warnings in ``status`` when the tuned model's test ROC AUC is below a baseline's (with
    a paired bootstrap interval of the difference over the test rows, so a reviewer sees
    whether it is more than noise) or near chance (the export stage then does not gate the
    personalise rule on it)."""
    from sklearn.metrics import roc_auc_score

    y, p = data.y[data.split.test], evaluation.probabilities
    if len(np.unique(y)) < 2:
        return
    model_auc = float(roc_auc_score(y, p))
    for name, label in COMPARED.items():
        scores = baselines.probabilities.get(name)
        if scores is None:
            continue
        base_auc = float(roc_auc_score(y, scores))
        if model_auc >= base_auc:
            continue
        if (fewer := int(min(y.sum(), y.size - y.sum()))) < MIN_INTERVAL_ROWS:
            kind = "positive" if y.sum() <= y.size - y.sum() else "negative"
            how = f"{fewer} {kind} test row(s): too few to tell it from noise"
        else:
            draws = _resampled(y, seed, resamples)
            diff = [roc_auc_score(y[d], p[d]) - roc_auc_score(y[d], scores[d]) for d in draws]
            low, high = np.percentile(diff, [2.5, 97.5]) if diff else (np.nan, np.nan)
            verdict = "within noise" if high >= 0 else "the baseline is better beyond noise"
            how = f"95% bootstrap interval {low:+.4f} to {high:+.4f} over {y.size:,} test rows: "
            how += verdict
        status.warn(
            f"the tuned model's test ROC AUC {model_auc:.4f} is below the {label} baseline's "
            f"{base_auc:.4f} (difference {model_auc - base_auc:+.4f}, {how}); the tuned model "
            "is the one exported, so compare reports/intent/comparison.csv before relying on it"
        )
    if model_auc < NEAR_CHANCE_AUC:
        status.warn(
            f"the tuned model's test ROC AUC {model_auc:.4f} is "
            f"{'no' if model_auc <= 0.5 else 'barely'} better than chance (0.5): "
            "a threshold on it splits users almost at random, so the export stage does not "
            "gate the personalise rule on it (personalise.min_intent_roc_auc in "
            f"params/export.yaml, {NEAR_CHANCE_AUC:g} by default)"
        )


#: test calibration a reviewer is warned of: an expected calibration error above this, or a
#: mean probability more than twice (or under half) the test positive rate
MAX_ECE = 0.05
MAX_MEAN_RATIO = 2.0


def warn_miscalibrated(evaluation: HoldoutEvaluation, data: IntentData, status: Any) -> None:
    """A warning in ``status`` when the test probabilities are off (:data:`MAX_ECE`,
    :data:`MAX_MEAN_RATIO`): the calibration and the threshold were chosen on validation, and
    do not carry over when the positive rate moved between the parts (the share of test users
    over the threshold then says how far). Silent below :data:`MIN_INTERVAL_ROWS` positive or
    negative test rows, whose rate is no yardstick."""
    y, p = data.y[data.split.test], evaluation.probabilities
    if min(y.sum(), y.size - y.sum()) < MIN_INTERVAL_ROWS:  # no rate to hold them to
        return
    rate, mean, ece = float(y.mean()), float(p.mean()), float(evaluation.metrics["test_ece"])
    ratio = mean / rate if rate > 0 else np.inf
    if ece <= MAX_ECE and 1 / MAX_MEAN_RATIO <= ratio <= MAX_MEAN_RATIO:
        return
    valid_rate = float(data.y[data.split.valid].mean())
    flagged = float((p >= evaluation.metrics["threshold"]).mean())
    moved = (
        f"; the positive rate moved from {valid_rate:.3f} on validation, where the calibration "
        f"and the threshold were chosen, to {rate:.3f} on test"
        if abs(valid_rate - rate) > 0.25 * max(rate, valid_rate)
        else ""
    )
    status.warn(
        f"the tuned model's test probabilities are off: they average {mean:.3f} where "
        f"{rate:.3f} of the test rows are positive (ECE {ece:.3f}), and {flagged:.0%} of the "
        f"test rows are over the threshold {evaluation.metrics['threshold']:.3f}{moved}. Read "
        "the scores as a ranking (ROC AUC, lift), not as probabilities, and check the "
        "threshold's precision and recall in reports/intent/comparison.csv before routing on it"
    )


def _resampled(y: np.ndarray, seed: int, resamples: int):
    """Bootstrap resamples of ``y``'s rows, one at a time (the same ones for the same seed),
    keeping those with both classes."""
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        draw = rng.integers(0, y.size, y.size)
        if 0 < y[draw].sum() < y.size:
            yield draw


def _thin(curve: pd.DataFrame, points: int = 200) -> pd.DataFrame:
    """At most ``points`` rows, evenly spaced, keeping both ends (for small plot files)."""
    if len(curve) <= points:
        return curve.reset_index(drop=True)
    keep = np.unique(np.linspace(0, len(curve) - 1, points).round().astype(int))
    return curve.iloc[keep].reset_index(drop=True)


def oracle_probabilities(
    truth: pd.DataFrame, keys: pd.DataFrame, horizon_days: float, time_column: str = TIME_COLUMN
) -> np.ndarray:
    """The generator's true purchase probability of each (user, cut-off) row (NaN: unknown user)."""
    from personalab.ingest.synth.truth import purchase_probability

    out = np.full(len(keys), np.nan)
    times = pd.to_datetime(keys[time_column], utc=True)
    for cutoff in times.unique():
        rows = np.flatnonzero((times == cutoff).to_numpy())
        truth_p = purchase_probability(truth, cutoff, horizon_days)
        out[rows] = truth_p.reindex(keys["user_id"].iloc[rows]).to_numpy()
    return out
