"""Figures of the stage: the comparison of the models and the tuning trials."""

from __future__ import annotations

import pandas as pd

from personalab.recommend.params import RecommendParams


def plot_comparison(table: pd.DataFrame, params: RecommendParams):
    """Test ranking metric (validation as dots) and CV RMSE per model (the fit and top-k times
    are in the notebook's table and the MLflow run: a saved figure must not change with the
    clock)."""
    import matplotlib.pyplot as plt

    metric = params.selection_metric
    if table.empty:
        return _note_figure("No comparison: no pair could be held out to evaluate a recommender")
    ordered = table.sort_values(metric)
    colours = [
        "C3" if c else ("0.6" if k == "baseline" else "C0")
        for c, k in zip(ordered["champion"], ordered["kind"], strict=True)
    ]
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.45 * len(table) + 2.2))
    axes[0].barh(ordered["model"], ordered[metric], color=colours)
    axes[0].scatter(
        ordered[f"validation_{metric}"],
        ordered["model"],
        color="k",
        s=14,
        zorder=3,
        label="validation",
    )
    axes[0].set(
        title=f"{metric} on the test users (red: champion)", xlabel=f"{metric} (higher is better)"
    )
    axes[0].legend(fontsize=8, loc="lower right")
    rated = ordered[ordered["kind"] == "surprise"]
    if "rating_rmse" in rated and rated["rating_rmse"].notna().any():
        axes[1].barh(rated["model"], rated["rating_rmse"], color="C0")
        axes[1].set(
            title=f"rating RMSE, {params.cross_validation.folds}-fold cross-validation",
            xlabel="RMSE (lower is better)",
        )
    else:
        other = f"precision_at_{params.k}"
        axes[1].barh(ordered["model"], ordered[other], color=colours)
        axes[1].set(title=f"{other} on the test users", xlabel=f"{other} (higher is better)")
    fig.tight_layout()
    return fig


def plot_tuning(trials: pd.DataFrame, metric: str):
    """Validation metric per trial and the best so far, for each tuned algorithm."""
    import matplotlib.pyplot as plt

    tuned = trials[trials["tuned"].astype(bool)]
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, (name, group) in enumerate(tuned.groupby("algorithm", sort=False)):
        done = group[group["state"] == "COMPLETE"].sort_values("number")
        ax.scatter(done["number"], done["value"], s=18, color=f"C{i}", label=name)
        ax.step(done["number"], done["value"].cummax(), where="post", color=f"C{i}", alpha=0.6)
    ax.set(
        title="Tuning (Optuna TPE): each trial and the best so far",
        xlabel="trial",
        ylabel=f"validation {metric} (higher is better)",
    )
    if len(tuned):
        ax.legend(fontsize=8)
    else:
        why = "nothing was evaluated" if trials.empty else "no algorithm has a search space"
        ax.text(0.5, 0.5, f"No tuning trials: {why}", ha="center", va="center")
    fig.tight_layout()
    return fig


def _note_figure(text: str):
    """A small figure that says why there is nothing to plot."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 1.6))
    ax.text(0.5, 0.5, text, ha="center", va="center")
    ax.set_axis_off()
    return fig
