"""Figures of the stage: tuning history, test curves and the SHAP summary.

Each function takes computed frames, imports matplotlib inside and returns a Figure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd


def plot_tuning(trials: pd.DataFrame, importance: pd.DataFrame, metric: str, minimize: bool):
    """Optimisation history (every trial, pruned ones hollow, best so far) and parameter importance."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.2))
    done = trials[trials["state"] == "COMPLETE"].sort_values("number")
    pruned = trials[trials["state"] == "PRUNED"]
    left.scatter(done["number"], done["value"], s=18, label="complete")
    for n in pruned["number"]:
        left.axvline(n, color="0.85", lw=0.8, zorder=0)
    best = done["value"].cummin() if minimize else done["value"].cummax()
    left.step(done["number"], best, where="post", color="C3", label="best so far")
    left.set(
        title=f"Optimisation history ({len(pruned)} pruned: grey lines)",
        xlabel="trial",
        ylabel=f"validation {metric}",
    )
    left.legend(fontsize=8)
    if len(importance):
        ordered = importance.sort_values("importance")
        right.barh(ordered["parameter"], ordered["importance"])
    right.set(title="Parameter importance (fANOVA)", xlabel="importance")
    fig.tight_layout()
    return fig


def plot_evaluation(curves: Mapping[str, pd.DataFrame], metrics: Mapping[str, Any]):
    """ROC, precision-recall, reliability and cumulative gains on the test rows."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(18, 4.2))
    roc, pr, cal, gains = (curves[k] for k in ("roc", "pr", "calibration", "gains"))
    axes[0].plot(roc["fpr"], roc["tpr"], label=f"AUC {metrics['test_roc_auc']:.3f}")
    axes[0].plot([0, 1], [0, 1], ls="--", color="0.6")
    axes[0].set(title="ROC", xlabel="false positive rate", ylabel="true positive rate")
    axes[1].plot(pr["recall"], pr["precision"], label=f"AP {metrics['test_pr_auc']:.3f}")
    axes[1].axhline(metrics["test_positive_rate"], ls="--", color="0.6", label="positive rate")
    axes[1].set(title="Precision-recall", xlabel="recall", ylabel="precision")
    axes[2].plot([0, 1], [0, 1], ls="--", color="0.6")
    axes[2].plot(
        cal["mean_predicted"], cal["positive_rate"], marker="o", label=f"ECE {metrics['ece']:.3f}"
    )
    axes[2].set(title="Reliability", xlabel="mean predicted probability", ylabel="observed rate")
    axes[3].plot(gains["top_share"], gains["gain"], label="model")
    axes[3].plot([0, 1], [0, 1], ls="--", color="0.6", label="random")
    axes[3].set(
        title="Cumulative gains", xlabel="share of users contacted", ylabel="share of positives"
    )
    for ax in axes:
        ax.legend(fontsize=8, loc="lower right" if ax is not axes[1] else "upper right")
    fig.tight_layout()
    return fig


def plot_shap_summary(
    contributions: pd.DataFrame, encoded: pd.DataFrame, top: int = 15, seed: int = 0
):
    """Beeswarm-style summary: each row's SHAP value per feature, coloured by the feature's rank."""
    import matplotlib.pyplot as plt

    shap = contributions.drop(columns="bias")
    order = shap.abs().mean().sort_values(ascending=False).index[:top][::-1]
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(shap), size=min(len(shap), 3000), replace=False)
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(order) + 1.5))
    for position, name in enumerate(order):
        values = encoded[name].iloc[sample]
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = pd.Series(values.cat.codes.to_numpy(dtype=float)).where(
                values.notna().to_numpy()
            )
        colour = pd.Series(np.asarray(values, dtype=float)).rank(pct=True).to_numpy()
        jitter = rng.uniform(-0.3, 0.3, size=len(sample))
        points = ax.scatter(
            shap[name].iloc[sample],
            position + jitter,
            c=colour,
            cmap="coolwarm",
            s=3,
            vmin=0,
            vmax=1,
        )
    ax.set_yticks(range(len(order)), order, fontsize=8)
    ax.axvline(0, color="0.5", lw=0.8)
    ax.set(title="SHAP values (log-odds) on test rows", xlabel="contribution to the log-odds")
    fig.colorbar(points, ax=ax, label="feature value (rank: blue low, red high)")
    fig.tight_layout()
    return fig
