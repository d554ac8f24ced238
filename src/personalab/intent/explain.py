"""Explanations are XGBoost's own SHAP values (``pred_contribs``), in log-odds of
the uncalibrated booster."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def mean_abs_shap(contributions: pd.DataFrame) -> pd.DataFrame:
    """Mean |SHAP| per feature, largest first."""
    values = contributions.drop(columns="bias").abs().mean()
    return (
        values.sort_values(ascending=False)
        .rename("mean_abs_shap")
        .rename_axis("feature")
        .reset_index()
    )


def explain_rows(
    contributions: pd.DataFrame,
    raw: pd.DataFrame,
    probabilities: np.ndarray,
    keys: pd.DataFrame,
    n_rows: int = 5,
    n_features: int = 3,
) -> pd.DataFrame:
    """For the ``n_rows`` highest-scored rows: the features pushing the score up the most."""
    order = np.argsort(-probabilities, kind="stable")[:n_rows]
    shap = contributions.drop(columns="bias")
    out = []
    for position in order:
        row = shap.iloc[position]
        top = row.sort_values(ascending=False).head(n_features)
        entry = {k: keys.iloc[position][k] for k in keys.columns}
        entry["probability"] = float(probabilities[position])
        entry["top_reasons"] = "; ".join(
            f"{name}={_short(raw.iloc[position][name])} (+{value:.2f})"
            for name, value in top.items()
        )
        out.append(entry)
    return pd.DataFrame(out)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return "NaN" if np.isnan(value) else f"{value:.3g}"
    return str(value)
