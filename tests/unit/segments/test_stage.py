"""The segments stage's steps together (build_segments) on small tables whose answers are known."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from personalab.segments.params import SegmentsError
from tests.unit.segments.helpers import NAN, T, blobs, build, feature_table, seg_params


@pytest.fixture(scope="module")
def blob_data() -> tuple[pd.DataFrame, np.ndarray]:
    X, y = blobs()
    return feature_table(X), y


@pytest.fixture(scope="module")
def kmeans_result(blob_data):
    table, _ = blob_data
    return build(table, seg_params())[0]


# --- the sweep finds the known number of clusters ----------------------------------------------


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
    r = build(table, seg_params(algorithms=["gmm"]))[0]
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


def test_build_segments_is_deterministic_for_the_same_seed(kmeans_result, blob_data):
    table, _ = blob_data
    again = build(table, seg_params())[0]
    pd.testing.assert_frame_equal(again.assignments, kmeans_result.assignments)
    assert again.names == kmeans_result.names
    assert len(set(again.names.values())) == 4


def test_blob_segments_are_named_from_their_own_feature():
    X, y = blobs(400)
    table = feature_table(X)
    r = build(table, seg_params(k_min=4, k_max=4))[0]
    segment_of_blob = {b: r.assignments["segment_id"][y == b].iloc[0] for b in range(4)}
    # blob b (b >= 1) is the one high on f<b>; blob 0 is low on f3 and f1 (its largest |lifts|)
    for b in (1, 2, 3):
        assert r.names[segment_of_blob[b]].startswith(f"high f{b}")
    assert "high" not in r.names[segment_of_blob[0]]


def test_build_segments_profiles_match_the_assignments(kmeans_result, blob_data):
    table, _ = blob_data
    p = kmeans_result.profiles
    counts = kmeans_result.assignments["segment_id"].value_counts()
    assert p["users"].to_dict() == counts.to_dict()
    assert p["share"].sum() == pytest.approx(1.0)
    assert p["revenue_share"].sum() == pytest.approx(1.0)
    assert p["segment"].to_dict() == kmeans_result.names


def test_model_is_fitted_on_the_latest_cutoff_only(history_result):
    _, _, r = history_result
    assert len(r.assignments) == 200 and (r.assignments["cutoff"] == T).all()
    assert sorted(r.assignments["segment_id"].value_counts().tolist()) == [40, 50, 50, 60]


def test_build_segments_reports_ari_vs_truth_only_when_truth_is_given(kmeans_result, blob_data):
    table, y = blob_data
    assert "ari_vs_truth" not in kmeans_result.metrics
    truth = pd.DataFrame({"user_id": table["user_id"], "user_type": [f"type{b}" for b in y]})
    params = seg_params(k_min=4, k_max=4)
    with_truth = build(table, params, truth)[0]
    assert with_truth.metrics["ari_vs_truth"] == pytest.approx(1.0)
    empty = build(table, params, truth.iloc[:0])[0]
    assert "ari_vs_truth" not in empty.metrics


# --- degenerate input: a skip with the reason, or a clear SegmentsError for a bad explicit list


def test_identical_users_skip_with_nothing_to_cluster():
    table = feature_table(np.tile([1.0, 2.0, 3.0], (30, 1)))
    result, status = build(table, seg_params(k_max=3))
    assert result is None and status.skipped
    assert "every user at the latest cut-off has the same (preprocessed) features" in (
        status.skip_reason
    )
    # explicit features that do not vary are named in a warning before the skip
    assert any("f1, f2, f3 named in params 'features'" in line for line in status.lines())


@pytest.mark.parametrize(
    "extra", [{"scaler": "robust"}, {"scaler": "minmax"}, {"pca_variance": 0.9}]
)
def test_identical_users_skip_with_every_preprocessing(extra):
    table = feature_table(np.tile([1.0, 2.0, 3.0], (30, 1)))
    result, status = build(table, seg_params(k_max=3, **extra))
    assert result is None
    assert "nothing to cluster" in status.skip_reason


def test_too_few_users_for_k_min_skip():
    table = feature_table(np.array([[0.0, 0, 0], [1, 1, 1], [5, 5, 5]]))
    result, status = build(table, seg_params(k_max=3))
    assert result is None
    assert status.skip_reason.startswith("only 3 user(s) at the latest cut-off 2024-03-01")
    assert "too few for 2 segments (k_min; the sweep needs at least 4 users)" in status.skip_reason
    table = feature_table(blobs(9)[0])
    result, status = build(table, seg_params(k_min=5, k_max=6))
    assert result is None and "only 9 user(s)" in status.skip_reason
    assert "needs at least 10 users" in status.skip_reason


def test_missing_feature_column_is_named():
    table = feature_table(blobs(40)[0]).drop(columns="f2")
    with pytest.raises(SegmentsError, match=r"lacks column\(s\) \['f2'\]"):
        build(table, seg_params(k_max=3))


def test_missing_feature_column_left_out_by_features_says_why():
    table = feature_table(blobs(40)[0]).drop(columns="f2")
    table.attrs["left_out"] = {"f2": "no dwell_seconds in the log"}
    with pytest.raises(SegmentsError) as err:
        build(table, seg_params(k_max=3))
    assert "the features stage left out f2: no dwell_seconds in the log" in str(err.value)
    assert "set features: null" in str(err.value)


def test_non_numeric_feature_column_is_named():
    table = feature_table(blobs(40)[0]).assign(f3=lambda d: d["f3"].round().astype(str))
    with pytest.raises(SegmentsError, match=r"non-numeric column\(s\) \['f3'\]"):
        build(table, seg_params(k_max=3))


def test_all_nan_explicit_features_are_an_error_naming_them():
    table = feature_table(np.full((40, 3), NAN))
    with pytest.raises(
        SegmentsError,
        match=re.escape("feature column(s) ['f1', 'f2', 'f3'] have no values at all; drop them"),
    ):
        build(table, seg_params(k_max=3))
