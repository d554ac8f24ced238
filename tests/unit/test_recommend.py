import numpy as np
import pandas as pd
import pytest
from surprise import NMF, SVD, BaselineOnly, SVDpp

from personalab.recommend import (
    RecommendError,
    build_interactions,
    rated_pairs,
    score_blocks,
    to_surprise,
)

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


@pytest.mark.parametrize(
    "algo",
    [
        SVD(n_factors=8, n_epochs=10, random_state=0),
        SVD(n_factors=8, n_epochs=10, biased=False, random_state=0),
        SVDpp(n_factors=4, n_epochs=5, random_state=0),
        NMF(n_factors=5, n_epochs=10, random_state=0),
        NMF(n_factors=5, n_epochs=10, biased=True, random_state=0),
        BaselineOnly(verbose=False),
    ],
    ids=["SVD", "SVD-unbiased", "SVDpp", "NMF", "NMF-biased", "BaselineOnly"],
)
def test_vectorised_scores_equal_surprise_predict(trainset, algo):
    algo.fit(trainset)
    blocks = list(score_blocks(algo, block_size=17))
    users = np.concatenate([b for b, _ in blocks])
    scores = np.vstack([s for _, s in blocks])
    assert users.tolist() == list(range(trainset.n_users))
    rng = np.random.default_rng(1)
    for u, i in zip(
        rng.integers(0, trainset.n_users, 300), rng.integers(0, trainset.n_items, 300), strict=True
    ):
        expected = algo.predict(trainset.to_raw_uid(u), trainset.to_raw_iid(i)).est
        assert scores[u, i] == pytest.approx(expected, abs=1e-9)


def test_rated_pairs_lists_every_rating(trainset):
    users, items = rated_pairs(trainset)
    assert len(users) == trainset.n_ratings
    expected = sorted((u, i) for u, i, _ in trainset.all_ratings())
    assert sorted(zip(users.tolist(), items.tolist(), strict=True)) == expected


def test_scoring_a_neighbourhood_model_is_refused(trainset):
    from surprise import KNNBasic

    algo = KNNBasic(verbose=False).fit(trainset)
    with pytest.raises(RecommendError, match="not a factor model"):
        next(score_blocks(algo))
