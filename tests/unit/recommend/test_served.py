"""Unit tests of personalab.recommend.served: the Recommender's top-N, its fallback, save and
load, and a served request: its checks (user ids, k) and the labels of each answer row."""

import json

import numpy as np
import pandas as pd
import pytest

from personalab.recommend.baselines import popularity
from personalab.recommend.params import RecommendParams
from personalab.recommend.served import (
    DEFAULT_MAX_K,
    SCORE_KINDS,
    Recommender,
    ServingError,
    max_k_of,
    requested_k,
    requested_users,
    serve_recommendations,
)
from personalab.recommend.stage import fit_recommender
from tests.unit.recommend.frames import N_ITEMS, N_USERS, TINY, pairs_of

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
    assert config["class"] == "SVD" and config["users"] == N_USERS
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


# --- a served request ---------------------------------------------------------------------------


def test_served_rows_say_what_their_score_means_and_why(recommender, positives):
    out = serve_recommendations(recommender, pd.DataFrame({"user_id": ["u03", "newcomer"]}))
    assert list(out.columns) == [*COLUMNS, "score_kind", "reason"]
    known, cold = out[out["user_id"] == "u03"], out[out["user_id"] == "newcomer"]
    assert len(known) == len(cold) == 10  # top_n
    assert set(known["score_kind"]) == {"predicted_rating"}
    assert set(known["reason"]) == {
        "known user: the top items SVD predicts among those they have not seen"
    }
    assert set(cold["score_kind"]) == {"popularity_share"}
    assert set(cold["reason"]) == {"unknown user: the most popular items"}
    np.testing.assert_allclose(cold["score"], popularity(positives).head(10).to_numpy())
    assert set(out["score_kind"]) <= set(SCORE_KINDS)
    pd.testing.assert_frame_equal(  # the labels only add columns
        out[COLUMNS], recommender.recommend(["u03", "newcomer"])
    )


def test_a_popularity_recommenders_known_users_are_scored_by_popularity_share(positives):
    popular = fit_recommender(positives, "popularity", {}, RecommendParams.from_mapping(TINY))
    out = serve_recommendations(popular, pd.DataFrame({"user_id": ["u00"]}), {"k": 3})
    assert set(out["score_kind"]) == {"popularity_share"} and not out["fallback"].any()
    assert set(out["reason"]) == {
        "known user: the most popular items they have not seen (popularity recommender)"
    }


def test_requested_k_defaults_and_is_bounded_by_max_k():
    assert requested_k(None, 10, 100) == requested_k({}, 10, 100) == 10
    assert requested_k({"k": None}, 10, 100) == 10
    assert requested_k({"k": 100}, 10, 100) == 100 and requested_k({"k": np.int64(1)}, 10, 100) == 1
    assert requested_k({"k": 3.0}, 10, 100) == 3
    for k in (0, -1, 101, 100_000):
        with pytest.raises(ServingError, match=f"k must be from 1 to 100 .*got {k}$"):
            requested_k({"k": k}, 10, 100)
    for k in ("ten", 2.5, True, [3]):
        with pytest.raises(ServingError, match="k must be a whole number from 1 to 100"):
            requested_k({"k": k}, 10, 100)


def test_max_k_is_the_configs_or_the_default_at_least_top_n():
    assert max_k_of({"top_n": 10, "max_k": 25}) == 25
    assert max_k_of({"top_n": 10}) == DEFAULT_MAX_K == 100
    assert max_k_of({"top_n": 500}) == 500  # the default request stays valid


def test_a_served_request_refuses_k_beyond_max_k(recommender):
    served = Recommender(recommender.model.model, recommender.popular, {**recommender.config})
    served.config["max_k"] = 5
    frame = pd.DataFrame({"user_id": ["u01"]})
    assert len(serve_recommendations(served, frame, {"k": 5})) == 5
    with pytest.raises(ServingError, match="k must be from 1 to 5"):
        serve_recommendations(served, frame, {"k": 6})


def test_requested_users_refuses_a_null_or_missing_user_id():
    assert requested_users(pd.DataFrame({"user_id": ["a", 7]})) == ["a", "7"]
    for null in (None, np.nan):
        frame = pd.DataFrame({"user_id": ["a", null, "b", null]})
        with pytest.raises(ServingError, match=r"user_id is null in 2 row\(s\) .*rows \[1, 3\]"):
            requested_users(frame)
    with pytest.raises(ServingError, match=r"no user_id column \(columns: \['user'\]\)"):
        requested_users(pd.DataFrame({"user": ["a"]}))
