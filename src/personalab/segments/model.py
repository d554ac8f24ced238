"""The clustering estimator: fit on a seeded sample, assign every user.

K-Means (MiniBatchKMeans above ``minibatch_above`` users), Gaussian mixtures, Ward
agglomerative clustering on a sample with the rest assigned to the nearest
centroid, and HDBSCAN on a sample (noise is its own group, ``-1``). Every
candidate is fitted on a seeded sample of at most ``fit_sample`` users and then
assigns all users, so the sweep scales to millions of users.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import HDBSCAN, KMeans, MiniBatchKMeans
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors

from personalab.segments.params import ALGORITHMS, SegmentsError

NOISE = -1


class SampledClusterer(ClusterMixin, BaseEstimator):
    """Fit ``method`` on a seeded sample of at most ``sample_size`` rows; assign the rest.

    ``method``: ``kmeans`` (MiniBatchKMeans above ``minibatch_above`` rows), ``gmm``,
    ``agglomerative`` (Ward; others go to the nearest centroid) or ``hdbscan``
    (others take the label of their nearest sampled neighbour, noise included).
    """

    def __init__(
        self,
        method: str = "kmeans",
        n_clusters: int | None = 5,
        sample_size: int = 200_000,
        minibatch_above: int = 100_000,
        covariance_type: str = "full",
        min_cluster_share: float = 0.02,
        random_state: int = 0,
    ):
        self.method = method
        self.n_clusters = n_clusters
        self.sample_size = sample_size
        self.minibatch_above = minibatch_above
        self.covariance_type = covariance_type
        self.min_cluster_share = min_cluster_share
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: Any = None) -> SampledClusterer:
        X = np.asarray(X, dtype=float)
        rng = np.random.default_rng(self.random_state)
        n = X.shape[0]
        if self.n_clusters is not None and n < self.n_clusters:
            raise SegmentsError(f"{n} users cannot form {self.n_clusters} clusters")
        rows = (
            np.sort(rng.choice(n, size=self.sample_size, replace=False))
            if n > self.sample_size
            else np.arange(n)
        )
        sample = X[rows]
        if self.method == "kmeans":
            cls = MiniBatchKMeans if len(rows) > self.minibatch_above else KMeans
            extra = {"batch_size": 4096} if cls is MiniBatchKMeans else {}
            self.model_ = cls(
                n_clusters=self.n_clusters, n_init=4, random_state=self.random_state, **extra
            ).fit(sample)
        elif self.method == "gmm":
            self.model_ = GaussianMixture(
                n_components=self.n_clusters,
                covariance_type=self.covariance_type,
                n_init=1,
                reg_covar=1e-4,
                random_state=self.random_state,
            ).fit(sample)
        elif self.method == "agglomerative":
            from scipy.cluster.hierarchy import fcluster, linkage

            labels = (
                fcluster(linkage(sample, method="ward"), t=self.n_clusters, criterion="maxclust")
                - 1
            )
            self.centroids_ = np.vstack(
                [sample[labels == c].mean(axis=0) for c in np.unique(labels)]
            )
        elif self.method == "hdbscan":
            # at least 5 users a cluster, but never more than the sample holds (a tiny table)
            size = min(max(5, int(self.min_cluster_share * len(rows))), max(len(rows), 2))
            labels = HDBSCAN(min_cluster_size=size, copy=True).fit(sample).labels_
            self.neighbours_ = NearestNeighbors(n_neighbors=1).fit(sample)
            self.sample_labels_ = labels
        else:
            raise ValueError(
                f"unknown clustering method {self.method!r}; known: {', '.join(ALGORITHMS)}"
            )
        self.labels_ = self.predict(X)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if self.method in ("kmeans", "gmm"):
            return self.model_.predict(X)
        if self.method == "agglomerative":
            return _nearest(X, self.centroids_)
        _, idx = self.neighbours_.kneighbors(X)
        return self.sample_labels_[idx[:, 0]]

    def predict_proba(self, X: np.ndarray) -> np.ndarray | None:
        """Posterior probabilities for mixtures; None for the other methods."""
        return (
            self.model_.predict_proba(np.asarray(X, dtype=float)) if self.method == "gmm" else None
        )


def _nearest(X: np.ndarray, centroids: np.ndarray, chunk: int = 200_000) -> np.ndarray:
    out = np.empty(X.shape[0], dtype=np.int64)
    for start in range(0, X.shape[0], chunk):
        part = X[start : start + chunk]
        d = (part**2).sum(1)[:, None] - 2 * part @ centroids.T + (centroids**2).sum(1)[None, :]
        out[start : start + chunk] = d.argmin(axis=1)
    return out


def centroid_distances(X: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Euclidean distance of each row to the mean of its cluster (in the preprocessed space)."""
    out = np.zeros(X.shape[0])
    for c in np.unique(labels):
        mask = labels == c
        out[mask] = np.linalg.norm(X[mask] - X[mask].mean(axis=0), axis=1)
    return out
