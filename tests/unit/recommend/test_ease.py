"""Unit tests of personalab.recommend.ease: EASE's closed form, kept as served arrays."""

import numpy as np
import pandas as pd
import pytest

from personalab.recommend.array_model import ArrayModel
from personalab.recommend.ease import check_ease_options, fit_ease
from personalab.recommend.params import RecommendError

T0 = pd.Timestamp("2026-01-01", tz="UTC")


def random_pairs(n_users=50, n_items=30, n=500, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "user_id": [f"u{u:02d}" for u in rng.integers(0, n_users, n)],
            "item_id": [f"i{i:02d}" for i in rng.integers(0, n_items, n)],
        }
    ).drop_duplicates()
    return frame.assign(strength=rng.uniform(1, 5, len(frame)), timestamp=T0).reset_index(drop=True)


def dense(pairs):
    users = sorted(pairs["user_id"].unique())
    items = sorted(pairs["item_id"].unique())
    X = np.zeros((len(users), len(items)))
    X[[users.index(u) for u in pairs["user_id"]], [items.index(i) for i in pairs["item_id"]]] = 1
    return X, users, items


def closed_form(X, l2):
    P = np.linalg.inv(X.T @ X + l2 * np.eye(X.shape[1]))
    B = -P / np.diag(P)[None, :]
    np.fill_diagonal(B, 0.0)
    return B


def test_scores_equal_the_closed_form_over_the_binary_matrix():
    pairs = random_pairs()
    model = fit_ease("EASE", {"l2": 10.0, "neighbours": None}, pairs)
    X, users, items = dense(pairs)
    expected = X @ closed_form(X, 10.0)
    served = ArrayModel(model)
    assert served.users.tolist() == users and served.items.tolist() == items
    got = served.scores(np.arange(len(users)))
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    top = served.top_k(users, 5)  # the user's own items excluded, best first
    first = top[top["rank"] == 1].set_index("user_id")["item_id"]
    for u, user in enumerate(users):
        unseen = np.where(X[u] == 0, expected[u], -np.inf)
        assert first[user] == items[int(np.argmax(unseen))]


def test_neighbours_keep_each_rows_largest_weights_by_magnitude():
    pairs = random_pairs()
    X, _, _ = dense(pairs)
    B = closed_form(X, 10.0)
    model = fit_ease("EASE", {"l2": 10.0, "neighbours": 4}, pairs)
    indptr, indices, data = (model.arrays[k] for k in ("sim_indptr", "sim_indices", "sim_data"))
    for row in range(B.shape[0]):
        kept = indices[indptr[row] : indptr[row + 1]]
        assert len(kept) == 4
        assert set(kept) == set(np.argsort(-np.abs(B[row]), kind="stable")[:4])
        np.testing.assert_allclose(data[indptr[row] : indptr[row + 1]], B[row, kept])


def test_max_items_models_only_the_most_interacted_with_items():
    pairs = random_pairs()
    counts = pairs["item_id"].value_counts()
    top = sorted(counts.sort_values(ascending=False, kind="stable").index[:10])
    model = fit_ease("EASE", {"max_items": 10}, pairs)
    items = model.arrays["item_ids"]
    touched = set(items[model.arrays["sim_indices"]])
    touched |= set(items[np.flatnonzero(np.diff(model.arrays["sim_indptr"]))])
    assert touched <= set(top) and model.scalars["items_modelled"] == 10


def test_it_is_deterministic_and_its_options_are_checked():
    pairs = random_pairs()
    a, b = fit_ease("E", {}, pairs), fit_ease("E", {}, pairs.sample(frac=1.0, random_state=1))
    for key in ("sim_indptr", "sim_indices", "sim_data", "seen_indices"):
        assert np.array_equal(a.arrays[key], b.arrays[key])
    assert check_ease_options("E", {})["l2"] == 250.0
    for options, key in (({"l2": 0}, "l2"), ({"neighbours": 0}, "neighbours"),
                         ({"max_items": 1.5}, "max_items"), ({"lambda": 1}, "lambda")):  # fmt: skip
        with pytest.raises(RecommendError, match=rf"algorithms\.E\.{key}"):
            check_ease_options("E", options)
