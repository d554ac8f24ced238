"""Unit tests of personalab.recommend.holdout: random and last-n splits, relevance."""

import numpy as np
import pandas as pd

from personalab.recommend.holdout import split_holdout
from personalab.recommend.params import HoldoutParams
from tests.unit.recommend.frames import pairs_of, ratings


def sized(counts):
    """One pair per (user, item) for users with the given pair counts, a day apart."""
    return ratings(
        [(user, f"i{j:02d}", 1 + j % 5, j) for user, n in counts.items() for j in range(n)]
    )


def per_user(frame, users):
    return frame.groupby("user_id").size().reindex(users, fill_value=0).to_dict()


def test_random_holdout_takes_a_rounded_share_of_each_user_and_keeps_one():
    counts = {"a": 1, "b": 2, "c": 3, "d": 5, "e": 10, "f": 4}
    data = sized(counts)
    held = split_holdout(data, HoldoutParams(kind="random", test_share=0.3), seed=0)
    # round(0.3 n), at least 1, at most n - 1: 0.3 -> 0 (single pair), 0.6 -> 1, 0.9 -> 1,
    # 1.5 -> 2, 3.0 -> 3, 1.2 -> 1
    assert per_user(held.test, list(counts)) == {"a": 0, "b": 1, "c": 1, "d": 2, "e": 3, "f": 1}
    assert per_user(held.train, list(counts)) == {"a": 1, "b": 1, "c": 2, "d": 3, "e": 7, "f": 3}
    assert not pairs_of(held.train) & pairs_of(held.test)
    assert pairs_of(held.train) | pairs_of(held.test) == pairs_of(data)
    assert len(held.train) + len(held.test) == len(data)
    assert pairs_of(held.relevant) == pairs_of(held.test)
    assert held.users == ["b", "c", "d", "e", "f"]  # "a" has nothing held out
    assert held.catalogue and set(held.catalogue) == set(held.train["item_id"])
    # a small share still holds out one pair of every user with two or more
    few = split_holdout(data, HoldoutParams(kind="random", test_share=0.1), seed=0)
    assert per_user(few.test, list(counts)) == {"a": 0, "b": 1, "c": 1, "d": 1, "e": 1, "f": 1}
    # a big share still leaves every user one training pair
    most = split_holdout(data, HoldoutParams(kind="random", test_share=0.95), seed=0)
    assert per_user(most.train, list(counts)) == dict.fromkeys(counts, 1)


def test_random_holdout_is_seeded():
    data = sized({f"u{u}": 10 for u in range(6)})
    holdout = HoldoutParams(kind="random", test_share=0.3)
    first = split_holdout(data, holdout, seed=1)
    again = split_holdout(data, holdout, seed=1)
    other = split_holdout(data, holdout, seed=2)
    pd.testing.assert_frame_equal(first.test, again.test)
    pd.testing.assert_frame_equal(first.train, again.train)
    assert pairs_of(first.test) != pairs_of(other.test)
    assert len(first.test) == len(other.test) == 18


def test_last_n_holdout_takes_each_users_latest_pairs():
    data = ratings(
        [
            ("a", "x", 5, 3),  # a single pair stays in training
            ("b", "x", 5, 9), ("b", "y", 4, 1),  # min(2, 2 - 1) = 1: the latest, x
            ("c", "x", 5, 2), ("c", "y", 4, 7), ("c", "z", 3, 5),  # min(2, 2): y and z
            ("d", "w", 1, 0), ("d", "x", 2, 4), ("d", "y", 3, 1), ("d", "z", 4, 6), ("d", "v", 5, 8),
            ("e", "z", 5, 1), ("e", "y", 5, 3), ("e", "x", 5, 3),  # a tie at day 3: by item id
        ]
    )  # fmt: skip
    held = split_holdout(data, HoldoutParams(kind="last_n", last_n=2), seed=0)
    assert pairs_of(held.test) == {
        ("b", "x"),
        ("c", "y"),
        ("c", "z"),
        ("d", "v"),
        ("d", "z"),
        ("e", "x"),
        ("e", "y"),
    }
    assert pairs_of(held.train) == pairs_of(data) - pairs_of(held.test)
    one = split_holdout(data, HoldoutParams(kind="last_n", last_n=1), seed=0)
    assert pairs_of(one.test) == {("b", "x"), ("c", "y"), ("d", "v"), ("e", "y")}
    # the seed plays no part
    assert pairs_of(split_holdout(data, HoldoutParams(kind="last_n"), seed=9).test) == pairs_of(
        held.test
    )


def test_relevant_min_rating_keeps_only_well_rated_held_out_pairs():
    data = ratings(
        [("a", "x", 5, 0), ("a", "y", 2, 1), ("a", "z", 4, 2),
         ("b", "x", 1, 0), ("b", "y", 3, 1), ("b", "z", 1, 2)]
    )  # fmt: skip
    held = split_holdout(
        data, HoldoutParams(kind="last_n", last_n=2, relevant_min_rating=3.0), seed=0
    )
    assert pairs_of(held.test) == {("a", "y"), ("a", "z"), ("b", "y"), ("b", "z")}
    assert pairs_of(held.relevant) == {("a", "z"), ("b", "y")}
    assert list(held.relevant.columns) == ["user_id", "item_id"]
    assert held.users == ["a", "b"]
    strict = split_holdout(
        data, HoldoutParams(kind="last_n", last_n=2, relevant_min_rating=4.5), seed=0
    )
    assert strict.relevant.empty and strict.users == []


def test_the_same_seed_holds_out_the_same_pairs_whatever_the_row_order_or_feedback_mode():
    from personalab.recommend.interactions import build_interactions
    from tests.unit.recommend.frames import structured_log

    log = structured_log()
    log = log.assign(rating=np.where(log["event_type"] == "view", 1.0 + log.index % 5, np.nan))
    log.loc[log["event_type"] == "view", "event_type"] = "rate"
    params = HoldoutParams(kind="random", test_share=0.25)

    def held(frame, feedback):
        pairs = build_interactions(frame, feedback=feedback).ratings
        split = split_holdout(pairs, params, seed=7)
        return set(zip(split.test["user_id"], split.test["item_id"], strict=True))

    implicit = held(log, "implicit")
    assert implicit == held(log.sample(frac=1.0, random_state=3), "implicit")
    assert implicit == held(log, "explicit")  # every pair is rated: the same pairs, same split
    other = split_holdout(build_interactions(log).ratings, params, seed=8)
    assert set(zip(other.test["user_id"], other.test["item_id"], strict=True)) != implicit
