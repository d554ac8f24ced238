"""Unit tests of personalab.recommend.interactions: implicit strengths, explicit ratings,
minimum counts, and the Surprise trainset built with arrays."""

import pandas as pd
import pytest

from personalab.recommend.interactions import build_interactions, build_trainset, to_surprise
from personalab.recommend.params import RecommendError
from tests.unit.recommend.frames import events


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


def test_explicit_feedback_keeps_each_pairs_latest_rating_and_its_strength():
    log = events(
        [
            ("a", "x", "rate", 0, 2.0),
            ("a", "x", "rate", 3, 4.0),
            ("a", "y", "purchase", 1),
            ("b", "x", "rate", 1, 5.0),
        ]
    )
    built = build_interactions(log, feedback="explicit")
    assert built.explicit
    pairs = built.ratings.set_index(["user_id", "item_id"])
    assert pairs["rating"].to_dict() == {("a", "x"): 4.0, ("b", "x"): 5.0}
    assert pairs["strength"].to_dict() == {("a", "x"): 2.0, ("b", "x"): 1.0}  # two rate events


def test_implicit_feedback_counts_ratings_as_interactions_weighed_as_asked():
    log = events(
        [
            ("a", "x", "rate", 0, 5.0),
            ("a", "x", "view", 0), ("a", "y", "view", 1), ("b", "y", "click", 2),
        ]
    )  # fmt: skip
    implicit = build_interactions(log)
    assert not implicit.explicit
    pairs = implicit.ratings.set_index(["user_id", "item_id"])
    assert pairs["strength"].to_dict() == {("a", "x"): 2.0, ("a", "y"): 1.0, ("b", "y"): 2.0}
    assert pairs["rating"].to_dict() == pytest.approx(
        {("a", "x"): 1 + 4 / 19, ("a", "y"): 1.0, ("b", "y"): 1 + 4 / 19}
    )
    weighed = build_interactions(log, weigh_by_rating=True)
    assert weighed.ratings.set_index(["user_id", "item_id"])["strength"][("a", "x")] == 6.0
    explicit = build_interactions(log, feedback="explicit")
    assert explicit.explicit and explicit.ratings["rating"].tolist() == [5.0]
    assert build_interactions(log.iloc[:1], weights={"view": 1.0}).ratings.empty
    with pytest.raises(RecommendError, match="no rate event"):
        build_interactions(log.iloc[1:], feedback="explicit")
    with pytest.raises(RecommendError, match="feedback must be"):
        build_interactions(log, feedback="auto")


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
