"""Unit tests of personalab.recommend.algorithms: the memory check before fitting."""

import pytest

from personalab.recommend.algorithms import fit_algorithm, make_algorithm
from personalab.recommend.negatives import trainset_of
from personalab.recommend.params import RecommendError
from tests.unit.recommend.frames import N_ITEMS


def test_a_user_based_similarity_over_the_budget_is_refused(positives, params, monkeypatch):
    trainset = trainset_of(positives, params, explicit=False)
    # 40 users: 40 * 40 * 8 = 12,800 bytes; 30 items: 30 * 30 * 8 = 7,200 bytes
    monkeypatch.setattr("personalab.recommend.algorithms.SIMILARITY_BUDGET_BYTES", 10_000)
    user_based = make_algorithm("KNNBasic", {"sim_options": {"name": "msd", "user_based": True}})
    with pytest.raises(RecommendError, match="user_based") as info:
        fit_algorithm(user_based, trainset)
    assert "user-by-user" in str(info.value)
    assert not hasattr(user_based, "sim")  # refused before fitting
    item_based = make_algorithm("KNNBasic", {"sim_options": {"name": "msd", "user_based": False}})
    assert fit_algorithm(item_based, trainset).sim.shape == (N_ITEMS, N_ITEMS)
    monkeypatch.setattr("personalab.recommend.algorithms.SIMILARITY_BUDGET_BYTES", 7_000)
    with pytest.raises(RecommendError, match="item-by-item"):
        fit_algorithm(make_algorithm("KNNBasic", {"sim_options": {"user_based": False}}), trainset)
