"""The monitor's figures (Figures only; each is None when its check did not run)."""

from __future__ import annotations

import pandas as pd

from personalab.monitor.stage import MonitorResult


def plot_drift(result: MonitorResult, statistic: str, threshold: float, top: int = 15):
    """The features whose recent window moved most, latest against the reference, and the share
    of drifted features at every cut-off."""
    if result.drift.empty:
        return None
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [3, 2]})
    worst = result.drift.head(top).iloc[::-1]
    colours = ["tab:red" if d else "tab:blue" for d in worst["drifted"]]
    left.barh(worst["feature"], worst[statistic], color=colours)
    left.axvline(threshold, color="black", linestyle="--", linewidth=1, label="threshold")
    left.set(title=f"{statistic} of the recent window, latest vs reference", xlabel=statistic)
    left.legend()
    over = result.drift_over_time
    right.plot(over["cutoff"], over["drifted_share"], marker="o")
    right.set(title="Share of drifted features per cut-off", ylabel="share", ylim=(0, 1))
    right.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig


def plot_backtest(backtest: pd.DataFrame):
    """ROC-AUC and PR-AUC at every cut-off, and calibration over time (positive rate against
    the mean probability)."""
    if backtest.empty:
        return None
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4))
    for metric in ("roc_auc", "pr_auc"):
        left.plot(backtest["cutoff"], backtest[metric], marker="o", label=metric)
    left.set(title="Intent champion at every cut-off", ylim=(0, 1))
    left.legend()
    right.plot(backtest["cutoff"], backtest["positive_rate"], marker="o", label="positive rate")
    right.plot(backtest["cutoff"], backtest["mean_predicted"], marker="s", label="mean probability")
    right.set(title="Calibration over time")
    right.legend()
    for ax in (left, right):
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig


def plot_hit_rate(hits: pd.DataFrame, k: int):
    """Hit rate of the champion's recipe and of popularity per window after they learned."""
    if hits.empty:
        return None
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(hits["window"], hits["hit_rate"], marker="o", label="champion's recipe")
    ax.plot(hits["window"], hits["popularity_hit_rate"], marker="s", label="popularity")
    ax.set(
        title=f"Hit rate@{k} per window after learning", xlabel="window", ylabel="hit rate",
        xticks=hits["window"],
    )  # fmt: skip
    ax.legend()
    fig.tight_layout()
    return fig
