"""Validation scores of a clustering: internal indices, stability, agreement with the truth.

Each candidate is scored by silhouette (on a seeded sample of at most
``silhouette_sample`` users), Davies-Bouldin, Calinski-Harabasz, the smallest
cluster's share, and stability: the mean adjusted Rand index between the
clusterings that models fitted on bootstrap resamples give to one fixed evaluation
sample. On synthetic data the chosen segments are also compared with the
generator's latent user types.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)

from personalab.segments.model import NOISE, SampledClusterer


def score_clustering(
    X: np.ndarray, labels: np.ndarray, silhouette_sample: int, seed: int
) -> dict[str, float]:
    """Silhouette (sampled), Davies-Bouldin, Calinski-Harabasz, clusters and smallest share."""
    clusters = np.unique(labels)
    clustered = labels[labels != NOISE]
    sizes = np.bincount(clustered) if clustered.size else np.zeros(1, dtype=int)
    sizes = sizes[sizes > 0] if clustered.size else sizes
    scores = {
        "n_clusters": float(len(clusters[clusters != NOISE])),
        "min_cluster_share": float(sizes.min() / len(labels)),
        "noise_share": float(np.mean(labels == NOISE)),
    }
    if len(clusters) < 2:
        return {
            **scores,
            "silhouette": np.nan,
            "davies_bouldin": np.nan,
            "calinski_harabasz": np.nan,
        }
    scores["silhouette"] = sampled_silhouette(X, labels, silhouette_sample, seed)
    scores["davies_bouldin"] = float(davies_bouldin_score(X, labels))
    scores["calinski_harabasz"] = float(calinski_harabasz_score(X, labels))
    return scores


def sampled_silhouette(X: np.ndarray, labels: np.ndarray, sample_size: int, seed: int) -> float:
    """Silhouette on the seeded sample ``silhouette_score(sample_size=...)`` draws; NaN when the
    sample holds a single group or only singletons (the score is undefined there)."""
    rows = np.random.RandomState(seed).permutation(len(labels))[: min(sample_size, len(labels))]
    groups = len(np.unique(labels[rows]))
    if not 2 <= groups <= len(rows) - 1:
        return np.nan
    return float(silhouette_score(X[rows], labels[rows]))


def stability(
    model: SampledClusterer, X: np.ndarray, resamples: int, sample_size: int, seed: int
) -> float:
    """Mean pairwise adjusted Rand index of bootstrap-fitted clusterings on one evaluation sample."""
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    size = min(sample_size, n)
    evaluation = X[rng.choice(n, size=size, replace=False)]
    labelings = []
    for b in range(resamples):
        boot = X[rng.choice(n, size=size, replace=True)]
        fitted = clone(model).set_params(random_state=seed + b + 1, sample_size=size).fit(boot)
        labelings.append(fitted.predict(evaluation))
    return float(
        np.mean([adjusted_rand_score(a, b) for a, b in itertools.combinations(labelings, 2)])
    )


def ari_vs_truth(assignments: pd.DataFrame, truth: pd.DataFrame) -> float:
    """Adjusted Rand index between segments and the generator's latent user types."""
    types = truth.set_index("user_id")["user_type"]
    known = assignments["user_id"].isin(types.index)
    return float(
        adjusted_rand_score(
            types.loc[assignments.loc[known, "user_id"]].to_numpy(),
            assignments.loc[known, "segment_id"],
        )
    )
