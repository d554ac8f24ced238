"""Figures of the stage: the comparison of the models and the tuning trials."""

from __future__ import annotations

import pandas as pd

from personalab.recommend.params import RecommendParams


def plot_comparison(table: pd.DataFrame, params: RecommendParams):
    """Test ranking metric (validation as dots), CV RMSE, and fit / top-k times per model."""
    import matplotlib.pyplot as plt

    metric = params.selection_metric
    ordered = table.sort_values(metric)
    colours = [
        "C3" if c else ("0.6" if k == "baseline" else "C0")
        for c, k in zip(ordered["champion"], ordered["kind"], strict=True)
    ]
    fig, axes = plt.subplots(1, 3, figsize=(16, 0.45 * len(table) + 2.2))
    axes[0].barh(ordered["model"], ordered[metric], color=colours)
    axes[0].scatter(
        ordered[f"validation_{metric}"],
        ordered["model"],
        color="k",
        s=14,
        zorder=3,
        label="validation",
    )
    axes[0].set(title=f"{metric} on the test users (red: champion)", xlabel=metric)
    axes[0].legend(fontsize=8, loc="lower right")
    rated = ordered[ordered["kind"] == "surprise"]
    axes[1].barh(rated["model"], rated["rmse"], color="C0")
    axes[1].set(title=f"RMSE, {params.cross_validation.folds}-fold cross-validation", xlabel="RMSE")
    axes[2].barh(ordered["model"], ordered["fit_seconds"], label="fit")
    axes[2].barh(
        ordered["model"],
        ordered["predict_seconds"],
        left=ordered["fit_seconds"],
        label="top-k for test users",
    )
    axes[2].set(title="Seconds", xlabel="seconds")
    axes[2].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def plot_tuning(trials: pd.DataFrame, metric: str):
    """Validation metric per trial and the best so far, for each tuned algorithm."""
    import matplotlib.pyplot as plt

    tuned = trials[trials["tuned"]]
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, (name, group) in enumerate(tuned.groupby("algorithm", sort=False)):
        done = group[group["state"] == "COMPLETE"].sort_values("number")
        ax.scatter(done["number"], done["value"], s=18, color=f"C{i}", label=name)
        ax.step(done["number"], done["value"].cummax(), where="post", color=f"C{i}", alpha=0.6)
    ax.set(
        title="Tuning (Optuna TPE): each trial and the best so far",
        xlabel="trial",
        ylabel=f"validation {metric}",
    )
    if len(tuned):
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
