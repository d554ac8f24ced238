"""Unit tests of personalab.segments.model: SampledClusterer fits on a sample, assigns all."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import adjusted_rand_score

from personalab.segments.model import NOISE, SampledClusterer
from personalab.segments.params import SegmentsError
from tests.unit.segments.helpers import CENTRES, blobs


def test_sampled_clusterer_with_fewer_rows_than_clusters_raises():
    with pytest.raises(SegmentsError, match="3 users cannot form 4 clusters"):
        SampledClusterer("kmeans", n_clusters=4).fit(np.arange(9.0).reshape(3, 3))


@pytest.mark.parametrize("method", ["kmeans", "gmm", "agglomerative"])
def test_sampled_clusterer_labels_every_row_and_predict_agrees(method):
    X, y = blobs(600)
    model = SampledClusterer(method, n_clusters=4, sample_size=150, random_state=0).fit(X)
    assert model.labels_.shape == (600,)
    assert adjusted_rand_score(y, model.labels_) == pytest.approx(1.0)
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    # new users drawn from each blob get the label of that blob's training users
    new, new_y = blobs(80, seed=1)
    blob_label = {b: np.bincount(model.labels_[y == b]).argmax() for b in range(4)}
    np.testing.assert_array_equal(model.predict(new), [blob_label[b] for b in new_y])


def test_sampled_clusterer_fits_on_a_sample_of_sample_size_rows():
    X, _ = blobs(600)
    kmeans = SampledClusterer("kmeans", n_clusters=4, sample_size=150).fit(X)
    assert kmeans.model_.labels_.shape == (150,)  # the inner KMeans saw only the sample
    hdb = SampledClusterer("hdbscan", n_clusters=None, sample_size=150).fit(X)
    assert hdb.sample_labels_.shape == (150,)
    assert hdb.labels_.shape == (600,)
    # fewer rows than sample_size: all are used
    small = SampledClusterer("kmeans", n_clusters=4, sample_size=1000).fit(X)
    assert small.model_.labels_.shape == (600,)


def test_sampled_clusterer_switches_to_minibatch_above_the_threshold():
    from sklearn.cluster import KMeans, MiniBatchKMeans

    X, y = blobs(600)
    big = SampledClusterer("kmeans", n_clusters=4, minibatch_above=100).fit(X)
    assert type(big.model_) is MiniBatchKMeans
    assert adjusted_rand_score(y, big.labels_) == pytest.approx(1.0)
    assert type(SampledClusterer("kmeans", n_clusters=4).fit(X).model_) is KMeans


#: 4 blobs of 100 and 8 isolated outliers at the corners of a big cube
OUTLIERS = np.array(
    [[sx, sy, sz] for sx in (-40, 50) for sy in (-40, 50) for sz in (-40, 50)], float
)


def test_hdbscan_labels_noise_and_predict_gives_noise_near_sampled_noise():
    X, y = blobs(400)
    X = np.vstack([X, OUTLIERS])
    model = SampledClusterer(
        "hdbscan", n_clusters=None, sample_size=len(X), min_cluster_share=0.05
    ).fit(X)
    assert (model.labels_[400:] == NOISE).all()
    found = model.labels_[:400] != NOISE
    assert found.mean() > 0.9
    assert adjusted_rand_score(y[found], model.labels_[:400][found]) == pytest.approx(1.0)
    assert sorted(set(model.labels_[:400][found])) == [0, 1, 2, 3]
    near_noise = OUTLIERS + 0.5
    assert (model.predict(near_noise) == NOISE).all()
    assert (model.predict(CENTRES) != NOISE).all()
    assert model.predict_proba(X) is None


def test_hdbscan_unsampled_rows_take_the_label_of_their_nearest_sampled_row():
    X, _ = blobs(400)
    X = np.vstack([X, OUTLIERS])
    model = SampledClusterer(
        "hdbscan", n_clusters=None, sample_size=300, min_cluster_share=0.05, random_state=3
    ).fit(X)
    noisy = np.flatnonzero(model.labels_[400:] == NOISE)
    assert len(noisy) > 0  # some outliers were sampled (and are noise)
    assert (model.predict(OUTLIERS[noisy] - 0.5) == NOISE).all()


def test_sampled_clusterer_is_a_cloneable_sklearn_estimator():
    model = SampledClusterer("gmm", n_clusters=3, sample_size=500, random_state=7)
    params = model.get_params()
    assert params["method"] == "gmm" and params["n_clusters"] == 3
    copy = clone(model)
    assert copy is not model and copy.get_params() == params
    copy.set_params(n_clusters=5, random_state=1)
    assert copy.get_params() == {**params, "n_clusters": 5, "random_state": 1}
    assert model.get_params() == params  # the original is untouched
    X, _ = blobs(200)
    fitted = SampledClusterer("kmeans", n_clusters=4).fit(X)
    assert not hasattr(clone(fitted), "model_")
    np.testing.assert_array_equal(fitted.fit_predict(X), fitted.labels_)


def test_gmm_predict_proba_rows_sum_to_one():
    X, _ = blobs(200)
    proba = SampledClusterer("gmm", n_clusters=4).fit(X).predict_proba(X)
    assert proba.shape == (200, 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_unknown_method_raises():
    with pytest.raises(ValueError, match="unknown clustering method 'dbscan'"):
        SampledClusterer("dbscan", n_clusters=2).fit(blobs(40)[0])
