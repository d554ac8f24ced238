"""Unit tests of personalab.recommend.evaluate: RMSE and MAE by cross-validation, on a case worked
out by hand (the ranking metrics are pinned on the hand-built log of test_stage)."""

import math

import pytest

from personalab.recommend.evaluate import cross_validate_rating
from personalab.recommend.params import RecommendParams
from tests.unit.recommend.frames import ratings

# Four ratings 1, 1, 1, 5, each of its own user and item. Split into two folds of two, one fold
# holds the 5 and a 1, the other two 1s, whatever the shuffle (the three 1s are alike). No test
# user or item is in its fold's training part, so the models below predict the training mean:
#   test {1, 5}, trained on {1, 1}: predicts 1, errors 0 and 4 -> RMSE sqrt(16/2), MAE 2
#   test {1, 1}, trained on {1, 5}: predicts 3, errors 2 and 2 -> RMSE 2, MAE 2
# and the reported figures are the means over the folds (Surprise's protocol).
FOUR = ratings([("a", "w", 1, 0), ("b", "x", 1, 0), ("c", "y", 1, 0), ("d", "z", 5, 0)])
RMSE = (math.sqrt(16 / 2) + 2) / 2  # 1 + sqrt(2); pooled over all pairs it would be sqrt(6)
MAE = (2 + 2) / 2


@pytest.mark.parametrize("algorithm", ["BaselineOnly", "SVD"])
@pytest.mark.parametrize("seed", [0, 1, 42])
def test_cross_validation_reports_the_mean_of_each_folds_rmse_and_mae(algorithm, seed):
    params = RecommendParams.from_mapping(
        {
            "seed": seed,
            "algorithms": {algorithm: {}},
            "tuning": {"n_trials": 0, "space": {}},
            "cross_validation": {"folds": 2, "max_pairs": None},
        }
    )
    got = cross_validate_rating(algorithm, {}, FOUR, params, explicit=True)
    assert got["rmse"] == pytest.approx(RMSE, rel=1e-9)
    assert got["mae"] == pytest.approx(MAE, rel=1e-9)
    assert got["cv_pairs"] == 4  # explicit ratings: no sampled negatives
