import numpy as np
import pandas as pd
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

from personalab.recommend import (
    RecommendError,
    build_interactions,
    build_trainset,
    rated_pairs,
    recommend_top_k,
    score_blocks,
    to_surprise,
)
from personalab.serving import ServingError

T0 = pd.Timestamp("2026-01-01", tz="UTC")


def events(rows):
    """rows: (user, item, event_type, day[, rating])"""
    frame = pd.DataFrame(
        [(u, i, e, T0 + pd.Timedelta(days=d), r[0] if r else np.nan) for u, i, e, d, *r in rows],
        columns=["user_id", "item_id", "event_type", "timestamp", "rating"],
    )
    return frame


def test_implicit_strength_sums_weights_caps_and_scales():
    log = events(
        [
            ("a", "x", "view", 0), ("a", "x", "click", 0), ("a", "x", "purchase", 1),  # 1 + 2 + 5 = 8
            ("a", "y", "view", 0),  # 1: the floor -> 1.0
            ("b", "x", "purchase", 0), ("b", "x", "purchase", 1), ("b", "x", "purchase", 2),  # 15 -> capped 10
            ("b", "y", "search", 0),  # not weighted
        ]
    )  # fmt: skip
    built = build_interactions(log, cap=10.0, rating_scale=(1.0, 5.0))
    got = built.ratings.set_index(["user_id", "item_id"])["rating"].to_dict()
    assert not built.explicit
    assert got == pytest.approx({("a", "x"): 1 + 4 * 7 / 9, ("a", "y"): 1.0, ("b", "x"): 5.0})


def test_recency_decay_halves_an_event_each_half_life():
    log = events([("a", "x", "purchase", 0), ("a", "y", "purchase", 10), ("b", "y", "view", 10)])
    built = build_interactions(log, cap=5.0, half_life_days=10.0, rating_scale=(0.0, 4.0))
    got = built.ratings.set_index(["user_id", "item_id"])["rating"]
    assert got[("a", "y")] == pytest.approx(4.0)  # 5, fresh
    assert got[("a", "x")] == pytest.approx(4.0 * (2.5 - 1) / 4)  # 5 * 0.5 = 2.5


def test_explicit_ratings_win_over_implicit_events_and_keep_the_latest():
    log = events(
        [
            ("a", "x", "rate", 0, 2.0),
            ("a", "x", "rate", 3, 4.0),
            ("a", "y", "purchase", 1),
            ("b", "x", "rate", 1, 5.0),
        ]
    )
    built = build_interactions(log)
    assert built.explicit
    assert built.ratings.set_index(["user_id", "item_id"])["rating"].to_dict() == {
        ("a", "x"): 4.0,
        ("b", "x"): 5.0,
    }


def test_feedback_auto_ignores_a_few_ratings_among_many_behaviour_events():
    log = events(
        [
            ("a", "x", "rate", 0, 5.0),
            ("a", "x", "view", 0), ("a", "y", "view", 1), ("b", "y", "click", 2),
        ]
    )  # fmt: skip
    auto = build_interactions(log)
    assert not auto.explicit
    strengths = auto.ratings.set_index(["user_id", "item_id"])["rating"].to_dict()
    assert strengths == pytest.approx(
        {("a", "x"): 1.0, ("a", "y"): 1.0, ("b", "y"): 1 + 4 * (2 - 1) / 19}
    )
    explicit = build_interactions(log, feedback="explicit")
    assert explicit.explicit and explicit.ratings["rating"].tolist() == [5.0]
    assert build_interactions(log.iloc[:1], feedback="implicit").ratings.empty
    with pytest.raises(RecommendError, match="no rate event"):
        build_interactions(log.iloc[1:], feedback="explicit")
    with pytest.raises(RecommendError, match="feedback must be"):
        build_interactions(log, feedback="both")


def test_minimum_interactions_drop_repeatedly_and_are_counted():
    log = events(
        [("a", "x", "view", 0), ("a", "y", "view", 0), ("b", "x", "view", 0), ("c", "z", "view", 0)]
    )
    built = build_interactions(log, min_user_interactions=2, min_item_interactions=1)
    assert set(map(tuple, built.ratings[["user_id", "item_id"]].to_numpy())) == {
        ("a", "x"),
        ("a", "y"),
    }
    assert built.counts == {"pairs": 2, "pairs_dropped": 2, "users": 1, "items": 2}
    emptied = build_interactions(log, min_user_interactions=2, min_item_interactions=2)
    assert (
        emptied.counts["pairs"] == 0
    )  # dropping b leaves x with one user, which drops a's x, then a


def test_bad_settings_are_clear_errors():
    log = events([("a", "x", "view", 0)])
    with pytest.raises(RecommendError, match="rating_scale"):
        build_interactions(log, rating_scale=(5.0, 1.0))
    with pytest.raises(RecommendError, match="lack column 'event_type'"):
        build_interactions(log.drop(columns="event_type"))


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


def test_recommend_top_k_ranks_unseen_items_by_the_vectorised_score(trainset):
    algo = SVD(n_factors=8, n_epochs=10, random_state=0).fit(trainset)
    top = recommend_top_k(algo, 5, block_size=7)
    assert top.groupby("user_id").size().eq(5).all()
    assert top["user_id"].nunique() == trainset.n_users
    seen = {(trainset.to_raw_uid(u), trainset.to_raw_iid(i)) for u, i, _ in trainset.all_ratings()}
    assert not any(pair in seen for pair in zip(top["user_id"], top["item_id"], strict=True))
    user = trainset.to_raw_uid(3)
    unseen = [
        (algo.predict(user, trainset.to_raw_iid(i)).est, trainset.to_raw_iid(i))
        for i in range(trainset.n_items)
        if (user, trainset.to_raw_iid(i)) not in seen
    ]
    best = sorted(unseen, key=lambda t: (-t[0], t[1]))[:5]
    mine = top[top["user_id"] == user]
    assert mine["item_id"].tolist() == [item for _, item in best]
    assert mine["rank"].tolist() == [1, 2, 3, 4, 5]
    only = recommend_top_k(algo, 3, users=[user, "nobody"])
    assert only["user_id"].unique().tolist() == [user]  # unknown users are skipped


def test_rated_pairs_lists_every_rating(trainset):
    users, items = rated_pairs(trainset)
    assert len(users) == trainset.n_ratings
    expected = sorted((u, i) for u, i, _ in trainset.all_ratings())
    assert sorted(zip(users.tolist(), items.tolist(), strict=True)) == expected


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


def test_build_trainset_equals_surprises_own(trainset):
    frame = pd.DataFrame(
        [
            (trainset.to_raw_uid(u), trainset.to_raw_iid(i), r)
            for u in trainset.all_users()
            for i, r in trainset.ur[u]
        ],
        columns=["user_id", "item_id", "rating"],
    ).sample(frac=1.0, random_state=1)  # another row order: other inner ids
    ours = build_trainset(frame, (1.0, 5.0))
    theirs = to_surprise(frame, (1.0, 5.0)).build_full_trainset()
    assert ours.ur == theirs.ur and ours.ir == theirs.ir
    assert ours._raw2inner_id_users == theirs._raw2inner_id_users
    assert ours._raw2inner_id_items == theirs._raw2inner_id_items
    assert (ours.n_users, ours.n_items, ours.n_ratings) == (
        theirs.n_users,
        theirs.n_items,
        theirs.n_ratings,
    )
    assert ours.global_mean == theirs.global_mean and ours.rating_scale == theirs.rating_scale
