"""Unit tests of personalab.recommend.cooccurrence (SAR): similarities equal hand and dense
computations, the decay and pruning options do what they say, the budget is enforced, and
on a log of items taken in groups SAR beats the popularity baseline."""

import numpy as np
import pandas as pd
import pytest
from scipy.sparse import csr_array

from personalab.evaluation.ranking import ranking_report
from personalab.recommend.arrays import ModelArrays
from personalab.recommend.baselines import BaselineModel
from personalab.recommend.cooccurrence import (
    SIMILARITY_KINDS,
    check_sar_options,
    fit_sar,
    sar_affinity,
    sar_options,
    sar_similarity,
)
from personalab.recommend.holdout import split_holdout
from personalab.recommend.implicit_models import user_item_matrix
from personalab.recommend.params import HoldoutParams, RecommendError
from personalab.recommend.served import ArrayModel
from tests.unit.recommend.test_implicit_models import random_pairs

T0 = pd.Timestamp("2026-01-01", tz="UTC")


def log(rows):
    """rows: (user, item, strength, day)"""
    return pd.DataFrame(
        [(u, i, float(s), T0 + pd.Timedelta(days=d)) for u, i, s, d in rows],
        columns=["user_id", "item_id", "strength", "timestamp"],
    )


# u1: a b; u2: a b c; u3: b c; u4: d  ->  C = [[2,2,1,0],[2,3,2,0],[1,2,2,0],[0,0,0,1]]
TINY = log(
    [
        ("u1", "a", 1, 0),
        ("u1", "b", 2, 1),
        ("u2", "a", 1, 2),
        ("u2", "b", 1, 3),
        ("u2", "c", 3, 4),
        ("u3", "b", 2, 5),
        ("u3", "c", 1, 6),
        ("u4", "d", 1, 7),
    ]
)
HAND = {
    "cooccurrence": [[2, 2, 1, 0], [2, 3, 2, 0], [1, 2, 2, 0], [0, 0, 0, 1]],
    "jaccard": [[1, 2 / 3, 1 / 3, 0], [2 / 3, 1, 2 / 3, 0], [1 / 3, 2 / 3, 1, 0], [0, 0, 0, 1]],
    "lift": [
        [1 / 2, 1 / 3, 1 / 4, 0],
        [1 / 3, 1 / 3, 1 / 3, 0],
        [1 / 4, 1 / 3, 1 / 2, 0],
        [0, 0, 0, 1],
    ],
}


def dense_similarity(model: ModelArrays) -> np.ndarray:
    a, n = model.arrays, model.n_items
    return csr_array((a["sim_data"], a["sim_indices"], a["sim_indptr"]), shape=(n, n)).toarray()


def dense_reference(X, kind):
    """SAR's similarity computed densely with numpy."""
    binary = (X.toarray() > 0).astype(float)
    C = binary.T @ binary
    d = np.diag(C)
    with np.errstate(divide="ignore", invalid="ignore"):
        S = {
            "cooccurrence": C,
            "jaccard": C / (d[:, None] + d[None, :] - C),
            "lift": C / np.outer(d, d),
        }[kind]
    return np.where(C > 0, S, 0.0)


@pytest.mark.parametrize("kind", SIMILARITY_KINDS)
def test_similarity_equals_the_hand_computation(kind):
    model = fit_sar("SAR", {"similarity": kind}, TINY)
    assert model.arrays["item_ids"].tolist() == ["a", "b", "c", "d"]
    np.testing.assert_allclose(dense_similarity(model), HAND[kind], rtol=1e-12)


@pytest.mark.parametrize("kind", SIMILARITY_KINDS)
def test_similarity_equals_a_dense_computation(kind):
    X, _, _ = user_item_matrix(random_pairs())
    indptr, indices, data = sar_similarity(X, kind)
    S = csr_array((data, indices, indptr), shape=(X.shape[1],) * 2)
    assert S.has_sorted_indices
    np.testing.assert_allclose(S.toarray(), dense_reference(X, kind), rtol=1e-12)


def test_blocks_of_item_rows_give_the_same_similarity(monkeypatch):
    X, _, _ = user_item_matrix(random_pairs())
    whole = sar_similarity(X, "lift")
    monkeypatch.setattr("personalab.recommend.cooccurrence.BLOCK_CELLS", 3 * X.shape[1])
    for got, expected in zip(sar_similarity(X, "lift"), whole, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_scores_are_the_affinities_times_the_similarity():
    model = fit_sar("SAR", {"similarity": "jaccard"}, TINY)
    weights = np.zeros((4, 4))
    for u, i, s in TINY[["user_id", "item_id", "strength"]].itertuples(index=False):
        weights[int(u[1]) - 1, "abcd".index(i)] = s
    scores = ArrayModel(model).scores(np.arange(4))
    assert scores.dtype == np.float64
    np.testing.assert_allclose(scores, weights @ np.array(HAND["jaccard"]), rtol=1e-12)
    top = ArrayModel(model).top_k(["u1", "u3", "u4"], 3)
    assert top[["user_id", "item_id"]].values.tolist() == [
        ["u1", "c"],  # u1 has a, b: c is 1/3 * 1 + 2/3 * 2; d scores 0 and trails
        ["u1", "d"],
        ["u3", "a"],
        ["u3", "d"],
        ["u4", "a"],  # u4's only item has no neighbour: everything scores 0, ties by item id
        ["u4", "b"],
        ["u4", "c"],
    ]
    assert top.loc[0, "score"] == pytest.approx(1 / 3 + 4 / 3)


def test_min_cooccurrence_drops_rare_pairs():
    model = fit_sar("SAR", {"similarity": "cooccurrence", "min_cooccurrence": 2}, TINY)
    np.testing.assert_array_equal(
        dense_similarity(model), [[2, 2, 0, 0], [2, 3, 2, 0], [0, 2, 2, 0], [0, 0, 0, 0]]
    )


def test_half_life_weighs_recent_pairs_more():
    # u has y (strength 2, 14 days old) and x (strength 1, newest); y goes with q, x with p
    rows = [("u", "y", 2, 0), ("u", "x", 1, 14)]
    rows += [(f"a{k}", "y", 1, 1) for k in range(3)] + [(f"a{k}", "q", 1, 1) for k in range(3)]
    rows += [(f"b{k}", "x", 1, 1) for k in range(3)] + [(f"b{k}", "p", 1, 1) for k in range(3)]
    pairs = log(rows)
    affinity = sar_affinity(pairs, half_life_days=7)
    np.testing.assert_allclose(affinity[:2], [2 * 0.25, 1.0])
    np.testing.assert_allclose(affinity[2:], 0.5 ** (13 / 7))
    np.testing.assert_array_equal(sar_affinity(pairs), pairs["strength"].to_numpy())
    plain = ArrayModel(fit_sar("SAR", {}, pairs)).top_k(["u"], 1)
    decayed = ArrayModel(fit_sar("SAR", {"half_life_days": 7}, pairs)).top_k(["u"], 1)
    assert plain["item_id"].tolist() == ["q"] and decayed["item_id"].tolist() == ["p"]


@pytest.mark.parametrize("n", [1, 3])
def test_neighbours_keep_each_rows_top_n_and_the_diagonal(n):
    pairs = random_pairs()
    X, _, _ = user_item_matrix(pairs)
    full = dense_reference(X, "jaccard")
    kept = dense_similarity(fit_sar("SAR", {"neighbours": n}, pairs))
    for i, row in enumerate(full):
        assert kept[i, i] == row[i]
        others = np.delete(np.arange(len(row)), i)
        order = others[np.lexsort((others, -row[others]))]  # ties: lower item first
        expected = [j for j in order[:n] if row[j] > 0]
        assert np.flatnonzero(kept[i]).tolist() == sorted([i, *expected]), i
        np.testing.assert_array_equal(kept[i, expected], row[expected])


def test_a_similarity_over_the_budget_is_refused_naming_neighbours():
    pairs = random_pairs()
    n_entries = fit_sar("SAR", {}, pairs).arrays["sim_data"].size
    fit_sar("SAR", {}, pairs, max_entries=n_entries)
    with pytest.raises(RecommendError, match=r"algorithms\.SAR\.neighbours: .* keeps more than"):
        fit_sar("SAR", {}, pairs, max_entries=n_entries - 1)
    with pytest.raises(RecommendError, match=r"algorithms\.mySAR\.neighbours: 40 items x \(5"):
        fit_sar("mySAR", {"neighbours": 5}, pairs, max_entries=200)


def test_fits_are_deterministic_and_round_trip(tmp_path):
    pairs = random_pairs()
    options = {"similarity": "lift", "half_life_days": 10, "neighbours": 5}
    first, again = fit_sar("SAR", options, pairs), fit_sar("SAR", options, pairs)
    for key in first.arrays:
        assert np.array_equal(first.arrays[key], again.arrays[key]), key
    loaded = ModelArrays.load(first.save(tmp_path / "model.npz"))
    assert loaded.scalars == first.scalars and loaded.scalars["high"] == np.inf
    users = sorted(pairs["user_id"].unique())
    pd.testing.assert_frame_equal(
        ArrayModel(loaded).top_k(users, 10), ArrayModel(first).top_k(users, 10)
    )


@pytest.mark.parametrize(
    ("options", "where"),
    [
        ({"k": 5}, "k"),
        ({"similarity": "cosine"}, "similarity"),
        ({"half_life_days": 0}, "half_life_days"),
        ({"half_life_days": "7"}, "half_life_days"),
        ({"min_cooccurrence": 0}, "min_cooccurrence"),
        ({"min_cooccurrence": None}, "min_cooccurrence"),
        ({"neighbours": 2.5}, "neighbours"),
        ({"neighbours": True}, "neighbours"),
    ],
)
def test_bad_options_are_refused_naming_the_key(options, where):
    with pytest.raises(RecommendError, match=rf"algorithms\.SAR\.{where}"):
        check_sar_options("SAR", options)


def test_options_get_their_defaults():
    assert sar_options() == {"similarity", "half_life_days", "min_cooccurrence", "neighbours"}
    assert check_sar_options("SAR", {"neighbours": 10.0}) == {
        "similarity": "jaccard",
        "half_life_days": None,
        "min_cooccurrence": 1,
        "neighbours": 10,
    }


def grouped_log(n_users=300, n_groups=12, group_size=4, seed=0):
    """Items come in fixed groups that users take together (two groups each, plus one stray
    item); every group is about as popular as every other."""
    rng = np.random.default_rng(seed)
    n_items = n_groups * group_size
    rows = []
    for u in range(n_users):
        groups = rng.choice(n_groups, 2, replace=False)
        items = [g * group_size + k for g in groups for k in range(group_size)]
        items.append(int(rng.integers(n_items)))
        for i in dict.fromkeys(items):
            rows.append((f"u{u:03d}", f"i{i:02d}", rng.uniform(1, 3), rng.uniform(0, 30)))
    return log(rows)


def test_sar_beats_popularity_when_items_go_together():
    holdout = split_holdout(grouped_log(), HoldoutParams(kind="random", test_share=0.25), seed=0)
    users, k = holdout.users, 10

    def ndcg(recs):
        report = ranking_report(recs, holdout.relevant, holdout.train, k, holdout.catalogue)
        return report[f"ndcg_at_{k}"]

    sar = ndcg(ArrayModel(fit_sar("SAR", {}, holdout.train)).top_k(users, k))
    popular = ndcg(BaselineModel("popularity", holdout.train).top_k(users, k))
    assert sar > 0.6
    assert sar > popular + 0.3
