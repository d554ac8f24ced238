"""The item-item models are ranked from their sparse scores (never a dense block): the lists
must equal the dense ranking's, zero and negative scores and ties included."""

import numpy as np
import pytest

from personalab.evaluation.topk import select_top
from personalab.recommend.array_model import ArrayModel
from personalab.recommend.cooccurrence import fit_sar
from personalab.recommend.ease import fit_ease
from personalab.recommend.implicit_models import fit_implicit
from tests.unit.recommend.test_ease import random_pairs

MODELS = {
    "ease-sparse": lambda p: fit_ease("EASE", {"l2": 5.0, "neighbours": 3}, p),  # negatives
    "ease-dense": lambda p: fit_ease("EASE", {"l2": 5.0, "neighbours": None}, p),
    "sar-few": lambda p: fit_sar("SAR", {"neighbours": 2}, p),
    "cosine": lambda p: fit_implicit("CosineRecommender", {"K": 3}, p, 0),
}


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("k", [1, 5, 12, 40])
@pytest.mark.parametrize("density", [1.0, 0.0])  # always the sparse path; never
def test_sparse_lists_equal_the_dense_ranking(name, k, density, monkeypatch):
    from personalab.recommend import array_model

    monkeypatch.setattr(array_model, "DENSE_CELLS", 0)  # blocks this small are otherwise dense
    pairs = random_pairs(n_users=60, n_items=40, n=400, seed=3)
    model = ArrayModel(MODELS[name](pairs), block_size=7)  # several blocks
    model.sparse_density = density
    users = np.arange(model.users.size)
    rows, cols, scores, ranks = model.top_k_arrays(users, k)
    dense = model.scores(users)
    seen = model.seen.tocoo()
    dense[seen.row, seen.col] = -np.inf
    expected = select_top(dense, k, model.item_order)
    for u in users:
        mine = rows == u
        want = [c for c in expected[u] if dense[u, c] > -np.inf]
        assert cols[mine].tolist() == want, (name, u)
        assert ranks[mine].tolist() == list(range(1, len(want) + 1))
        np.testing.assert_allclose(scores[mine], dense[u, want], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", MODELS)
def test_a_few_users_scored_densely_get_the_sparse_products_floats_and_lists(name, monkeypatch):
    """A served request's user is scored in a dense block (personalab.recommend.dense): the
    same score floats as scipy's sparse product, so the same lists, ties included."""
    from personalab.recommend import array_model, dense

    pairs = random_pairs(n_users=60, n_items=40, n=400, seed=5)
    model = ArrayModel(MODELS[name](pairs), block_size=5)
    users = np.arange(model.users.size)
    scorer = model.scorer
    if hasattr(scorer, "sparse"):
        np.testing.assert_array_equal(scorer(users[:5]), scorer.sparse(users[:5]).toarray())
    few = model.top_k_arrays(users, 8)
    monkeypatch.setattr(array_model, "DENSE_CELLS", 0)
    monkeypatch.setattr(dense, "DENSE_CELLS", 0)
    for got, want in zip(few, model.top_k_arrays(users, 8), strict=True):
        np.testing.assert_array_equal(got, want)
