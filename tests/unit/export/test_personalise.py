"""Unit tests of personalab.export.personalise: the trending items and the Personaliser's
decision rule, its answers and its files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from personalab.export.params import PERSONALISE_COLUMNS, SCORE_KINDS, ExportError
from personalab.export.personalise import Personaliser
from personalab.export.stage import trending_items
from tests.unit.export.helpers import (
    SEGMENT_FEATURES,
    SEGMENT_NAMES,
    personaliser,
    request,
    rows_of,
    save_segmenter,
    seen_by,
)

T0 = pd.Timestamp("2026-01-10", tz="UTC")


# --- trending_items -----------------------------------------------------------------------------


def log(rows):
    """rows: (user, item, days before T0) -> an events frame."""
    return pd.DataFrame(
        [(u, i, T0 - pd.Timedelta(days=d), "view") for u, i, d in rows],
        columns=["user_id", "item_id", "timestamp", "event_type"],
    )


TRENDING_LOG = [
    ("u1", "kiwi", 0.0),
    ("u2", "kiwi", 1.0),
    ("u3", "kiwi", 2.0),
    ("u1", "fig", 1.0),
    ("u1", "fig", 0.5),  # the same user twice: counted once
    ("u2", "fig", 1.0),
    ("u2", "apple", 1.5),
    ("u3", "apple", 3.0),  # exactly at the window's start: inside
    ("u3", "date", 2.0),
    ("u1", "plum", 3.5),  # outside a 3-day window
    ("u5", "plum", 9.0),  # outside; u5 has nothing inside the window
    ("u4", None, -10.0),  # no item, and newest of all: ignored, not the window's end
]


def test_trending_items_share_of_distinct_window_users_ties_by_item_id():
    got = trending_items(log(TRENDING_LOG), window_days=3, n=10)
    # users with an item in [T0 - 3 days, T0]: u1, u2, u3
    expected = pd.Series(
        [3 / 3, 2 / 3, 2 / 3, 1 / 3], index=["kiwi", "apple", "fig", "date"], dtype=float
    )
    assert got.index.tolist() == expected.index.tolist()
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy())
    assert got.name == "score"
    assert "plum" not in got.index


def test_trending_items_n_truncates_the_ranked_list():
    got = trending_items(log(TRENDING_LOG), window_days=3, n=2)
    assert got.index.tolist() == ["kiwi", "apple"]
    np.testing.assert_allclose(got.to_numpy(), [1.0, 2 / 3])


def test_trending_items_a_wider_window_counts_older_users_and_items():
    got = trending_items(log(TRENDING_LOG), window_days=100, n=10)
    # users u1, u2, u3, u5 (u4 only has a row without an item)
    assert got.index.tolist() == ["kiwi", "apple", "fig", "plum", "date"]
    np.testing.assert_allclose(got.to_numpy(), [3 / 4, 2 / 4, 2 / 4, 2 / 4, 1 / 4])


def test_trending_items_of_a_log_without_items_is_empty():
    got = trending_items(log([("u1", None, 0.0)]), window_days=3, n=5)
    assert got.empty


# --- a small Personaliser -----------------------------------------------------------------------


def test_fixture_user_u0_has_seen_a_trending_item(parts):
    assert "i1" in seen_by(parts["ratings"], "u0")
    assert "zz_new" not in parts["recommender"].model.items


def test_personalise_columns_request_order_and_ranks_per_user(parts):
    frame = request()
    out = personaliser(parts, threshold=0.5).personalise(frame)
    assert list(out.columns) == PERSONALISE_COLUMNS
    assert list(dict.fromkeys(out["user_id"])) == frame["user_id"].tolist()
    for user in frame["user_id"]:
        ranks = rows_of(out, user)["rank"].tolist()
        assert ranks == list(range(1, len(ranks) + 1))
        assert 1 <= len(ranks) <= 3
    assert out["rank"].dtype == np.dtype("int64")


def test_personalise_intent_score_and_segment_come_from_the_models(parts):
    frame = request()
    out = personaliser(parts, threshold=0.5).personalise(frame)
    per_user = out.drop_duplicates("user_id").set_index("user_id")
    expected_score = parts["intent"].predict_proba(frame)
    np.testing.assert_allclose(per_user.loc[frame["user_id"], "intent_score"], expected_score)
    labels = parts["segmenter"].predict(frame[SEGMENT_FEATURES].to_numpy(dtype=float))
    expected_segment = [SEGMENT_NAMES[str(label)] for label in labels]
    assert per_user.loc[frame["user_id"], "segment"].tolist() == expected_segment


def test_personalise_strategy_follows_the_threshold(parts):
    frame = request()
    scores = parts["intent"].predict_proba(frame)
    known = frame["user_id"] != "stranger"
    threshold = float(np.sort(scores[known.to_numpy()])[2])  # one user's score exactly: high
    out = personaliser(parts, threshold=threshold).personalise(frame)
    per_user = out.drop_duplicates("user_id").set_index("user_id")["strategy"]
    expected = np.where(
        ~known, "popular", np.where(scores >= threshold, "personalised", "trending")
    )
    assert per_user.loc[frame["user_id"]].tolist() == expected.tolist()
    assert {"popular", "personalised", "trending"} == set(expected)


def test_each_answer_row_says_what_its_score_means_and_why_the_user_got_it(parts):
    frame = request()
    scores = dict(zip(frame["user_id"], parts["intent"].predict_proba(frame), strict=True))
    known = [user for user in frame["user_id"] if user != "stranger"]
    threshold = float(np.sort([scores[user] for user in known])[2])
    out = personaliser(parts, threshold=threshold).personalise(frame)
    assert set(out["score_kind"]) <= set(SCORE_KINDS)
    kinds = {"personalised": "predicted_rating", "trending": "trending_share"}
    kinds["popular"] = "popularity_share"
    for user, rows in out.groupby("user_id", sort=False):
        strategy = rows["strategy"].iloc[0]
        assert set(rows["score_kind"]) == {kinds[strategy]}, user
        assert rows["reason"].nunique() == 1
        reason, s = rows["reason"].iloc[0], scores[user]
        if strategy == "personalised":
            assert reason == (
                f"intent {s:.4f} >= threshold {threshold:.4f}: the top items SVD predicts among "
                "those they have not seen"
            )
        elif strategy == "trending":
            assert reason == (
                f"intent {s:.4f} < threshold {threshold:.4f}: the trending items they have not seen"
            )
        else:
            assert user == "stranger"
            assert reason == "unknown to the recommender: the most popular items"


def test_an_unknown_user_gets_the_popular_items_in_order(parts):
    out = personaliser(parts, threshold=0.0).personalise(request())
    mine = rows_of(out, "stranger")
    popular = parts["recommender"].popular.head(3)
    assert set(mine["strategy"]) == {"popular"}
    assert mine["item_id"].tolist() == popular.index.tolist()
    np.testing.assert_allclose(mine["score"], popular.to_numpy())


def test_high_intent_users_get_the_recommenders_top_k(parts):
    frame = request()
    out = personaliser(parts, threshold=0.0).personalise(frame, k=3)
    for user in ["u3", "u0", "u5", "u1"]:
        mine = rows_of(out, user)
        assert set(mine["strategy"]) == {"personalised"}
        expected = parts["recommender"].model.top_k([user], 3)
        assert mine["item_id"].tolist() == expected["item_id"].tolist()
        np.testing.assert_allclose(mine["score"], expected["score"].to_numpy(dtype=float))
        assert not set(mine["item_id"]) & seen_by(parts["ratings"], user)


def test_low_intent_users_get_the_trending_items_they_have_not_seen(parts):
    frame = request()
    out = personaliser(parts, threshold=1.0).personalise(frame, k=4)
    trending = parts["trending"]
    for user in ["u3", "u0", "u5", "u1"]:
        mine = rows_of(out, user)
        assert set(mine["strategy"]) == {"trending"}
        unseen = [i for i in trending.index if i not in seen_by(parts["ratings"], user)][:4]
        assert mine["item_id"].tolist() == unseen
        np.testing.assert_allclose(mine["score"], trending[unseen].to_numpy())
    u0 = rows_of(out, "u0")["item_id"].tolist()
    assert "i1" not in u0  # trending, but u0 rated it in training
    assert "zz_new" in u0  # trending and unknown to the recommender: never seen
    assert set(rows_of(out, "stranger")["strategy"]) == {"popular"}


def test_a_user_who_has_seen_every_trending_item_gets_the_popular_items(parts):
    seen = sorted(seen_by(parts["ratings"], "u0"))
    trending = pd.Series([0.9] * len(seen), index=pd.Index(seen, name="item_id"), name="score")
    rule = personaliser({**parts, "trending": trending}, threshold=1.0)
    out = rule.personalise(request(), k=2)
    mine = rows_of(out, "u0")
    assert set(mine["strategy"]) == {"popular"} and set(mine["score_kind"]) == {"popularity_share"}
    assert set(mine["reason"]) == {
        "has seen every item their strategy would offer: the most popular items"
    }
    assert mine["item_id"].tolist() == parts["recommender"].popular.head(2).index.tolist()
    assert out["user_id"].drop_duplicates().tolist() == ["u3", "stranger", "u0", "u5", "u1"]


def test_personalise_collapses_duplicate_users_and_respects_k(parts):
    frame = request()
    doubled = pd.concat([frame, frame.iloc[[2, 0]]], ignore_index=True)
    rule = personaliser(parts, threshold=1.0, k=3)
    out = rule.personalise(doubled)
    pd.testing.assert_frame_equal(out, rule.personalise(frame))
    assert out.groupby("user_id")["rank"].max().max() == 3
    short = rule.personalise(frame, k=1)
    assert short["user_id"].tolist() == frame["user_id"].tolist()
    assert (short["rank"] == 1).all()


def test_personalise_user_ids_are_read_as_strings(parts):
    frame = request()
    out = personaliser(parts, threshold=0.0).personalise(frame.assign(user_id=[3, 4, 5, 6, 7]))
    assert out["user_id"].tolist()[0] == "3"
    assert set(out["strategy"]) == {"popular"}


def test_personalise_refuses_k_below_one(parts):
    with pytest.raises(ExportError, match="k must be at least 1"):
        personaliser(parts, threshold=0.5).personalise(request(), k=0)


def test_a_rules_default_k_must_be_within_its_max_k(parts):
    from personalab.export.personalise import Personaliser

    args = (parts["intent"], None, [], {}, parts["recommender"], parts["trending"], 0.5)
    assert Personaliser(*args, k=5, max_k=5).max_k == 5
    with pytest.raises(ExportError, match=r"k must be from 1 to max_k \(5\), got 6"):
        Personaliser(*args, k=6, max_k=5)


def test_personalise_names_the_columns_when_user_id_is_missing(parts):
    frame = request().drop(columns="user_id")
    with pytest.raises(ExportError, match="user_id") as err:
        personaliser(parts, threshold=0.5).personalise(frame)
    assert "'f1'" in str(err.value) and "'visits'" in str(err.value)


def test_personalise_of_an_empty_request_is_empty_with_the_columns(parts):
    out = personaliser(parts, threshold=0.5).personalise(request().iloc[:0])
    assert out.empty
    assert list(out.columns) == PERSONALISE_COLUMNS


def test_personaliser_save_and_load_give_the_same_answers(parts, tmp_path):
    segmenter_folder = save_segmenter(parts["segmenter"], tmp_path / "segmenter")
    frame = request()
    median = float(np.median(parts["intent"].predict_proba(frame)))
    rule = personaliser(parts, threshold=median, k=4)
    files = rule.save(tmp_path / "p", segmenter_folder)
    assert all(Path(path).exists() for path in files.values())
    loaded = Personaliser.load({name: str(path) for name, path in files.items()})
    assert loaded.threshold == rule.threshold and loaded.k == 4 and loaded.max_k == 100
    assert loaded.segment_features == SEGMENT_FEATURES
    pd.testing.assert_series_equal(
        loaded.trending, parts["trending"], check_names=False, check_index_type=False
    )
    expected = rule.personalise(frame)
    assert set(expected["strategy"]) == {"popular", "personalised", "trending"}
    pd.testing.assert_frame_equal(loaded.personalise(frame), expected)
    pd.testing.assert_frame_equal(loaded.personalise(frame, k=2), rule.personalise(frame, k=2))


# --- the rule with the parts it has -------------------------------------------------------------


def test_without_an_intent_model_every_known_user_gets_the_recommenders_top_k(parts):
    frame = request().drop(columns=["f2", "f3"])  # no intent features: none are needed
    rule = personaliser(parts, threshold=None, without=("intent",))
    assert rule.strategies == ("personalised_no_intent", "popular") and rule.threshold is None
    out = rule.personalise(frame, k=3)
    assert list(out.columns) == PERSONALISE_COLUMNS
    assert out["intent_score"].isna().all()
    for user in ["u3", "u0", "u5", "u1"]:
        mine = rows_of(out, user)
        assert set(mine["strategy"]) == {"personalised_no_intent"}
        assert set(mine["score_kind"]) == {"predicted_rating"}
        assert set(mine["reason"]) == {
            "not gated on intent (no intent model, or one near chance): the top items SVD "
            "predicts among those they have not seen"
        }
        expected = parts["recommender"].model.top_k([user], 3)
        assert mine["item_id"].tolist() == expected["item_id"].tolist()
        np.testing.assert_allclose(mine["score"], expected["score"].to_numpy(dtype=float))
    stranger = rows_of(out, "stranger")
    assert set(stranger["strategy"]) == {"popular"}
    assert stranger["item_id"].tolist() == parts["recommender"].popular.head(3).index.tolist()
    labels = parts["segmenter"].predict(frame[SEGMENT_FEATURES].to_numpy(dtype=float))
    per_user = out.drop_duplicates("user_id")
    assert per_user["segment"].tolist() == [SEGMENT_NAMES[str(label)] for label in labels]


def test_without_a_recommender_everyone_gets_the_trending_items_with_their_intent_score(parts):
    frame = request()
    rule = personaliser(parts, threshold=0.5, without=("recommender",))
    assert rule.strategies == ("trending_no_recommender",)
    out = rule.personalise(frame, k=4)
    assert list(out.columns) == PERSONALISE_COLUMNS
    assert set(out["strategy"]) == {"trending_no_recommender"}
    assert set(out["score_kind"]) == {"trending_share"}
    assert set(out["reason"]) == {"no recommender: the most trending items"}
    top = parts["trending"].head(4)
    for user in frame["user_id"]:  # the stranger too; nothing is known of what anyone has seen
        mine = rows_of(out, user)
        assert mine["item_id"].tolist() == top.index.tolist()  # u0's rated i1 stays
        np.testing.assert_allclose(mine["score"], top.to_numpy())
        assert mine["rank"].tolist() == [1, 2, 3, 4]
    per_user = out.drop_duplicates("user_id").set_index("user_id")
    expected = parts["intent"].predict_proba(frame)
    np.testing.assert_allclose(per_user.loc[frame["user_id"], "intent_score"], expected)


def test_a_model_of_a_log_without_items_still_answers_each_user_with_their_intent(parts):
    """No item has an id (a page-level clickstream): no recommender, no trending items. Each
    user still gets one row, rank 0 and no item, with their intent score and segment."""
    frame = request()
    rule = personaliser(parts, threshold=0.5, without=("recommender",))
    rule = Personaliser(
        rule.intent, rule.segmenter, SEGMENT_FEATURES, SEGMENT_NAMES, None,
        parts["trending"].iloc[:0], 0.5, 3,
    )  # fmt: skip
    out = rule.personalise(frame)
    assert out["user_id"].tolist() == frame["user_id"].tolist()  # one row each, in order
    assert out["rank"].tolist() == [0] * len(frame) and out["item_id"].isna().all()
    assert out["score"].isna().all() and set(out["strategy"]) == {"trending_no_recommender"}
    assert set(out["reason"]) == {
        "no recommender: the most trending items; no item to offer: the model knows none "
        "(rank 0, no item_id)"
    }
    np.testing.assert_allclose(out["intent_score"], parts["intent"].predict_proba(frame))
    assert out["segment"].notna().all()


def test_without_segments_the_segment_is_null_and_the_strategies_unchanged(parts):
    frame = request()
    scores = parts["intent"].predict_proba(frame)
    threshold = float(np.median(scores))
    full = personaliser(parts, threshold=threshold).personalise(frame)
    out = personaliser(parts, threshold=threshold, without=("segmenter",)).personalise(frame)
    assert out["segment"].isna().all() and list(out.columns) == PERSONALISE_COLUMNS
    pd.testing.assert_frame_equal(out.drop(columns="segment"), full.drop(columns="segment"))


def test_a_rule_needs_a_model_and_an_intent_model_needs_a_threshold(parts):
    with pytest.raises(ExportError, match="needs an intent model or a recommender"):
        personaliser(parts, threshold=None, without=("intent", "recommender"))
    with pytest.raises(ExportError, match="needs a high-intent threshold"):
        personaliser(parts, threshold=None)


@pytest.mark.parametrize(
    ("without", "absent"),
    [
        (("intent",), {"intent_booster", "intent_config"}),
        (("recommender",), {"recommender_model", "recommender_config"}),
        (("segmenter",), {"segmenter"}),
    ],
)
def test_a_rule_without_a_part_saves_and_loads_without_it(parts, tmp_path, without, absent):
    segmenter_folder = save_segmenter(parts["segmenter"], tmp_path / "segmenter")
    rule = personaliser(parts, threshold=0.5, k=4, without=without)
    files = rule.save(tmp_path / "p", None if "segmenter" in without else segmenter_folder)
    assert not absent & set(files) and "personalise" in files
    loaded = Personaliser.load({name: str(path) for name, path in files.items()})
    assert loaded.strategies == rule.strategies and loaded.threshold == rule.threshold
    frame = request()
    pd.testing.assert_frame_equal(loaded.personalise(frame), rule.personalise(frame))


def test_a_rule_with_a_served_logistic_regression_saves_and_loads_without_a_booster(
    parts, tmp_path
):
    from tests.unit.export.helpers import fit_linear_intent

    rule = personaliser({**parts, "intent": fit_linear_intent()}, threshold=0.5, k=4)
    files = rule.save(tmp_path / "p", save_segmenter(parts["segmenter"], tmp_path / "s"))
    assert "intent_config" in files and "intent_booster" not in files
    loaded = Personaliser.load({name: str(path) for name, path in files.items()})
    assert loaded.intent.linear
    frame = request()
    answer = loaded.personalise(frame)
    pd.testing.assert_frame_equal(answer, rule.personalise(frame))
    assert answer["intent_score"].nunique() > 1  # the scores rank users


def test_a_popularity_recommenders_lists_are_named_popular_unseen(parts):
    from personalab.recommend.baselines import popularity_arrays
    from personalab.recommend.served import Recommender
    from tests.unit.export.helpers import ratings_frame

    ratings = ratings_frame()
    config = {"algorithm": "popularity", "top_n": 5, "seed": 0, "block_size": 64}
    popular = Recommender(popularity_arrays(ratings), parts["recommender"].popular, config)
    assert popular.popularity_only
    rule = personaliser({**parts, "recommender": popular}, threshold=0.0)  # everyone high intent
    assert rule.strategies == ("popular_unseen", "trending", "popular")
    out = rule.personalise(request(), k=3)
    assert set(out["strategy"]) <= {"popular_unseen", "popular"}
    mine = rows_of(out, "u0")
    assert set(mine["strategy"]) == {"popular_unseen"}
    assert set(mine["score_kind"]) == {"popularity_share"}
    assert (
        mine["reason"]
        .iloc[0]
        .endswith(": the most popular items they have not seen (popularity recommender)")
    )
    assert not set(mine["item_id"]) & seen_by(ratings, "u0")
    no_intent = personaliser({**parts, "recommender": popular}, None, without=("intent",))
    assert no_intent.strategies == ("popular_unseen", "popular")
