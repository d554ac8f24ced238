"""Unit tests of personalab.recommend.negatives: sampled negatives, and a trainset with them
whose seen pairs are the positives only."""

import numpy as np
import pandas as pd
import pytest

from personalab.recommend.from_surprise import seen_matrix
from personalab.recommend.negatives import sample_negatives, trainset_of
from tests.unit.recommend.frames import pairs_of, ratings


def skewed_positives(seed=0):
    """200 users with 3 items each out of 50, item j drawn with weight 1 / (j + 1)."""
    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, 51)
    rows = [
        (f"u{u:03d}", f"i{j:02d}", 3.0, 0)
        for u in range(200)
        for j in rng.choice(50, 3, replace=False, p=weights / weights.sum())
    ]
    return ratings(rows)


@pytest.mark.parametrize("sampling", ["popularity", "uniform"])
def test_negatives_are_new_unique_pairs_with_the_given_rating(sampling):
    positives = skewed_positives()
    negatives = sample_negatives(positives, 1.5, -1.0, sampling, seed=3)
    assert list(negatives.columns) == ["user_id", "item_id", "rating"]
    assert not negatives.duplicated(["user_id", "item_id"]).any()
    assert not pairs_of(negatives) & pairs_of(positives)
    assert (negatives["rating"] == -1.0).all()
    assert set(negatives["user_id"]) <= set(positives["user_id"])
    assert set(negatives["item_id"]) <= set(positives["item_id"])
    asked = round(1.5 * len(positives))  # 900; repeats and observed pairs are dropped
    assert 0.6 * asked <= len(negatives) <= asked
    pd.testing.assert_frame_equal(negatives, sample_negatives(positives, 1.5, -1.0, sampling, 3))
    assert pairs_of(negatives) != pairs_of(sample_negatives(positives, 1.5, -1.0, sampling, 4))


def test_no_negatives_asked_gives_an_empty_frame():
    positives = skewed_positives()
    none = sample_negatives(positives, 0.0, 0.0)
    assert none.empty and list(none.columns) == ["user_id", "item_id", "rating"]
    assert sample_negatives(positives.iloc[:0], 1.0, 0.0).empty


def test_popularity_sampling_draws_popular_items_more_often_than_uniform():
    positives = skewed_positives()
    top5 = set(positives["item_id"].value_counts().index[:5])
    share = {
        sampling: sample_negatives(positives, 1.0, 0.0, sampling, seed=0)["item_id"]
        .isin(top5)
        .mean()
        for sampling in ("popularity", "uniform")
    }
    # 5 of 50 items: about 0.1 uniformly; their weight is far larger by popularity
    assert share["uniform"] < 0.15
    assert share["popularity"] > 0.25
    assert share["popularity"] > 2 * share["uniform"]


def test_seen_items_are_the_positives_not_the_sampled_negatives(positives, params):
    trainset = trainset_of(positives, params, explicit=False)
    negatives = trainset.n_ratings - len(positives)
    assert negatives > 0.5 * len(positives)  # negatives_per_positive 1, less repeats
    assert trainset.rating_scale == (0.0, 5.0)
    seen = seen_matrix(trainset, params.interactions.rating_scale[0])
    assert seen_matrix(trainset).nnz == trainset.n_ratings
    assert seen.nnz == len(positives)
    rows, cols = seen.nonzero()
    got = {
        (trainset.to_raw_uid(u), trainset.to_raw_iid(i)) for u, i in zip(rows, cols, strict=True)
    }
    assert got == pairs_of(positives)


def test_explicit_ratings_on_a_ten_point_scale_are_fitted_and_predicted_on_it(params):
    """Before, Surprise was given interactions.rating_scale (1-5) for any explicit log, so a
    1-10 log's predictions were clipped at 5."""
    rows = [
        (f"u{u:02d}", f"i{i:02d}", float(1 + (u + 3 * i) % 10), 0)
        for u in range(30)
        for i in range(12)
    ]
    ten = ratings(rows)
    trainset = trainset_of(ten, params, explicit=True)
    assert trainset.rating_scale == (1.0, 10.0)
    from surprise import BaselineOnly

    algo = BaselineOnly(verbose=False).fit(trainset)
    best = max(rows, key=lambda r: r[2])
    assert algo.predict(best[0], best[1]).est > 5.0
    assert params.interactions.surprise_scale(explicit=True) == params.interactions.rating_scale
