"""Figures of the features stage; each returns a matplotlib Figure and never shows or saves it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from personalab.features.schema import LABEL


def plot_distributions(table: pd.DataFrame, names: list[str], label: str | None = None):
    """Histograms of the ``names`` the table has, for label 0 and 1 (``label``: the table's
    attrs label), on a log scale where heavy-tailed."""
    import matplotlib.pyplot as plt

    label = label or table.attrs.get("label", LABEL)
    names = [name for name in names if name in table]
    cols = 4
    rows = max(1, int(np.ceil(len(names) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(14, 3 * rows))
    for ax, name in zip(np.ravel(axes), names, strict=False):
        values = table[name].astype(float)
        finite = values.dropna()
        heavy = (
            not finite.empty
            and finite.min() >= 0
            and finite.quantile(0.99) > 20 * max(finite.median(), 1.0)
        )
        values = np.log1p(values) if heavy else values
        bins = np.histogram_bin_edges(values.dropna(), bins=30) if values.notna().any() else 30
        for value, color in ((0, "tab:blue"), (1, "tab:orange")):
            part = values[table[label] == value].dropna()
            if not part.empty:
                ax.hist(
                    part, bins=bins, density=True, alpha=0.55, color=color, label=f"label {value}"
                )
        ax.set_title(f"log1p({name})" if heavy else name, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in np.ravel(axes)[len(names) :]:
        ax.set_visible(False)
    np.ravel(axes)[0].legend(fontsize=7)
    fig.suptitle("Feature distributions by label (density)", y=1.0)
    fig.tight_layout()
    return fig


def plot_segments(sizes: pd.DataFrame, rates: pd.DataFrame, label: str = LABEL):
    """Rule segment sizes at the last cut-off, and the positive rate of ``label`` per cut-off."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    left.barh(sizes["segment"][::-1], sizes["users"][::-1], color="tab:purple", label="holds")
    left.barh(
        sizes["segment"][::-1],
        sizes["dominant"][::-1],
        color="tab:green",
        alpha=0.7,
        label="dominant",
    )
    left.set(title="Rule segments at the last cut-off", xlabel="users")
    left.legend(fontsize=8)
    right.plot(rates["cutoff"], rates["positive_rate"], marker="o")
    right.set(title="Positive rate per cut-off", ylabel=f"share {label}", ylim=(0, None))
    right.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig
