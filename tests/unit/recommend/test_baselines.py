"""Unit tests of personalab.recommend.baselines: popularity (and trending), and the
popularity and random baselines' top-k."""

import pandas as pd
import pytest

from personalab.recommend.baselines import BaselineModel, popularity
from personalab.recommend.params import BASELINES, RecommendError
from tests.unit.recommend.frames import pairs_of, ratings


def test_popularity_is_the_share_of_distinct_users_sorted_with_ties_by_item_id():
    data = ratings(
        [
            ("a", "y", 1, 0), ("a", "x", 1, 0), ("a", "w", 1, 0),
            ("b", "y", 1, 0), ("b", "z", 1, 0), ("b", "y", 1, 1),  # a repeated pair counts once
            ("c", "y", 1, 0), ("c", "z", 1, 0),
            ("d", "v", 1, 0),
        ]
    )  # fmt: skip
    got = popularity(data)
    assert got.index.tolist() == ["y", "z", "v", "w", "x"]
    assert got.tolist() == pytest.approx([3 / 4, 2 / 4, 1 / 4, 1 / 4, 1 / 4])


def test_trending_keeps_pairs_within_the_window_of_the_newest():
    data = ratings(
        [
            ("a", "old", 1, 0), ("b", "old", 1, 1), ("c", "old", 1, 2),
            ("a", "new", 1, 8), ("d", "new", 1, 10),
            ("b", "edge", 1, 7),  # exactly 3 days before the newest: inside
            ("c", "gone", 1, 6.9),
        ]
    )  # fmt: skip
    got = popularity(data, window_days=3)
    assert got.index.tolist() == ["new", "edge"]
    assert got.tolist() == pytest.approx([2 / 3, 1 / 3])  # users a, b, d in the window
    assert popularity(data).index[0] == "old"


def test_an_empty_window_falls_back_to_every_pair():
    data = ratings([("a", "x", 1, 0), ("b", "x", 1, 1), ("b", "y", 1, 2)]).assign(timestamp=pd.NaT)
    got = popularity(data, window_days=1)
    pd.testing.assert_series_equal(got, popularity(data))
    assert got.to_dict() == {"x": 1.0, "y": 0.5}


BASELINE_TRAIN = ratings(
    [
        ("a", "p", 1, 0),
        ("a", "q", 1, 0),
        ("b", "p", 1, 0),
        ("b", "r", 1, 0),
        ("c", "p", 1, 0),
        ("c", "q", 1, 0),
        ("c", "s", 1, 0),
        ("d", "t", 1, 0),
    ]
)  # fmt: skip
# popularity: p 3/4, q 2/4, r = s = t 1/4 (ties by item id)


def lists(top):
    return {u: group.sort_values("rank")["item_id"].tolist() for u, group in top.groupby("user_id")}


def test_popularity_baseline_ranks_unseen_items_by_popularity():
    model = BaselineModel("popularity", BASELINE_TRAIN)
    top = model.top_k(["a", "b", "c", "d"], 3)
    assert lists(top) == {
        "a": ["r", "s", "t"],
        "b": ["q", "s", "t"],
        "c": ["r", "t"],  # only two unseen items left
        "d": ["p", "q", "r"],
    }
    d = top[top["user_id"] == "d"]
    assert d["rank"].tolist() == [1, 2, 3]
    assert d["score"].tolist() == pytest.approx([3 / 4, 2 / 4, 1 / 4])
    assert top["user_id"].drop_duplicates().tolist() == ["a", "b", "c", "d"]


def test_unknown_users_get_the_full_baseline_lists():
    popular = BaselineModel("popularity", BASELINE_TRAIN).top_k(["zed", "a"], 4)
    assert lists(popular)["zed"] == ["p", "q", "r", "s"]
    random = BaselineModel("random", BASELINE_TRAIN, seed=1).top_k(["zed"], 5)
    assert sorted(random["item_id"]) == ["p", "q", "r", "s", "t"]  # every item, none excluded


def test_random_baseline_is_seeded_and_excludes_seen():
    train = pd.concat(
        [BASELINE_TRAIN, ratings([(f"x{u}", f"m{j}", 1, 0) for u in range(6) for j in range(u)])]
    )
    users = ["a", "b", "c", "d", *[f"x{u}" for u in range(6)]]
    first = BaselineModel("random", train, seed=5).top_k(users, 4)
    again = BaselineModel("random", train, seed=5).top_k(users, 4)
    other = BaselineModel("random", train, seed=6).top_k(users, 4)
    pd.testing.assert_frame_equal(first, again)
    assert not first["item_id"].equals(other["item_id"])
    assert not pairs_of(first) & pairs_of(train)
    assert first.groupby("user_id").size().eq(4).all()
    with pytest.raises(RecommendError, match="unknown baseline"):
        BaselineModel("trending", train)
    assert set(BASELINES) == {"popularity", "random"}


def test_trending_baseline_uses_the_window():
    train = ratings([("a", "old", 1, 0), ("b", "old", 1, 0), ("c", "new", 1, 10)])
    model = BaselineModel("popularity", train, window_days=2)
    assert lists(model.top_k(["zed"], 2))["zed"] == ["new", "old"]  # "old" scores 0
