"""The `recommend` stage: params, held-out splits, baselines, negatives, the served recommender,
tuning and the comparison (src/personalab/recommend.py after `# --- the stage: params`)."""

import json

import numpy as np
import pandas as pd
import pytest

from personalab.core.params import ParamsError
from personalab.recommend import (
    BASELINES,
    BaselineModel,
    HoldoutParams,
    Recommender,
    RecommendError,
    RecommendParams,
    TuningResult,
    build_interactions,
    compare,
    fit_algorithm,
    fit_recommender,
    make_algorithm,
    popularity,
    prepare,
    sample_negatives,
    seen_matrix,
    split_holdout,
    trainset_of,
    tune,
)
from personalab.serving import ServingError
from tests.conftest import ROOT

T0 = pd.Timestamp("2026-01-01", tz="UTC")
N_USERS, N_ITEMS = 40, 30
TINY = {
    "algorithms": {"SVD": {"n_factors": 4, "n_epochs": 5}},
    "tuning": {"n_trials": 0},
    "interactions": {"min_user_interactions": 1, "min_item_interactions": 1},
}


def events(rows):
    """rows: (user, item, event_type, day[, rating])"""
    return pd.DataFrame(
        [(u, i, e, T0 + pd.Timedelta(days=d), r[0] if r else np.nan) for u, i, e, d, *r in rows],
        columns=["user_id", "item_id", "event_type", "timestamp", "rating"],
    )


def ratings(rows):
    """rows: (user, item, rating, day) -> a ratings frame like build_interactions gives."""
    return pd.DataFrame(
        [(u, i, float(r), T0 + pd.Timedelta(days=d)) for u, i, r, d in rows],
        columns=["user_id", "item_id", "rating", "timestamp"],
    )


def structured_log(n_users=N_USERS, n_items=N_ITEMS, per_user=8, seed=0):
    """Users in two groups (even / odd), each mostly on its own half of the items, plus one
    stray item each; every pair is viewed, some clicked and some purchased, over 30 days."""
    rng = np.random.default_rng(seed)
    half = n_items // 2
    rows = []
    for u in range(n_users):
        own = np.arange(half) + (u % 2) * half
        picked = [*rng.choice(own, per_user - 1, replace=False), rng.integers(n_items)]
        for i in dict.fromkeys(int(i) for i in picked):
            user, item, day = f"u{u:02d}", f"i{i:02d}", float(rng.uniform(0, 30))
            rows.append((user, item, "view", day))
            if rng.random() < 0.5:
                rows.append((user, item, "click", day + 0.1))
            if rng.random() < 0.3:
                rows.append((user, item, "purchase", day + 0.2))
    return events(rows)


def pairs_of(frame):
    return set(zip(frame["user_id"], frame["item_id"], strict=True))


@pytest.fixture(scope="module")
def log():
    return structured_log()


@pytest.fixture(scope="module")
def params():
    return RecommendParams.from_mapping(TINY)


@pytest.fixture(scope="module")
def positives(log):
    built = build_interactions(log, min_user_interactions=1, min_item_interactions=1)
    assert not built.explicit and built.counts["users"] == N_USERS
    assert built.counts["items"] == N_ITEMS
    return built.ratings


@pytest.fixture(scope="module")
def recommender(positives, params):
    return fit_recommender(positives, "SVD", params.options("SVD"), params)


# --- params -------------------------------------------------------------------------------------


def test_defaults_equal_the_params_file():
    assert RecommendParams.from_yaml(ROOT / "params" / "recommend.yaml") == RecommendParams()


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"algorithms": {"SVDD": {}}}, "algorithms.SVDD"),
        ({"algorithms": {"SVD": {"k": 40}}}, "algorithms.SVD.k"),
        (
            {
                "algorithms": {"KNNBasic": {"sim_options": {"name": "jaccard"}}},
                "tuning": {"space": {}},
            },
            "algorithms.KNNBasic.sim_options.name",
        ),
        (
            {"algorithms": {"KNNBasic": {"sim_options": {"min_k": 2}}}, "tuning": {"space": {}}},
            "algorithms.KNNBasic.sim_options.min_k",
        ),
        ({"tuning": {"space": {"NMF": {"n_factors": [2, 8]}}}}, "tuning.space.NMF"),
        ({"tuning": {"space": {"SVD": {"k": [2, 8]}}}}, "tuning.space.SVD.k"),
        ({"selection_metric": "ndcg_at_5"}, "selection_metric"),
        ({"selection_metric": "ndcg_at_10", "k": 5}, "selection_metric"),
        ({"selection_metric": "auc_at_10"}, "selection_metric"),
        ({"interactions": {"negative_rating": 1.0}}, "negative_rating"),
        (
            {"interactions": {"negative_rating": 0.5, "rating_scale": [0.5, 5.0]}},
            "negative_rating",
        ),
        ({"tuning": {"space": {"SVD": {"n_factors": [96, 8]}}}}, "tuning.space.SVD.n_factors"),
        ({"tuning": {"space": {"SVD": {"n_factors": [8]}}}}, "tuning.space.SVD.n_factors"),
        ({"algorithms": {}}, "algorithms"),
        ({"holdout": {"kind": "oldest"}}, "holdout.kind"),
        ({"holdout": {"test_share": 1.0}}, "holdout.test_share"),
        ({"interactions": {"negative_sampling": "zipf"}}, "interactions.negative_sampling"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_params_are_params_errors_naming_the_key(values, key):
    with pytest.raises(ParamsError, match="invalid parameters") as info:
        RecommendParams.from_mapping(values)
    assert key in str(info.value)


def test_valid_params_pass():
    params = RecommendParams.from_mapping(
        {
            "algorithms": {"KNNBaseline": {"k": 5, "sim_options": {"name": "pearson_baseline"}}},
            "tuning": {
                "space": {"KNNBaseline": {"k": [2, 40], "sim_options.user_based": [True, False]}}
            },
            "k": 5,
            "selection_metric": "map_at_5",
            "interactions": {"negatives_per_positive": 0, "negative_rating": 3.0},
        }
    )
    assert params.ranking_keys() == [
        "precision_at_5",
        "recall_at_5",
        "ndcg_at_5",
        "map_at_5",
        "hit_rate_at_5",
    ]
    # without negatives the Surprise scale is the configured one, else it reaches down to them
    assert params.interactions.surprise_scale(explicit=False) == (1.0, 5.0)
    assert RecommendParams().interactions.surprise_scale(explicit=False) == (0.0, 5.0)
    assert RecommendParams().interactions.surprise_scale(explicit=True) == (1.0, 5.0)


# --- split_holdout ------------------------------------------------------------------------------


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


# --- popularity ---------------------------------------------------------------------------------


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


# --- negative sampling --------------------------------------------------------------------------


def skewed_positives(seed=0):
    """200 users with 3 items each out of 50, item j drawn with weight 1 / (j + 1)."""
    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, 51)
    rows = [
        (f"u{u:03d}", f"i{j:02d}", 3.0, 0)
        for u in range(200)
        for j in rng.choice(50, 3, replace=False, p=weights / weights.sum())
    ]
    return ratings(rows)


@pytest.mark.parametrize("sampling", ["popularity", "uniform"])
def test_negatives_are_new_unique_pairs_with_the_given_rating(sampling):
    positives = skewed_positives()
    negatives = sample_negatives(positives, 1.5, -1.0, sampling, seed=3)
    assert list(negatives.columns) == ["user_id", "item_id", "rating"]
    assert not negatives.duplicated(["user_id", "item_id"]).any()
    assert not pairs_of(negatives) & pairs_of(positives)
    assert (negatives["rating"] == -1.0).all()
    assert set(negatives["user_id"]) <= set(positives["user_id"])
    assert set(negatives["item_id"]) <= set(positives["item_id"])
    asked = round(1.5 * len(positives))  # 900; repeats and observed pairs are dropped
    assert 0.6 * asked <= len(negatives) <= asked
    pd.testing.assert_frame_equal(negatives, sample_negatives(positives, 1.5, -1.0, sampling, 3))
    assert pairs_of(negatives) != pairs_of(sample_negatives(positives, 1.5, -1.0, sampling, 4))


def test_no_negatives_asked_gives_an_empty_frame():
    positives = skewed_positives()
    none = sample_negatives(positives, 0.0, 0.0)
    assert none.empty and list(none.columns) == ["user_id", "item_id", "rating"]
    assert sample_negatives(positives.iloc[:0], 1.0, 0.0).empty


def test_popularity_sampling_draws_popular_items_more_often_than_uniform():
    positives = skewed_positives()
    top5 = set(positives["item_id"].value_counts().index[:5])
    share = {
        sampling: sample_negatives(positives, 1.0, 0.0, sampling, seed=0)["item_id"]
        .isin(top5)
        .mean()
        for sampling in ("popularity", "uniform")
    }
    # 5 of 50 items: about 0.1 uniformly; their weight is far larger by popularity
    assert share["uniform"] < 0.15
    assert share["popularity"] > 0.25
    assert share["popularity"] > 2 * share["uniform"]


# --- baselines ----------------------------------------------------------------------------------

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


# --- the served recommender ---------------------------------------------------------------------

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


def test_seen_items_are_the_positives_not_the_sampled_negatives(positives, params):
    trainset = trainset_of(positives, params, explicit=False)
    negatives = trainset.n_ratings - len(positives)
    assert negatives > 0.5 * len(positives)  # negatives_per_positive 1, less repeats
    assert trainset.rating_scale == (0.0, 5.0)
    seen = seen_matrix(trainset, params.interactions.rating_scale[0])
    assert seen_matrix(trainset).nnz == trainset.n_ratings
    assert seen.nnz == len(positives)
    rows, cols = seen.nonzero()
    got = {
        (trainset.to_raw_uid(u), trainset.to_raw_iid(i)) for u, i in zip(rows, cols, strict=True)
    }
    assert got == pairs_of(positives)


def test_a_full_list_holds_every_item_but_the_users_positives(recommender, positives):
    out = recommender.recommend(["u00", "u01"], N_ITEMS)
    for user in ("u00", "u01"):
        mine = set(positives.loc[positives["user_id"] == user, "item_id"])
        got = out.loc[out["user_id"] == user, "item_id"].tolist()
        assert len(got) == len(set(got))
        assert set(got) == set(positives["item_id"]) - mine  # sampled negatives included


def test_item_based_neighbours_recommend_the_users_own_group(positives, params):
    """The log's structure is learnable: item-based KNN recommends mostly the user's own half."""
    knn = fit_recommender(
        positives, "KNNBasic", {"k": 10, "sim_options": {"user_based": False}}, params
    )
    out = knn.recommend([f"u{u:02d}" for u in range(N_USERS)], 5)
    odd_user = out["user_id"].str[1:].astype(int) % 2 == 1
    upper_item = out["item_id"].str[1:].astype(int) >= N_ITEMS // 2
    assert (odd_user == upper_item).mean() > 0.65  # a random list: about 0.5


# --- tuning and comparison ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def stage(log):
    params = RecommendParams.from_mapping(
        {
            **TINY,
            "algorithms": {"SVD": {"n_factors": 4, "n_epochs": 5}, "BaselineOnly": {}},
            "tuning": {"n_trials": 2, "space": {"SVD": {"n_factors": [2, 6], "n_epochs": [3, 6]}}},
            "cross_validation": {"folds": 2, "max_pairs": None},
        }
    )
    interactions, holdout, validation = prepare(log, params)
    return params, interactions, holdout, validation


def test_prepare_splits_test_then_validation(stage):
    params, interactions, holdout, validation = stage
    assert pairs_of(holdout.train) | pairs_of(holdout.test) == pairs_of(interactions.ratings)
    assert pairs_of(validation.train) | pairs_of(validation.test) == pairs_of(holdout.train)
    assert len(holdout.users) == len(validation.users) == N_USERS  # everyone has 7-8 pairs


def test_tune_has_a_row_per_trial_and_per_fixed_model(stage):
    params, _, _, validation = stage
    result = tune(validation, params)
    trials = result.trials
    assert trials["algorithm"].tolist() == ["SVD", "SVD", "BaselineOnly", "popularity", "random"]
    assert trials["tuned"].tolist() == [True, True, False, False, False]
    assert trials["number"].tolist() == [0, 1, 0, 0, 0]
    assert (trials["state"] == "COMPLETE").all()
    # the configured options lie in the space, so they are the first trial
    assert json.loads(trials["options"].iloc[0]) == {"n_factors": 4, "n_epochs": 5}
    best = result.best_options["SVD"]
    assert set(best) == {"n_factors", "n_epochs"}
    assert 2 <= best["n_factors"] <= 6 and 3 <= best["n_epochs"] <= 6
    assert isinstance(best["n_factors"], int)
    assert result.best_options["BaselineOnly"] == {}
    assert set(result.validation) == {"SVD", "BaselineOnly", "popularity", "random"}
    assert all(0 <= v <= 1 for v in result.validation.values())
    assert result.validation["SVD"] == pytest.approx(trials["value"].iloc[:2].max())
    svd_best_row = trials.iloc[int(trials["value"].iloc[:2].to_numpy().argmax())]
    assert json.loads(svd_best_row["options"]) == best


def test_compare_crowns_the_surprise_algorithm_best_on_validation(stage):
    params, interactions, holdout, _ = stage
    options = {
        "SVD": {"n_factors": 4, "n_epochs": 5},
        "BaselineOnly": {},
        **dict.fromkeys(BASELINES, {}),
    }
    # BaselineOnly wins on validation; baselines, however good, never become champion
    validation = {"SVD": 0.1, "BaselineOnly": 0.3, "popularity": 0.9, "random": 0.5}
    result = compare(
        interactions.ratings, holdout, TuningResult(options, validation, pd.DataFrame()), params
    )
    table = result.table
    assert table["model"].tolist() == ["SVD", "BaselineOnly", "popularity", "random"]
    assert table["kind"].tolist() == ["surprise", "surprise", "baseline", "baseline"]
    assert table["champion"].tolist() == [False, True, False, False]
    assert result.champion == "BaselineOnly"
    assert table["validation_ndcg_at_10"].tolist() == [0.1, 0.3, 0.9, 0.5]
    assert table.loc[:1, ["rmse", "mae"]].notna().all().all()
    assert table.loc[2:, ["rmse", "mae"]].isna().all().all()
    for key in params.ranking_keys():
        assert table[key].between(0, 1).all()

    metrics = result.metrics
    champion_keys = [
        "rmse",
        "mae",
        "precision_at_10",
        "recall_at_10",
        "ndcg_at_10",
        "map_at_10",
        "hit_rate_at_10",
        "coverage",
        "novelty",
    ]
    per_model = [f"{m}_{x}" for m in ("SVD", "BaselineOnly") for x in ("rmse", "mae", "ndcg_at_10")]
    assert set(metrics) == {
        *per_model,
        "popularity_ndcg_at_10",
        "random_ndcg_at_10",
        "algorithm",
        "selection_metric",
        *champion_keys,
    }
    assert metrics["algorithm"] == "BaselineOnly"
    assert metrics["selection_metric"] == "ndcg_at_10"
    champion = table.set_index("model").loc["BaselineOnly"]
    for key in champion_keys:
        assert metrics[key] == pytest.approx(float(champion[key]))
    assert metrics["SVD_ndcg_at_10"] == pytest.approx(float(table.loc[0, "ndcg_at_10"]))

    flipped = {**validation, "SVD": 0.4}
    again = compare(
        interactions.ratings, holdout, TuningResult(options, flipped, pd.DataFrame()), params
    )
    assert again.champion == "SVD" and again.table["champion"].sum() == 1


def test_compare_after_tune_picks_the_validation_best(stage):
    params, interactions, holdout, validation = stage
    tuning = tune(validation, params)
    result = compare(interactions.ratings, holdout, tuning, params)
    surprise = {k: v for k, v in tuning.validation.items() if k not in BASELINES}
    assert result.champion == max(surprise, key=surprise.get)
    assert result.table["champion"].sum() == 1
    assert json.loads(result.table.loc[0, "options"]) == tuning.best_options["SVD"]


# --- errors -------------------------------------------------------------------------------------


def test_prepare_refuses_events_with_nothing_left(log):
    params = RecommendParams.from_mapping(
        {**TINY, "interactions": {"min_user_interactions": 50, "min_item_interactions": 1}}
    )
    with pytest.raises(RecommendError, match="min_user_interactions"):
        prepare(log, params)


def test_prepare_refuses_users_with_a_single_pair():
    log = events([("a", "x", "view", 0), ("b", "y", "view", 0), ("c", "x", "click", 1)])
    with pytest.raises(RecommendError, match="no user has a held-out interaction"):
        prepare(log, RecommendParams.from_mapping(TINY))


def test_a_user_based_similarity_over_the_budget_is_refused(positives, params, monkeypatch):
    trainset = trainset_of(positives, params, explicit=False)
    # 40 users: 40 * 40 * 8 = 12,800 bytes; 30 items: 30 * 30 * 8 = 7,200 bytes
    monkeypatch.setattr("personalab.recommend.SIMILARITY_BUDGET_BYTES", 10_000)
    user_based = make_algorithm("KNNBasic", {"sim_options": {"name": "msd", "user_based": True}})
    with pytest.raises(RecommendError, match="user_based") as info:
        fit_algorithm(user_based, trainset)
    assert "user-by-user" in str(info.value)
    assert not hasattr(user_based, "sim")  # refused before fitting
    item_based = make_algorithm("KNNBasic", {"sim_options": {"name": "msd", "user_based": False}})
    assert fit_algorithm(item_based, trainset).sim.shape == (N_ITEMS, N_ITEMS)
    monkeypatch.setattr("personalab.recommend.SIMILARITY_BUDGET_BYTES", 7_000)
    with pytest.raises(RecommendError, match="item-by-item"):
        fit_algorithm(make_algorithm("KNNBasic", {"sim_options": {"user_based": False}}), trainset)
