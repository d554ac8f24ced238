"""The recommend stage's steps together on tiny data: prepare, tune then compare, the champion
refitted for every user, and the errors prepare raises."""

import json

import pytest

from personalab.recommend.comparison import compare
from personalab.recommend.params import BASELINES, RecommendError, RecommendParams
from personalab.recommend.stage import fit_recommender, prepare
from personalab.recommend.tuning import tune
from tests.unit.recommend.frames import N_ITEMS, N_USERS, TINY, events, pairs_of


def test_prepare_splits_test_then_validation(stage):
    params, interactions, holdout, validation = stage
    assert pairs_of(holdout.train) | pairs_of(holdout.test) == pairs_of(interactions.ratings)
    assert pairs_of(validation.train) | pairs_of(validation.test) == pairs_of(holdout.train)
    assert len(holdout.users) == len(validation.users) == N_USERS  # everyone has 7-8 pairs


def test_compare_after_tune_picks_the_validation_best(stage):
    params, interactions, holdout, validation = stage
    tuning = tune(validation, params)
    result = compare(interactions.ratings, holdout, tuning, params)
    surprise = {k: v for k, v in tuning.validation.items() if k not in BASELINES}
    assert result.champion == max(surprise, key=surprise.get)
    assert result.table["champion"].sum() == 1
    assert json.loads(result.table.loc[0, "options"]) == tuning.best_options["SVD"]


def test_prepare_refuses_events_with_nothing_left(log):
    params = RecommendParams.from_mapping(
        {**TINY, "interactions": {"min_user_interactions": 50, "min_item_interactions": 1}}
    )
    with pytest.raises(RecommendError, match="min_user_interactions"):
        prepare(log, params)


def test_prepare_refuses_users_with_a_single_pair():
    log = events([("a", "x", "view", 0), ("b", "y", "view", 0), ("c", "x", "click", 1)])
    with pytest.raises(RecommendError, match="no user has a held-out interaction"):
        prepare(log, RecommendParams.from_mapping(TINY))


def test_item_based_neighbours_recommend_the_users_own_group(positives, params):
    """The log's structure is learnable: item-based KNN recommends mostly the user's own half."""
    knn = fit_recommender(
        positives, "KNNBasic", {"k": 10, "sim_options": {"user_based": False}}, params
    )
    out = knn.recommend([f"u{u:02d}" for u in range(N_USERS)], 5)
    odd_user = out["user_id"].str[1:].astype(int) % 2 == 1
    upper_item = out["item_id"].str[1:].astype(int) >= N_ITEMS // 2
    assert (odd_user == upper_item).mean() > 0.65  # a random list: about 0.5
