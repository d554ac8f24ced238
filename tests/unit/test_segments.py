"""Unit tests of personalab.segments on small synthetic tables whose answers are known.

The main data are four well separated Gaussian blobs in three features (centres at the
origin and ten units along each axis): every sound clusterer must find exactly them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from personalab.core.params import ParamsError
from personalab.features import LABEL, SEGMENTS
from personalab.segments import (
    NOISE,
    ChoiceRule,
    SampledClusterer,
    SegmentsError,
    SegmentsParams,
    ari_vs_truth,
    assign_all_cutoffs,
    build_segments,
    changed_share_by_cutoff,
    choose_candidate,
    feature_lift,
    make_preprocessor,
    name_segments,
    rule_crosstab,
    score_clustering,
    segment_profiles,
    stability,
    transitions,
)

T = pd.Timestamp("2024-03-01", tz="UTC")
CUTOFFS = [T - pd.Timedelta(days=14), T - pd.Timedelta(days=7), T]
CENTRES = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 10.0]])
FEATURES = ["f1", "f2", "f3"]
NAN = float("nan")


def blobs(
    n: int = 600, seed: int = 0, centres: np.ndarray = CENTRES
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points around ``centres`` (std 1) and their blob ids."""
    X, y = make_blobs(n_samples=n, centers=centres, cluster_std=1.0, random_state=seed)
    return X, y


def feature_table(
    X: np.ndarray, cutoff: pd.Timestamp = T, users: list[str] | None = None
) -> pd.DataFrame:
    """A features-stage-like table: keys, label, revenue, rule segments and f1..fk."""
    n = X.shape[0]
    users = users if users is not None else [f"u{i:04d}" for i in range(n)]
    frame = pd.DataFrame({"user_id": users, "cutoff": cutoff})
    frame[LABEL] = (np.arange(n) % 3 == 0).astype(int)
    frame["revenue_total"] = np.arange(n, dtype=float)
    for j, name in enumerate(SEGMENTS):
        frame[f"seg_{name}"] = ((np.arange(n) + j) % 2 == 0).astype(bool)
    for j in range(X.shape[1]):
        frame[f"f{j + 1}"] = X[:, j]
    return frame


def seg_params(**values) -> SegmentsParams:
    """Small, fast parameters over f1..f3 (no log1p), kmeans over k = 2..7 unless told."""
    base = {
        "features": FEATURES,
        "log1p": [],
        "algorithms": ["kmeans"],
        "k_min": 2,
        "k_max": 7,
        "fit_sample": 300,
        "agglomerative_sample": 300,
        "silhouette_sample": 300,
        "stability_resamples": 2,
        "stability_sample": 200,
    }
    return SegmentsParams.from_mapping({**base, **values})


@pytest.fixture(scope="module")
def blob_data() -> tuple[pd.DataFrame, np.ndarray]:
    X, y = blobs()
    return feature_table(X), y


@pytest.fixture(scope="module")
def kmeans_result(blob_data):
    table, _ = blob_data
    return build_segments(table, seg_params())


# --- 1. the sweep finds the known number of clusters ------------------------------------------


def test_kmeans_sweep_picks_the_four_blobs(kmeans_result, blob_data):
    _, y = blob_data
    r = kmeans_result
    assert r.chosen.name == "kmeans-k4"
    assert r.metrics["n_clusters"] == 4
    assert r.metrics["algorithm"] == "kmeans"
    assert r.metrics["candidates"] == 6  # k = 2..7
    assert r.fallback is False and r.metrics["choice_fallback"] == 0
    assert r.metrics["stability_ari"] == pytest.approx(1.0, abs=0.02)
    assert r.metrics["min_cluster_share"] == pytest.approx(0.25)
    assert adjusted_rand_score(y, r.assignments["segment_id"]) > 0.95
    assert r.comparison["candidate"].tolist() == [f"kmeans-k{k}" for k in range(2, 8)]
    # the winner really has the best silhouette of the sweep
    assert r.comparison["silhouette"].idxmax() == 2


def test_gmm_sweep_picks_the_four_blobs(blob_data):
    table, y = blob_data
    r = build_segments(table, seg_params(algorithms=["gmm"]))
    assert r.chosen.name == "gmm-k4"
    assert r.metrics["stability_ari"] == pytest.approx(1.0, abs=0.02)
    assert adjusted_rand_score(y, r.assignments["segment_id"]) > 0.95
    assert np.isfinite(r.metrics["bic"])
    # mixtures give a posterior probability, near 1 for well separated blobs
    assert r.assignments["probability"].min() > 0.9


def test_assignments_cover_every_user_of_the_latest_cutoff(kmeans_result, blob_data):
    table, _ = blob_data
    a = kmeans_result.assignments
    assert a["user_id"].tolist() == table["user_id"].tolist()
    assert (a["cutoff"] == T).all()
    assert a["segment"].tolist() == a["segment_id"].map(kmeans_result.names).tolist()
    assert a["probability"].isna().all()  # kmeans has no posterior
    assert (a["distance"] >= 0).all()
    assert "bic" not in kmeans_result.metrics


def comparison(rows: list[dict]) -> pd.DataFrame:
    defaults = {"bic": NAN, "calinski_harabasz": 100.0, "n_clusters": 4.0}
    return pd.DataFrame([{**defaults, **row} for row in rows])


#: 0 best silhouette but unstable; 1 second best but a tiny cluster; 2 and 3 clear the floors;
#: 4 a single group (no scores)
HAND = comparison(
    [
        {"candidate": "a", "silhouette": 0.90, "davies_bouldin": 0.30, "stability_ari": 0.50, "min_cluster_share": 0.20},
        {"candidate": "b", "silhouette": 0.85, "davies_bouldin": 0.40, "stability_ari": 0.95, "min_cluster_share": 0.01},
        {"candidate": "c", "silhouette": 0.60, "davies_bouldin": 0.80, "stability_ari": 0.90, "min_cluster_share": 0.10},
        {"candidate": "d", "silhouette": 0.50, "davies_bouldin": 0.60, "stability_ari": 0.95, "min_cluster_share": 0.20},
        {"candidate": "e", "silhouette": NAN, "davies_bouldin": NAN, "stability_ari": 1.00, "min_cluster_share": 1.00, "n_clusters": 1.0},
    ]
)  # fmt: skip


def test_choice_floors_exclude_unstable_and_tiny_cluster_candidates():
    assert choose_candidate(HAND, ChoiceRule()) == (2, False)


def test_choice_without_floors_takes_the_best_silhouette():
    rule = ChoiceRule(min_stability=0.0, min_cluster_share=0.0)
    assert choose_candidate(HAND, rule) == (0, False)


def test_choice_by_davies_bouldin_takes_the_lowest_that_clears_the_floors():
    assert choose_candidate(HAND, ChoiceRule(metric="davies_bouldin")) == (3, False)


def test_choice_falls_back_to_the_best_by_metric_when_nothing_clears_the_floors():
    rule = ChoiceRule(min_stability=0.99)
    assert choose_candidate(HAND, rule) == (0, True)
    rule = ChoiceRule(metric="davies_bouldin", min_cluster_share=0.5)
    assert choose_candidate(HAND, rule) == (0, True)


def test_choice_ignores_single_group_candidates_and_fails_when_only_those_exist():
    rule = ChoiceRule(metric="calinski_harabasz", min_stability=0.99)
    # e has the best stability and share but only one group: never chosen
    assert choose_candidate(HAND, rule)[0] != 4
    with pytest.raises(SegmentsError, match="single group"):
        choose_candidate(HAND.iloc[[4]], ChoiceRule())


def test_choice_by_bic_takes_the_lowest():
    table = HAND.iloc[:4].assign(bic=[50.0, 10.0, 40.0, 30.0])
    assert choose_candidate(table, ChoiceRule(metric="bic")) == (3, False)
    assert choose_candidate(table, ChoiceRule(metric="bic", min_cluster_share=0.0)) == (1, False)


# --- 2. degenerate input: a clear SegmentsError ---------------------------------------------


def test_identical_users_raise_nothing_to_cluster():
    table = feature_table(np.tile([1.0, 2.0, 3.0], (30, 1)))
    with pytest.raises(SegmentsError, match="nothing to cluster"):
        build_segments(table, seg_params(k_max=3))


@pytest.mark.parametrize(
    "extra", [{"scaler": "robust"}, {"scaler": "minmax"}, {"pca_variance": 0.9}]
)
def test_identical_users_raise_with_every_preprocessing(extra):
    table = feature_table(np.tile([1.0, 2.0, 3.0], (30, 1)))
    with pytest.raises(SegmentsError, match="nothing to cluster"):
        build_segments(table, seg_params(k_max=3, **extra))


def test_too_few_users_for_k_raise():
    table = feature_table(np.array([[0.0, 0, 0], [1, 1, 1], [5, 5, 5]]))
    with pytest.raises(SegmentsError, match="only 3 users"):
        build_segments(table, seg_params(k_max=3))
    table = feature_table(blobs(9)[0])
    with pytest.raises(SegmentsError, match="need at least 10"):
        build_segments(table, seg_params(k_min=5, k_max=6))


def test_sampled_clusterer_with_fewer_rows_than_clusters_raises():
    with pytest.raises(SegmentsError, match="3 users cannot form 4 clusters"):
        SampledClusterer("kmeans", n_clusters=4).fit(np.arange(9.0).reshape(3, 3))


def test_missing_feature_column_is_named():
    table = feature_table(blobs(40)[0]).drop(columns="f2")
    with pytest.raises(SegmentsError, match=r"lacks column\(s\) \['f2'\]"):
        build_segments(table, seg_params(k_max=3))


def test_non_numeric_feature_column_is_named():
    table = feature_table(blobs(40)[0]).assign(f3=lambda d: d["f3"].round().astype(str))
    with pytest.raises(SegmentsError, match=r"non-numeric column\(s\) \['f3'\]"):
        build_segments(table, seg_params(k_max=3))


def test_empty_table_raises():
    table = feature_table(blobs(40)[0]).iloc[:0]
    with pytest.raises(SegmentsError, match="empty"):
        build_segments(table, seg_params(k_max=3))


def test_all_nan_features_raise_segments_error():
    table = feature_table(np.full((40, 3), NAN))
    with pytest.raises(SegmentsError):
        build_segments(table, seg_params(k_max=3))


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"k_min": 5, "k_max": 3}, "k_min (5) must not exceed k_max (3)"),
        ({"features": ["a", "b"], "log1p": ["a", "c"]}, "log1p names column(s) ['c']"),
        ({"algorithms": ["kmeans", "dbscan"]}, "algorithms.1"),
        ({"k_min": 1}, "k_min"),
        ({"features": ["a"]}, "features"),
        ({"choice": {"metric": "accuracy"}}, "choice.metric"),
    ],
)
def test_bad_params_raise_params_error_naming_the_problem(values, named):
    with pytest.raises(ParamsError) as err:
        SegmentsParams.from_mapping(values)
    assert named in str(err.value)


def test_default_params_are_valid():
    p = SegmentsParams.from_mapping({})
    assert set(p.log1p) <= set(p.features)
    assert p.algorithms == ["kmeans", "gmm", "agglomerative", "hdbscan"]


# --- 3. SampledClusterer --------------------------------------------------------------------


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


# --- 4. scores and stability ----------------------------------------------------------------


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


# --- 5. naming ------------------------------------------------------------------------------


def lift_frame(rows: dict[int, dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("segment_id")


def test_names_come_from_the_largest_absolute_lifts():
    lift = lift_frame(
        {
            0: {"orders_total": 2.0, "days_since_first_event": 0.1, "revenue_total": 1.5},
            1: {"orders_total": -0.2, "days_since_first_event": -1.8, "revenue_total": 0.3},
            2: {"orders_total": -1.0, "days_since_first_event": 0.2, "revenue_total": -0.1},
        }
    )
    assert name_segments(lift, 2) == {
        0: "frequent buyers, big spenders",
        1: "newcomers, big spenders",
        2: "non-buyers, long-standing",
    }
    assert name_segments(lift, 1) == {0: "frequent buyers", 1: "newcomers", 2: "non-buyers"}


def test_features_without_descriptors_get_high_and_low_words():
    lift = lift_frame({0: {"f1": 1.0, "f2": -0.5}, 1: {"f1": -1.0, "f2": 0.5}})
    assert name_segments(lift, 2) == {0: "high f1, low f2", 1: "low f1, high f2"}


def test_names_are_unique_when_segments_share_their_top_features():
    lift = lift_frame(
        {
            0: {"orders_total": 2.0, "revenue_total": 1.0, "sessions_30d": 0.5},
            1: {"orders_total": 2.0, "revenue_total": 1.0, "sessions_30d": -0.5},
            2: {"orders_total": 2.0, "revenue_total": 1.0, "sessions_30d": 0.5},
        }
    )
    names = name_segments(lift, 2)
    assert names == {
        0: "frequent buyers, big spenders",
        1: "frequent buyers, big spenders, rare visitors",
        2: "frequent buyers, big spenders, frequent visitors",
    }
    assert len(set(names.values())) == 3


def test_identical_segments_get_their_id_appended_when_features_run_out():
    lift = lift_frame({0: {"orders_total": 1.0}, 1: {"orders_total": 1.0}})
    assert name_segments(lift, 2) == {0: "frequent buyers", 1: "frequent buyers (1)"}


def test_noise_is_named_noise_and_nan_lifts_are_ignored():
    lift = lift_frame(
        {
            -1: {"orders_total": 3.0, "revenue_total": 1.0},
            0: {"orders_total": NAN, "revenue_total": -1.0},
        }
    )
    assert name_segments(lift, 2) == {-1: "noise", 0: "low spenders"}


def test_naming_is_deterministic():
    lift = lift_frame(
        {i: {"f1": float(i % 2), "f2": 1.0 - i, "orders_total": 0.5} for i in range(5)}
    )
    first = name_segments(lift, 2)
    assert all(name_segments(lift, 2) == first for _ in range(3))
    assert name_segments(lift.iloc[::-1], 2) == first  # row order does not matter


def test_disambiguating_word_is_not_a_repeat_of_the_name():
    row = {"events_per_session": 2.0, "session_duration_mean": 1.5, "orders_total": 1.0}
    lift = lift_frame({0: {**row, "revenue_total": 0.5}, 1: {**row, "revenue_total": 0.6}})
    assert name_segments(lift, 2)[1] == "long sessions, frequent buyers, big spenders"


def test_build_segments_is_deterministic_for_the_same_seed(kmeans_result, blob_data):
    table, _ = blob_data
    again = build_segments(table, seg_params())
    pd.testing.assert_frame_equal(again.assignments, kmeans_result.assignments)
    assert again.names == kmeans_result.names
    assert len(set(again.names.values())) == 4


def test_blob_segments_are_named_from_their_own_feature():
    X, y = blobs(400)
    table = feature_table(X)
    r = build_segments(table, seg_params(k_min=4, k_max=4))
    segment_of_blob = {b: r.assignments["segment_id"][y == b].iloc[0] for b in range(4)}
    # blob b (b >= 1) is the one high on f<b>; blob 0 is low on f3 and f1 (its largest |lifts|)
    for b in (1, 2, 3):
        assert r.names[segment_of_blob[b]].startswith(f"high f{b}")
    assert "high" not in r.names[segment_of_blob[0]]


# --- 6. profiles and lift -------------------------------------------------------------------


#: 5 users in segments [0, 0, 1, 1, 1]
TINY = pd.DataFrame(
    {
        "user_id": list("abcde"),
        "cutoff": T,
        LABEL: [1, 0, 1, 1, 0],
        "revenue_total": [10.0, 30.0, 20.0, 40.0, 0.0],
        "f1": [1.0, 3.0, 5.0, 7.0, 9.0],
        "f2": [0.0, 0.0, 1.0, 1.0, 1.0],
    }
)
TINY_LABELS = np.array([0, 0, 1, 1, 1])


def test_segment_profiles_on_a_tiny_table():
    p = segment_profiles(TINY, TINY_LABELS, ["f1", "f2"])
    assert p.index.name == "segment_id" and p.index.tolist() == [0, 1]
    assert p.columns.tolist() == ["users", "share", "purchase_rate", "revenue_share", "f1", "f2"]
    assert p["users"].tolist() == [2, 3]
    assert p["share"].tolist() == pytest.approx([0.4, 0.6])
    assert p["purchase_rate"].tolist() == pytest.approx([0.5, 2 / 3])
    assert p["revenue_share"].tolist() == pytest.approx([0.4, 0.6])
    assert p["f1"].tolist() == pytest.approx([2.0, 7.0])
    assert p["f2"].tolist() == pytest.approx([0.0, 1.0])


def test_segment_profiles_do_not_depend_on_the_table_index():
    shifted = TINY.set_index(pd.Index([10, 3, 7, 1, 0]))
    pd.testing.assert_frame_equal(
        segment_profiles(shifted, TINY_LABELS, ["f1", "f2"]),
        segment_profiles(TINY, TINY_LABELS, ["f1", "f2"]),
    )


def test_segment_profiles_without_label_or_revenue():
    p = segment_profiles(TINY.drop(columns=[LABEL, "revenue_total"]), TINY_LABELS, ["f1", "f2"])
    assert p.columns.tolist() == ["users", "share", "f1", "f2"]


def test_feature_lift_is_the_standardised_mean_difference():
    lift = feature_lift(TINY, TINY_LABELS, ["f1", "f2"])
    # f1: population mean 5, std (ddof 0) sqrt(8); f2: mean 0.6, std sqrt(0.24)
    assert lift.index.name == "segment_id"
    assert lift.loc[0, "f1"] == pytest.approx((2 - 5) / np.sqrt(8))
    assert lift.loc[1, "f1"] == pytest.approx((7 - 5) / np.sqrt(8))
    assert lift.loc[0, "f2"] == pytest.approx((0 - 0.6) / np.sqrt(0.24))
    assert lift.loc[1, "f2"] == pytest.approx((1 - 0.6) / np.sqrt(0.24))


def test_feature_lift_of_a_constant_feature_is_nan():
    lift = feature_lift(TINY.assign(f2=4.0), TINY_LABELS, ["f1", "f2"])
    assert lift["f2"].isna().all()
    assert lift["f1"].notna().all()


def test_rule_crosstab_gives_the_share_of_each_rule_segment():
    table = TINY.assign(seg_converter=[1, 1, 0, 0, 1], seg_at_risk=[0, 0, 0, 1, 1])
    names = pd.Series(["x", "x", "y", "y", "y"])
    out = rule_crosstab(table, names)
    assert out.columns.tolist() == ["converter", "at_risk"]
    assert out.loc["x"].tolist() == pytest.approx([1.0, 0.0])
    assert out.loc["y"].tolist() == pytest.approx([1 / 3, 2 / 3])


def test_build_segments_profiles_match_the_assignments(kmeans_result, blob_data):
    table, _ = blob_data
    p = kmeans_result.profiles
    counts = kmeans_result.assignments["segment_id"].value_counts()
    assert p["users"].to_dict() == counts.to_dict()
    assert p["share"].sum() == pytest.approx(1.0)
    assert p["revenue_share"].sum() == pytest.approx(1.0)
    assert p["segment"].to_dict() == kmeans_result.names


# --- 7. re-classification over cut-offs -----------------------------------------------------

N_PER_BLOB = 50
USERS = [f"u{i:03d}" for i in range(4 * N_PER_BLOB)]
BLOB_AT_C2 = np.repeat(np.arange(4), N_PER_BLOB)
#: c2 -> c3: the first 10 users of blob 1 move to blob 0
MOVED_LAST = np.arange(N_PER_BLOB, N_PER_BLOB + 10)
#: c1 -> c2: the first 20 users of blob 2 were in blob 3 at c1
MOVED_FIRST = np.arange(2 * N_PER_BLOB, 2 * N_PER_BLOB + 20)
#: users with no row at c1 (all unmoved, in blob 0)
ABSENT_AT_C1 = np.arange(20, 50)


def history_table() -> pd.DataFrame:
    blob_c3 = BLOB_AT_C2.copy()
    blob_c3[MOVED_LAST] = 0
    blob_c1 = BLOB_AT_C2.copy()
    blob_c1[MOVED_FIRST] = 3
    rng = np.random.default_rng(0)
    frames = []
    for cutoff, blob in zip(CUTOFFS, (blob_c1, BLOB_AT_C2, blob_c3), strict=True):
        X = CENTRES[blob] + rng.normal(size=(len(blob), 3))
        frames.append(feature_table(X, cutoff, USERS))
    first = frames[0]
    frames[0] = first[~first["user_id"].isin([USERS[i] for i in ABSENT_AT_C1])]
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def history_result():
    table = history_table()
    params = seg_params(k_min=4, k_max=4)
    return table, params, build_segments(table, params)


def test_model_is_fitted_on_the_latest_cutoff_only(history_result):
    _, _, r = history_result
    assert len(r.assignments) == 200 and (r.assignments["cutoff"] == T).all()
    assert sorted(r.assignments["segment_id"].value_counts().tolist()) == [40, 50, 50, 60]


def test_assign_all_cutoffs_gives_a_segment_per_user_and_cutoff(history_result):
    table, params, r = history_result
    history = assign_all_cutoffs(table, r.pipeline, params)
    assert len(history) == 170 + 200 + 200
    assert history.columns.tolist() == ["user_id", "cutoff", "segment_id"]
    pd.testing.assert_frame_equal(history, r.history)
    latest = history[history["cutoff"] == T].reset_index(drop=True)
    np.testing.assert_array_equal(latest["segment_id"], r.assignments["segment_id"])


def test_transitions_between_the_last_two_cutoffs(history_result):
    _, _, r = history_result
    seg = r.assignments.set_index("user_id")["segment_id"]
    name_of_blob = {b: r.names[seg[USERS[b * N_PER_BLOB + 25]]] for b in range(4)}
    matrix, changed = transitions(r.history, r.names)
    assert changed == pytest.approx(10 / 200)
    assert r.metrics["changed_segment_share"] == pytest.approx(10 / 200)
    expected = pd.DataFrame(0.0, index=sorted(r.names.values()), columns=sorted(r.names.values()))
    for b in range(4):
        expected.loc[name_of_blob[b], name_of_blob[b]] = 1.0
    expected.loc[name_of_blob[1], name_of_blob[1]] = 0.8
    expected.loc[name_of_blob[1], name_of_blob[0]] = 0.2
    pd.testing.assert_frame_equal(
        matrix.sort_index().sort_index(axis=1), expected, check_names=False
    )
    pd.testing.assert_frame_equal(r.transition_matrix, matrix)


def test_changed_share_by_cutoff_has_one_row_per_consecutive_pair(history_result):
    _, _, r = history_result
    out = changed_share_by_cutoff(r.history)
    assert out.to_dict("records") == [
        {"cutoff": "2024-02-23", "users": 170, "changed_share": pytest.approx(20 / 170)},
        {"cutoff": "2024-03-01", "users": 200, "changed_share": pytest.approx(10 / 200)},
    ]


def test_transitions_with_one_cutoff_are_empty():
    history = pd.DataFrame({"user_id": ["a", "b"], "cutoff": T, "segment_id": [0, 1]})
    matrix, changed = transitions(history, {0: "x", 1: "y"})
    assert matrix.empty and np.isnan(changed)
    assert changed_share_by_cutoff(history).empty


# --- 8. agreement with the ground truth -----------------------------------------------------


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


def test_build_segments_reports_ari_vs_truth_only_when_truth_is_given(kmeans_result, blob_data):
    table, y = blob_data
    assert "ari_vs_truth" not in kmeans_result.metrics
    truth = pd.DataFrame({"user_id": table["user_id"], "user_type": [f"type{b}" for b in y]})
    params = seg_params(k_min=4, k_max=4)
    with_truth = build_segments(table, params, truth=truth)
    assert with_truth.metrics["ari_vs_truth"] == pytest.approx(1.0)
    empty = build_segments(table, params, truth=truth.iloc[:0])
    assert "ari_vs_truth" not in empty.metrics


# --- 9. preprocessing -----------------------------------------------------------------------

E = np.e
RAW = np.array([[0.0, 0.0, 1.0], [E - 1, 3.0, 2.0], [E**2 - 1, 8.0, NAN], [E**4 - 1, NAN, 4.0]])


def pre_params(**values) -> SegmentsParams:
    return seg_params(**{"features": ["a", "b", "c"], "log1p": ["a"], **values})


def test_log1p_only_on_the_listed_columns():
    pipe = make_preprocessor(pre_params()).fit(RAW)
    logged = pipe.named_steps["log1p"].transform(RAW)
    np.testing.assert_allclose(logged[:, 0], [0.0, 1.0, 2.0, 4.0])
    np.testing.assert_array_equal(logged[:, 1:], RAW[:, 1:])


def test_log1p_of_two_columns_by_name_not_position():
    pipe = make_preprocessor(pre_params(log1p=["c", "a"])).fit(RAW)
    logged = pipe.named_steps["log1p"].transform(RAW)
    np.testing.assert_allclose(logged[:, 0], [0.0, 1.0, 2.0, 4.0])
    np.testing.assert_allclose(logged[:, 2], np.log1p(RAW[:, 2]))
    np.testing.assert_array_equal(logged[:, 1], RAW[:, 1])


def test_nan_is_imputed_with_the_column_median():
    pipe = make_preprocessor(pre_params(scaler="minmax")).fit(RAW)
    out = pipe[:2].transform(RAW)  # log1p + impute
    assert out[3, 1] == 3.0  # median of 0, 3, 8
    assert out[2, 2] == 2.0  # median of 1, 2, 4


def test_minmax_scaler_after_log1p_and_imputation():
    out = make_preprocessor(pre_params(scaler="minmax")).fit_transform(RAW)
    np.testing.assert_allclose(out[:, 0], [0.0, 0.25, 0.5, 1.0])
    np.testing.assert_allclose(out[:, 1], [0.0, 3 / 8, 1.0, 3 / 8])
    np.testing.assert_allclose(out[:, 2], [0.0, 1 / 3, 1 / 3, 1.0])


def test_standard_scaler_gives_zero_mean_unit_variance():
    out = make_preprocessor(pre_params(scaler="standard")).fit_transform(RAW)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 1.0)


def test_robust_scaler_centres_on_the_median_and_scales_by_the_iqr():
    out = make_preprocessor(pre_params(scaler="robust")).fit_transform(RAW)
    # column a after log1p: 0, 1, 2, 4 -> median 1.5, IQR 2.5 - 0.75 = 1.75
    np.testing.assert_allclose(out[:, 0], (np.array([0.0, 1, 2, 4]) - 1.5) / 1.75)
    np.testing.assert_allclose(np.median(out, axis=0), 0.0, atol=1e-12)


def test_pca_variance_reduces_collinear_features():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(200, 2))
    X = np.column_stack([base[:, 0], 2 * base[:, 0], base[:, 1], base[:, 0] - base[:, 1]])
    params = seg_params(features=["a", "b", "c", "d"], log1p=[], pca_variance=0.99)
    pipe = make_preprocessor(params)
    out = pipe.fit_transform(X)
    assert out.shape == (200, 2)
    assert pipe.named_steps["pca"].explained_variance_ratio_.sum() == pytest.approx(1.0)
    assert make_preprocessor(params.model_copy(update={"pca_variance": None})).fit_transform(
        X
    ).shape == (200, 4)


def test_negative_values_are_clipped_to_zero_before_log1p():
    X = np.array([[-5.0, 1.0], [0.0, 2.0], [E - 1, 3.0]])
    params = seg_params(features=["a", "b"], log1p=["a"], k_max=2)
    logged = make_preprocessor(params).fit(X).named_steps["log1p"].transform(X)
    np.testing.assert_allclose(logged[:, 0], [0.0, 0.0, 1.0])
