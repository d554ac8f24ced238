"""Unit tests of personalab.recommend.served: the Recommender's top-N, its fallback, and
save and load."""

import json

import pandas as pd
import pytest

from personalab.recommend.baselines import popularity
from personalab.recommend.served import Recommender, ServingError
from tests.unit.recommend.frames import N_ITEMS, N_USERS, pairs_of

COLUMNS = ["user_id", "rank", "item_id", "score", "fallback"]


def test_known_users_get_collaborative_rows_without_their_items(recommender, positives):
    users = positives["user_id"].drop_duplicates().tolist()
    out = recommender.recommend(users)
    assert list(out.columns) == COLUMNS
    assert not out["fallback"].any()
    assert out.groupby("user_id").size().eq(10).all()  # top_n
    assert out["user_id"].drop_duplicates().tolist() == users
    assert not pairs_of(out) & pairs_of(positives)
    assert out.groupby("user_id")["rank"].apply(list).map(lambda r: r == list(range(1, 11))).all()
    # scores fall with the rank
    assert (out.groupby("user_id")["score"].diff().dropna() <= 0).all()


def test_unknown_users_get_the_popularity_list_flagged(recommender, positives):
    out = recommender.recommend(["newcomer"], 5)
    expected = popularity(positives).head(5)
    assert out["user_id"].tolist() == ["newcomer"] * 5
    assert out["item_id"].tolist() == expected.index.tolist()
    assert out["score"].tolist() == pytest.approx(expected.tolist())
    assert out["rank"].tolist() == [1, 2, 3, 4, 5]
    assert out["fallback"].all()


def test_output_keeps_the_input_order_and_respects_k(recommender):
    out = recommender.recommend(["u07", "newcomer", "u00", "u07", "ghost"], 3)
    assert list(out.columns) == COLUMNS
    assert out["user_id"].tolist() == [
        u for u in ["u07", "newcomer", "u00", "ghost"] for _ in "123"
    ]
    assert out["rank"].tolist() == [1, 2, 3] * 4
    assert out["fallback"].tolist() == [f for f in [False, True, False, True] for _ in "123"]
    assert out["rank"].dtype == "int64" and out["score"].dtype == "float64"
    assert len(recommender.recommend(["u01"], 1)) == 1
    assert len(recommender.recommend(["u01"])) == 10
    with pytest.raises(ServingError, match="at least 1"):
        recommender.recommend(["u01"], -1)


def test_no_users_give_an_empty_frame(recommender):
    empty = recommender.recommend([])
    assert empty.empty and list(empty.columns) == COLUMNS


def test_k_zero_is_refused(recommender):
    with pytest.raises(ServingError, match="at least 1"):
        recommender.recommend(["u01"], 0)


def test_save_and_load_give_identical_recommendations(recommender, tmp_path):
    files = recommender.save(tmp_path / "model")
    assert files["model"].is_file() and files["config"].is_file()
    config = json.loads(files["config"].read_text())
    assert config["algorithm"] == "SVD" and config["options"] == {"n_factors": 4, "n_epochs": 5}
    assert config["seen_min_rating"] == 1.0 and config["users"] == N_USERS
    loaded = Recommender.load(files["model"], files["config"])
    users = ["u03", "newcomer", "u10", "u39"]
    pd.testing.assert_frame_equal(loaded.recommend(users, 7), recommender.recommend(users, 7))
    pd.testing.assert_series_equal(loaded.popular, recommender.popular, check_names=False)


def test_a_full_list_holds_every_item_but_the_users_positives(recommender, positives):
    out = recommender.recommend(["u00", "u01"], N_ITEMS)
    for user in ("u00", "u01"):
        mine = set(positives.loc[positives["user_id"] == user, "item_id"])
        got = out.loc[out["user_id"] == user, "item_id"].tolist()
        assert len(got) == len(set(got))
        assert set(got) == set(positives["item_id"]) - mine  # sampled negatives included
