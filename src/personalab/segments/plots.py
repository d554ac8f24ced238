"""Figures of the segments stage; each returns a matplotlib Figure and saves nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA


def plot_sweep(comparison: pd.DataFrame):
    """Silhouette, Davies-Bouldin and Calinski-Harabasz against k, one line per algorithm."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    swept = comparison[comparison["k"].notna()]
    for ax, metric, better in zip(
        axes,
        ("silhouette", "davies_bouldin", "calinski_harabasz"),
        ("higher", "lower", "higher"),
        strict=True,
    ):
        for algorithm, part in swept.groupby("algorithm", sort=False):
            ax.plot(part["k"], part[metric], marker="o", label=algorithm)
        ax.set(title=f"{metric} ({better} is better)", xlabel="k")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_projection(
    X: np.ndarray, labels: np.ndarray, names: dict[int, str], sample: int = 5000, seed: int = 0
):
    """The users on the first two principal components, coloured by segment (a seeded sample;
    on one axis when ``X`` has a single column)."""
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    rows = rng.choice(len(labels), size=min(sample, len(labels)), replace=False)
    if X.shape[1] >= 2:
        xy = PCA(n_components=2, random_state=seed).fit_transform(X[rows])
    else:  # one (principal) component left: the users on a line
        xy = np.column_stack([X[rows, 0], np.zeros(len(rows))])
    fig, ax = plt.subplots(figsize=(8, 6))
    for segment_id in sorted(np.unique(labels)):
        mask = labels[rows] == segment_id
        ax.scatter(
            xy[mask, 0], xy[mask, 1], s=4, alpha=0.5, label=names.get(segment_id, str(segment_id))
        )
    ax.set(title="Segments on the first two principal components", xlabel="PC 1", ylabel="PC 2")
    ax.legend(markerscale=4, fontsize=8)
    fig.tight_layout()
    return fig


def plot_profile_heatmap(lift: pd.DataFrame, names: dict[int, str]):
    """Standardised lift of every feature per segment (red: above the population, blue: below)."""
    import matplotlib.pyplot as plt

    values = lift.to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * lift.shape[1], 1.2 + 0.5 * lift.shape[0]))
    image = ax.imshow(values, cmap="RdBu_r", vmin=-2, vmax=2, aspect="auto")
    ax.set_xticks(range(lift.shape[1]), lift.columns, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(lift.shape[0]), [names.get(i, str(i)) for i in lift.index], fontsize=8)
    for (r, c), value in np.ndenumerate(values):
        if np.isfinite(value):
            ax.text(c, r, f"{value:.1f}", ha="center", va="center", fontsize=6)
    fig.colorbar(image, ax=ax, label="(segment mean - population mean) / population std")
    ax.set_title("Segment profiles")
    fig.tight_layout()
    return fig
