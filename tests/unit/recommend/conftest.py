"""Fixtures of the recommend tests: a structured log, its interactions, a fitted recommender,
the stage's prepared splits, and a Surprise trainset of seeded ratings."""

import numpy as np
import pandas as pd
import pytest

from personalab.recommend.interactions import build_interactions, to_surprise
from personalab.recommend.params import RecommendParams
from personalab.recommend.stage import fit_recommender, prepare
from tests.unit.recommend.frames import N_ITEMS, N_USERS, TINY, structured_log


@pytest.fixture(scope="module")
def log():
    return structured_log()


@pytest.fixture(scope="module")
def params():
    return RecommendParams.from_mapping(TINY)


@pytest.fixture(scope="module")
def positives(log):
    built = build_interactions(log, min_user_interactions=1, min_item_interactions=1)
    assert not built.explicit and built.counts["users"] == N_USERS
    assert built.counts["items"] == N_ITEMS
    return built.ratings


@pytest.fixture(scope="module")
def recommender(positives, params):
    return fit_recommender(positives, "SVD", params.options("SVD"), params)


@pytest.fixture(scope="module")
def stage(log):
    params = RecommendParams.from_mapping(
        {
            **TINY,
            "algorithms": {"SVD": {"n_factors": 4, "n_epochs": 5}, "BaselineOnly": {}},
            "tuning": {"n_trials": 2, "space": {"SVD": {"n_factors": [2, 6], "n_epochs": [3, 6]}}},
            "cross_validation": {"folds": 2, "max_pairs": None},
        }
    )
    prepared = prepare(log, params)
    return params, prepared.interactions, prepared.holdout, prepared.validation


@pytest.fixture(scope="module")
def trainset():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "user_id": rng.integers(0, 60, 1200).astype(str),
            "item_id": rng.integers(0, 90, 1200).astype(str),
            "rating": rng.integers(1, 6, 1200).astype(float),
        }
    ).drop_duplicates(["user_id", "item_id"])
    return to_surprise(frame, (1.0, 5.0)).build_full_trainset()
