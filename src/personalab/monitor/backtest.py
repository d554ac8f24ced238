"""The intent champion at every labelled cut-off, and the drift of its probabilities.

The champion scores each cut-off's rows of the features table; per cut-off the backtest reports
ROC-AUC, PR-AUC, Brier score and expected calibration error against the label, with the positive
rate and the mean probability beside them (calibration over time: the two should move together).
Cut-offs the champion learned from score better than new ones would; each row says whether it is
in the reference (the cut-offs before the latest) or is the latest.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from personalab.evaluation.classification import expected_calibration_error, metric_value
from personalab.monitor.drift import binned, js_distance, psi

COLUMNS = [
    "cutoff", "role", "rows", "positives", "positive_rate", "mean_predicted", "roc_auc", "pr_auc",
    "brier", "ece",
]  # fmt: skip


def scores(table: pd.DataFrame, predict: Callable[[pd.DataFrame], np.ndarray]) -> pd.Series:
    """The champion's probability of every row of ``table`` (in its index)."""
    return pd.Series(np.asarray(predict(table), dtype=float), index=table.index, name="score")


def backtest(
    table: pd.DataFrame, probability: pd.Series, label: str, latest: pd.Timestamp, bins: int = 10
) -> pd.DataFrame:
    """One row per cut-off (:data:`COLUMNS`); the ranking metrics are NaN at a cut-off whose
    label has one class, and every metric at one without labelled rows."""
    rows = []
    for cutoff, part in table.groupby("cutoff", sort=True):
        known = part[label].notna()
        y = part.loc[known, label].astype(float).to_numpy()
        p = probability.loc[part.index[known.to_numpy()]].to_numpy()
        both = y.size > 0 and y.min() != y.max()
        rows.append(
            {
                "cutoff": cutoff,
                "role": "latest" if cutoff == latest else "reference",
                "rows": int(y.size),
                "positives": int(y.sum()),
                "positive_rate": float(y.mean()) if y.size else np.nan,
                "mean_predicted": float(p.mean()) if p.size else np.nan,
                "roc_auc": metric_value("test_roc_auc", y, p) if both else np.nan,
                "pr_auc": metric_value("test_pr_auc", y, p) if both else np.nan,
                "brier": metric_value("test_brier", y, p) if y.size else np.nan,
                "ece": expected_calibration_error(y, p, bins) if y.size else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def prediction_drift(
    probability: pd.Series, reference: pd.Series, current: pd.Series, bins: int = 10
) -> dict[str, float]:
    """PSI and Jensen–Shannon distance of the probabilities of the ``current`` rows against the
    ``reference`` rows (boolean masks over ``probability``), and both means."""
    ref, cur = probability[reference.to_numpy()], probability[current.to_numpy()]
    ref_counts, cur_counts = binned(ref, cur, bins)
    return {
        "prediction_psi": psi(ref_counts, cur_counts),
        "prediction_js": js_distance(ref_counts, cur_counts),
        "prediction_mean_reference": float(ref.mean()) if len(ref) else np.nan,
        "prediction_mean_latest": float(cur.mean()) if len(cur) else np.nan,
    }
