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
    classification_report,
    gains_table,
    reliability_table,
)
from personalab.intent.baselines import BaselineScores
from personalab.intent.final import FinalModel
from personalab.intent.params import TIME_COLUMN, TUNED, IntentParams, model_label
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
    rows = [{"model": final.name, "served": True, **report}]
    for name, scores in baselines.probabilities.items():
        report_of = classification_report(y, scores, threshold, bins, share)
        rows.append({"model": name, "served": False, **report_of})
    metrics: dict[str, Any] = {f"test_{k}": v for k, v in report.items()}
    metrics |= {
        "served_model": final.name,
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
                "served": False,
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
        f"{model_label(evaluation.metrics.get('served_model', TUNED))}'s test probabilities are "
        f"off: they average {mean:.3f} where "
        f"{rate:.3f} of the test rows are positive (ECE {ece:.3f}), and {flagged:.0%} of the "
        f"test rows are over the threshold {evaluation.metrics['threshold']:.3f}{moved}. Read "
        "the scores as a ranking (ROC AUC, lift), not as probabilities, and check the "
        "threshold's precision and recall in reports/intent/comparison.csv before routing on it"
    )


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
