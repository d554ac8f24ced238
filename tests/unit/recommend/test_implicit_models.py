"""Unit tests of personalab.recommend.implicit_models: the arrays served by ArrayModel rank and
score as the implicit library's own ``recommend``; fits are reproducible; arrays round-trip."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.sparse import csr_matrix

from personalab.recommend.array_model import ArrayModel
from personalab.recommend.arrays import ModelArrays, family_of
from personalab.recommend.implicit_models import (
    IMPLICIT_MODELS,
    check_implicit_options,
    fit_implicit,
    fit_implicit_model,
    implicit_arrays,
    implicit_options,
    user_item_matrix,
)
from personalab.recommend.params import RecommendError

T0 = pd.Timestamp("2026-01-01", tz="UTC")
OPTIONS = {
    "AlternatingLeastSquares": {"factors": 8, "iterations": 10, "regularization": 0.05},
    "BayesianPersonalizedRanking": {"factors": 8, "iterations": 30, "learning_rate": 0.05},
    "CosineRecommender": {"K": 10},
    "BM25Recommender": {"K": 10, "K1": 1.5, "B": 0.5},
    "TFIDFRecommender": {"K": 10},
}


def random_pairs(n_users=60, n_items=40, n=420, seed=1):
    """About 370 distinct pairs with distinct strengths (no tied scores)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "user_id": [f"u{u:02d}" for u in rng.integers(0, n_users, n)],
            "item_id": [f"i{i:02d}" for i in rng.integers(0, n_items, n)],
        }
    ).drop_duplicates(ignore_index=True)
    return frame.assign(
        strength=rng.uniform(1, 5, len(frame)),
        timestamp=T0 + pd.to_timedelta(rng.uniform(0, 30, len(frame)), unit="D"),
    )


@pytest.fixture(scope="module")
def pairs():
    return random_pairs()


@pytest.fixture(scope="module")
def matrix(pairs):
    return user_item_matrix(pairs)


@pytest.mark.parametrize("name", IMPLICIT_MODELS)
def test_served_top_k_equals_the_library_recommend(pairs, matrix, name):
    X, users, items = matrix
    model = fit_implicit_model(name, OPTIONS[name], X, seed=3)
    served = ArrayModel(implicit_arrays(name, model, X, users, items))
    inner = np.arange(len(users))
    ids, scores = model.recommend(inner, X[inner], N=10, filter_already_liked_items=True)
    top = served.top_k(users, 10)
    compared = 0
    for u, user in enumerate(users):
        mine = top[top["user_id"] == user]
        if family_of(name) == "factors":
            ranked = np.ones(10, dtype=bool)
        else:  # the library lists only items some liked item points to (zero-score ones may trail)
            ranked = (ids[u] >= 0) & (scores[u] > 0)
        m = int(ranked.sum())
        assert mine["item_id"].tolist()[:m] == items[ids[u][ranked]].tolist(), user
        np.testing.assert_allclose(mine["score"].to_numpy()[:m], scores[u][ranked], rtol=1e-4)
        assert (mine["score"].to_numpy()[m:] == 0).all()  # nothing the library would rank above
        assert not set(mine["item_id"]) & set(pairs.loc[pairs["user_id"] == user, "item_id"])
        compared += m
    assert compared >= 5 * len(users)


@pytest.fixture(scope="module")
def larger_pairs():
    """Enough pairs that racing SGD threads would change BPR's factors on most runs."""
    return random_pairs(n_users=2000, n_items=300, n=40_000, seed=2)


@pytest.mark.parametrize("name", ["AlternatingLeastSquares", "BayesianPersonalizedRanking"])
def test_the_same_seed_gives_identical_arrays(larger_pairs, name):
    pairs = larger_pairs
    first = fit_implicit(name, OPTIONS[name], pairs, seed=7)
    again = fit_implicit(name, OPTIONS[name], pairs, seed=7)
    other = fit_implicit(name, OPTIONS[name], pairs, seed=8)
    assert first.arrays.keys() == again.arrays.keys()
    for key in first.arrays:
        assert np.array_equal(first.arrays[key], again.arrays[key]), key
    assert not np.array_equal(first.arrays["P"], other.arrays["P"])


def test_factor_arrays_score_as_the_library_factors(pairs, matrix):
    X, users, items = matrix
    bpr = fit_implicit_model(
        "BayesianPersonalizedRanking", OPTIONS["BayesianPersonalizedRanking"], X, 0
    )
    arrays = implicit_arrays("BayesianPersonalizedRanking", bpr, X, users, items)
    P, Q = arrays.arrays["P"], arrays.arrays["Q"]
    assert P.shape == (len(users), 9) and Q.shape == (len(items), 9)  # 8 factors + item bias
    assert (P[:, -1] == 1).all()
    np.testing.assert_allclose(ArrayModel(arrays).scores(np.arange(5)), P[:5] @ Q.T, rtol=1e-6)


@pytest.mark.parametrize("name", ["AlternatingLeastSquares", "CosineRecommender"])
def test_save_and_load_give_the_same_top_k(tmp_path, pairs, name):
    arrays = fit_implicit(name, OPTIONS[name], pairs, seed=0)
    loaded = ModelArrays.load(arrays.save(tmp_path / "model.npz"))
    assert loaded.scalars == arrays.scalars
    assert (loaded.scalars["low"], loaded.scalars["high"]) == (-np.inf, np.inf)
    users = sorted(pairs["user_id"].unique())
    pd.testing.assert_frame_equal(
        ArrayModel(loaded).top_k(users, 10), ArrayModel(arrays).top_k(users, 10)
    )


def test_item_arrays_hold_the_library_similarity_and_the_raw_strengths(pairs, matrix):
    X, users, items = matrix
    arrays = fit_implicit("BM25Recommender", OPTIONS["BM25Recommender"], pairs, seed=0)
    a = arrays.arrays
    S = csr_matrix((a["sim_data"], a["sim_indices"], a["sim_indptr"]), shape=(40, 40))
    model = fit_implicit_model("BM25Recommender", OPTIONS["BM25Recommender"], X, seed=0)
    np.testing.assert_array_equal(S.toarray(), model.similarity.toarray())
    assert (np.diff(S.indptr) <= 10).all()  # K=10 neighbours per row
    np.testing.assert_allclose(a["seen_data"], X.data)
    np.testing.assert_array_equal(a["seen_indices"], X.indices)
    np.testing.assert_array_equal(a["seen_indptr"], X.indptr)


def test_fits_warn_of_nothing_and_print_no_progress(pairs, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in IMPLICIT_MODELS:
            fit_implicit(name, OPTIONS[name], pairs, seed=0)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_user_item_matrix_orders_ids_and_refuses_repeated_pairs():
    pairs = pd.DataFrame(
        {"user_id": ["b", "a", "b"], "item_id": [30, 10, 20], "strength": [1.5, 2.0, 3.0]}
    )
    X, users, items = user_item_matrix(pairs)
    assert isinstance(X, csr_matrix) and X.dtype == np.float32 and X.has_sorted_indices
    assert users.tolist() == ["a", "b"] and items.tolist() == [10, 20, 30]
    np.testing.assert_array_equal(X.toarray(), [[2.0, 0, 0], [0, 3.0, 1.5]])
    with pytest.raises(RecommendError, match="repeated user-item pair"):
        user_item_matrix(pd.concat([pairs, pairs.head(1)]))


def test_options_are_the_cpu_signature_less_what_personalab_fixes():
    assert implicit_options("AlternatingLeastSquares") == {
        "factors",
        "regularization",
        "alpha",
        "iterations",
    }
    assert implicit_options("BM25Recommender") == {"K", "K1", "B"}
    assert implicit_options("CosineRecommender") == {"K"}
    assert "verify_negative_samples" in implicit_options("BayesianPersonalizedRanking")
    with pytest.raises(RecommendError, match=r"algorithms\.AlternatingLeastSquares\.num_threads"):
        check_implicit_options("AlternatingLeastSquares", {"num_threads": 4})
    with pytest.raises(RecommendError, match=r"algorithms\.CosineRecommender\.K1"):
        check_implicit_options("CosineRecommender", {"K1": 1.0})
    with pytest.raises(RecommendError, match=r"algorithms\.LightFM"):
        implicit_options("LightFM")


def test_unusable_pairs_are_refused_naming_the_column(pairs):
    with pytest.raises(RecommendError, match="no strength column"):
        fit_implicit("CosineRecommender", {}, pairs.drop(columns="strength"), seed=0)
    with pytest.raises(RecommendError, match="strength must be a finite number > 0"):
        fit_implicit("CosineRecommender", {}, pairs.assign(strength=0.0), seed=0)
    with pytest.raises(RecommendError, match=r"algorithms\.BM25Recommender: no user-item pairs"):
        fit_implicit("BM25Recommender", {}, pairs.head(0), seed=0)
