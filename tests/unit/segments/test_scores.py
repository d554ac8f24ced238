"""Unit tests of personalab.segments.scores: validation indices, stability, ARI vs the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, silhouette_score

from personalab.segments.model import NOISE, SampledClusterer
from personalab.segments.scores import (
    ari_vs_truth,
    sampled_silhouette,
    score_clustering,
    stability,
)
from tests.unit.segments.helpers import CENTRES, blobs


def test_score_clustering_on_unequal_blobs():
    X, y = make_blobs(n_samples=[300, 150, 100, 50], centers=CENTRES, random_state=0)
    scores = score_clustering(X, y, silhouette_sample=600, seed=0)
    assert scores["n_clusters"] == 4
    assert scores["min_cluster_share"] == pytest.approx(50 / 600)
    assert scores["noise_share"] == 0
    assert scores["silhouette"] > 0.7
    assert scores["davies_bouldin"] < 0.5
    assert scores["calinski_harabasz"] > 1000


def test_score_clustering_counts_noise_apart_and_a_single_group_has_no_scores():
    X, y = blobs(100)
    labels = y.copy()
    labels[:10] = NOISE
    scores = score_clustering(X, labels, 100, 0)
    assert scores["n_clusters"] == 4
    assert scores["noise_share"] == pytest.approx(0.1)
    single = score_clustering(X, np.zeros(100, dtype=int), 100, 0)
    assert single["n_clusters"] == 1 and single["min_cluster_share"] == 1.0
    assert np.isnan(single["silhouette"]) and np.isnan(single["davies_bouldin"])


def test_sampled_silhouette_is_silhouette_score_on_its_sample():
    X, y = blobs(600)
    labels = np.where(y == 3, 2, y)  # three groups, one of them twice as big
    for size in (100, 600, 5000):
        assert sampled_silhouette(X, labels, size, 7) == pytest.approx(
            silhouette_score(X, labels, sample_size=min(size, 600), random_state=7), abs=1e-12
        )


def test_sampled_silhouette_is_nan_when_the_sample_holds_one_group_or_only_singletons():
    X, _ = blobs(200)
    rare = np.zeros(200, dtype=int)
    rare[np.random.RandomState(3).permutation(200)[-1]] = 1  # the one row the sample misses
    assert np.isnan(sampled_silhouette(X, rare, 199, 3))
    assert np.isfinite(sampled_silhouette(X, rare, 200, 3))
    assert np.isnan(sampled_silhouette(X[:4], np.arange(4), 100, 0))  # every row its own group
    scores = score_clustering(X, rare, 199, 3)
    assert scores["n_clusters"] == 2 and np.isnan(scores["silhouette"])
    assert np.isfinite(scores["davies_bouldin"])


def test_min_cluster_share_ignores_noise():
    X, y = blobs(404)
    labels = y.copy()
    labels[:4] = NOISE  # 4 noise points out of 404
    sizes = np.bincount(y[4:])
    assert score_clustering(X, labels, 404, 0)["min_cluster_share"] == pytest.approx(
        sizes.min() / 404
    )


def test_stability_is_one_for_separated_blobs_and_low_for_uniform_noise():
    X, _ = blobs(600)
    model = SampledClusterer("kmeans", n_clusters=4)
    assert stability(model, X, resamples=2, sample_size=300, seed=0) == pytest.approx(1.0)
    U = np.random.default_rng(0).uniform(size=(600, 3))
    noise = stability(SampledClusterer("kmeans", n_clusters=6), U, 2, 300, 0)
    assert noise < 0.7


def test_stability_leaves_the_model_unfitted():
    model = SampledClusterer("kmeans", n_clusters=4)
    stability(model, blobs(200)[0], 2, 100, 0)
    assert not hasattr(model, "model_")


def test_ari_vs_truth_is_one_up_to_relabelling_and_aligns_by_user():
    assignments = pd.DataFrame({"user_id": list("abcdef"), "segment_id": [0, 0, 1, 1, 2, 2]})
    truth = pd.DataFrame(
        {"user_id": list("fedcbaz"), "user_type": ["x", "x", "w", "w", "v", "v", "zz"]}
    )
    assert ari_vs_truth(assignments, truth) == pytest.approx(1.0)
    wrong = truth.assign(user_type=["x", "w", "x", "w", "v", "v", "zz"])
    expected = adjusted_rand_score(["v", "v", "w", "x", "w", "x"], [0, 0, 1, 1, 2, 2])
    assert ari_vs_truth(assignments, wrong) == pytest.approx(expected)
    assert expected < 1
