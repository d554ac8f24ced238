"""Unit tests of personalab.recommend.scorers: every family's vectorised scores equal
Surprise's predict for every pair (through from_surprise.score_blocks)."""

import numpy as np
import pytest
from surprise import (
    NMF,
    SVD,
    BaselineOnly,
    CoClustering,
    KNNBaseline,
    KNNBasic,
    KNNWithMeans,
    KNNWithZScore,
    NormalPredictor,
    SlopeOne,
    SVDpp,
)

from personalab.recommend.arrays import ServingError
from personalab.recommend.from_surprise import score_blocks


def _knn(cls, user_based, name, **kw):
    return cls(sim_options={"name": name, "user_based": user_based}, verbose=False, **kw)


ALGOS = {
    "SVD": SVD(n_factors=8, n_epochs=10, random_state=0),
    "SVD-unbiased": SVD(n_factors=8, n_epochs=10, biased=False, random_state=0),
    "SVDpp": SVDpp(n_factors=4, n_epochs=5, random_state=0),
    "NMF": NMF(n_factors=5, n_epochs=10, random_state=0),
    "NMF-biased": NMF(n_factors=5, n_epochs=10, biased=True, random_state=0),
    "BaselineOnly": BaselineOnly(verbose=False),
    "KNNBasic-user-msd": _knn(KNNBasic, True, "msd", k=5, min_k=2),
    "KNNBasic-item-cosine": _knn(KNNBasic, False, "cosine", k=5, min_k=2),
    "KNNWithMeans-user-pearson": _knn(KNNWithMeans, True, "pearson", k=4),
    "KNNWithMeans-item-pearson-min3": _knn(KNNWithMeans, False, "pearson", k=4, min_k=3),
    "KNNWithZScore-user-msd": _knn(KNNWithZScore, True, "msd", k=6),
    "KNNWithZScore-item-cosine": _knn(KNNWithZScore, False, "cosine", k=6),
    "KNNBaseline-user": _knn(KNNBaseline, True, "pearson_baseline", k=5),
    "KNNBaseline-item-min2": _knn(KNNBaseline, False, "pearson_baseline", k=5, min_k=2),
    # k above most users' counts: the item-based sums run as sparse products for those users
    "KNNBasic-item-k20": _knn(KNNBasic, False, "cosine", k=20),
    "KNNWithMeans-item-k20-min3": _knn(KNNWithMeans, False, "pearson", k=20, min_k=3),
    "KNNWithZScore-item-msd-k20": _knn(KNNWithZScore, False, "msd", k=20),
    "KNNBaseline-item-k20": _knn(KNNBaseline, False, "pearson_baseline", k=20),
    "SlopeOne": SlopeOne(),
    "CoClustering": CoClustering(random_state=0),
}


@pytest.mark.parametrize("name", list(ALGOS))
def test_vectorised_scores_equal_surprise_predict_for_every_pair(trainset, name):
    algo = ALGOS[name].fit(trainset)
    blocks = list(score_blocks(algo, block_size=17))
    users = np.concatenate([b for b, _ in blocks])
    scores = np.vstack([s for _, s in blocks])
    assert users.tolist() == list(range(trainset.n_users))
    raw_items = [trainset.to_raw_iid(i) for i in range(trainset.n_items)]
    expected = np.array(
        [
            [algo.predict(trainset.to_raw_uid(u), i).est for i in raw_items]
            for u in range(trainset.n_users)
        ]
    )
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-9)


def test_normal_predictor_scores_are_seeded_draws_from_its_fitted_normal(trainset):
    algo = NormalPredictor().fit(trainset)
    first = np.vstack([s for _, s in score_blocks(algo, block_size=16, seed=3)])
    again = np.vstack([s for _, s in score_blocks(algo, block_size=16, seed=3)])
    other = np.vstack([s for _, s in score_blocks(algo, block_size=16, seed=4)])
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.min() >= 1.0 and first.max() <= 5.0
    assert first.shape == (trainset.n_users, trainset.n_items)
    assert abs(np.mean(first) - algo.trainset.global_mean) < 0.1


def test_item_based_neighbours_count_users_with_more_and_fewer_items_than_k(trainset):
    counts = np.array([len(trainset.ur[u]) for u in range(trainset.n_users)])
    assert (counts <= 20).any() and (counts > 20).any()  # both paths of the k20 cases run


def test_scoring_an_unknown_algorithm_is_refused(trainset):
    class Custom:
        def __init__(self, trainset):
            self.trainset = trainset

    with pytest.raises(ServingError, match="Custom has no vectorised scoring"):
        next(score_blocks(Custom(trainset)))
