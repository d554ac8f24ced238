"""Classification metrics of scores and probabilities: the report, calibration error,
reliability, cumulative gains and lift, and the choice of a decision threshold.

=====================  =======================================================================
roc_auc                area under the ROC curve
pr_auc                 average precision (area under the precision-recall curve)
log_loss, brier        mean log loss and mean squared error of the probabilities
f1, precision, recall  at the decision threshold
ece                    expected calibration error: mean |mean probability - positive rate| over
                       ``bins`` equal-width bins, weighted by their share of rows
lift_at_top            positive rate among the ``top_share`` highest scores / overall rate
gains_at_top           share of all positives found in the ``top_share`` highest scores
=====================  =======================================================================
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from personalab.evaluation._base import EvaluationError

#: test ROC AUC under which a model is called barely better than chance: the intent stage warns,
#: and it is the default of the export stage's ``personalise.min_intent_roc_auc``, under which
#: the personalise rule does not gate on intent
NEAR_CHANCE_AUC = 0.55

#: metrics where lower is better
LOWER_IS_BETTER = {"log_loss", "brier", "ece", "logloss"}


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Mean |mean probability - positive rate| over equal-width bins, weighted by bin share."""
    table = reliability_table(y, p, bins)
    return float(
        (table["rows"] / len(y) * (table["mean_predicted"] - table["positive_rate"]).abs()).sum()
    )


def reliability_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Per non-empty equal-width bin: rows, mean predicted probability, observed positive rate."""
    which = np.minimum(np.floor(np.round(np.asarray(p) * bins, 9)).astype(int), bins - 1)
    rows = np.bincount(which, minlength=bins)
    mean_p = np.bincount(which, weights=p, minlength=bins)
    pos = np.bincount(which, weights=y, minlength=bins)
    keep = rows > 0
    return pd.DataFrame(
        {
            "bin": np.arange(bins)[keep],
            "rows": rows[keep],
            "mean_predicted": mean_p[keep] / rows[keep],
            "positive_rate": pos[keep] / rows[keep],
        }
    )


def gains_table(y: np.ndarray, p: np.ndarray, points: int = 100) -> pd.DataFrame:
    """Cumulative gains: share of positives found in the top share of scores, and the lift."""
    order = np.argsort(-np.asarray(p), kind="stable")
    found = np.cumsum(np.asarray(y)[order])
    total = max(found[-1], 1)
    shares = np.linspace(1 / points, 1.0, points)
    take = np.maximum(_ceil(shares * len(order)), 1)
    gains = found[take - 1] / total
    return pd.DataFrame({"top_share": shares, "gain": gains, "lift": gains / shares})


def top_share_metrics(y: np.ndarray, p: np.ndarray, share: float) -> tuple[float, float]:
    """(lift, gain) of the top ``share`` of rows by score."""
    order = np.argsort(-np.asarray(p), kind="stable")
    take = max(int(_ceil(share * len(order))), 1)
    found = float(np.asarray(y)[order[:take]].sum())
    total = float(np.sum(y))
    if total == 0:
        return float("nan"), float("nan")
    rate = found / take
    return rate / (total / len(y)), found / total


def _ceil(x: Any) -> Any:
    """Ceiling that ignores floating-point noise (``0.07 * 100`` is 7, not 8)."""
    return np.ceil(np.round(x, 9)).astype(int)


def choose_threshold(
    y: np.ndarray, p: np.ndarray, rule: str = "f1", target_precision: float = 0.5
) -> float:
    """Best-F1 threshold (``rule="f1"``), or the lowest threshold whose precision reaches
    ``target_precision`` (``rule="precision"``)."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y, p)
    precision, recall = precision[:-1], recall[:-1]
    if rule == "f1":
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0)
        return float(thresholds[int(np.argmax(f1))])
    reaching = np.flatnonzero(precision >= target_precision)
    if not len(reaching):
        raise EvaluationError(
            f"threshold.target_precision {target_precision}: no threshold reaches it on "
            f"validation (best precision {precision.max():.3f}); lower the target or use rule f1"
        )
    return float(thresholds[reaching[0]])


def classification_report(
    y: np.ndarray,
    p: np.ndarray,
    threshold: float,
    bins: int = 10,
    top_share: float = 0.1,
) -> dict[str, float]:
    """The metrics of the module docstring for labels ``y`` and probabilities ``p`` (``roc_auc``
    and ``pr_auc`` are NaN when ``y`` holds one class)."""
    from sklearn.metrics import (
        average_precision_score,
        brier_score_loss,
        f1_score,
        log_loss,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    y = np.asarray(y)
    p = np.clip(np.asarray(p, dtype=float), 1e-7, 1 - 1e-7)
    predicted = (p >= threshold).astype(int)
    lift, gain = top_share_metrics(y, p, top_share)
    both = _both_classes(y)  # ranking metrics need both classes (NaN without)
    return {
        "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if both else float("nan"),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted, zero_division=0)),
        "ece": expected_calibration_error(y, p, bins),
        "lift_at_top": lift,
        "gains_at_top": gain,
    }


def _both_classes(y: np.ndarray) -> bool:
    values = np.asarray(y)
    return bool(values.size) and values.min() != values.max()


def metric_value(metric: str, y: np.ndarray, p: np.ndarray) -> float:
    """One registry metric (``test_pr_auc``, ``test_roc_auc``, ``test_log_loss``, ``test_brier``)."""
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

    p = np.clip(np.asarray(p, dtype=float), 1e-7, 1 - 1e-7)
    functions = {
        "test_pr_auc": average_precision_score,
        "test_roc_auc": roc_auc_score,
        "test_log_loss": lambda a, b: log_loss(a, b, labels=[0, 1]),
        "test_brier": brier_score_loss,
    }
    return float(functions[metric](y, p))


def higher_is_better(metric: str) -> bool:
    return metric.removeprefix("test_") not in LOWER_IS_BETTER
