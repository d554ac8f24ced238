"""The recommend stage's steps together on tiny data: prepare, tune then compare, the champion
refitted for every user; and the stage's metrics on a hand-built log whose figures are worked out
by hand. (What prepare does on logs that cannot teach a collaborative filter: test_learnable.py.)"""

import json
import math

import pandas as pd
import pytest

from personalab.recommend.comparison import compare
from personalab.recommend.params import BASELINES, RecommendParams
from personalab.recommend.stage import fit_recommender, prepare, recommend_everyone, stage_metrics
from personalab.recommend.tuning import tune
from tests.unit.recommend.frames import N_ITEMS, N_USERS, events, pairs_of


def test_prepare_splits_test_then_validation(stage):
    params, interactions, holdout, validation = stage
    assert pairs_of(holdout.train) | pairs_of(holdout.test) == pairs_of(interactions.ratings)
    assert pairs_of(validation.train) | pairs_of(validation.test) == pairs_of(holdout.train)
    assert len(holdout.users) == len(validation.users) == N_USERS  # everyone has 7-8 pairs


def test_compare_after_tune_picks_the_validation_best(stage):
    params, interactions, holdout, validation = stage
    tuning = tune(validation, params)
    result = compare(interactions.ratings, holdout, tuning, params)
    surprise = {k: v for k, v in tuning.validation.items() if k not in BASELINES}
    assert result.champion == max(surprise, key=surprise.get)
    assert result.table["champion"].sum() == 1
    assert json.loads(result.table.loc[0, "options"]) == tuning.best_options["SVD"]


def test_item_based_neighbours_recommend_the_users_own_group(positives, params):
    """The log's structure is learnable: item-based KNN recommends mostly the user's own half."""
    knn = fit_recommender(
        positives, "KNNBasic", {"k": 10, "sim_options": {"user_based": False}}, params
    )
    out = knn.recommend([f"u{u:02d}" for u in range(N_USERS)], 5)
    odd_user = out["user_id"].str[1:].astype(int) % 2 == 1
    upper_item = out["item_id"].str[1:].astype(int) >= N_ITEMS // 2
    assert (odd_user == upper_item).mean() > 0.65  # a random list: about 0.5


# --- a hand-built log whose held-out pairs, top-k lists and metrics are worked out below -------
#
# Explicit ratings (user, item, rating, day). Each user's two latest pairs are held out
# (holdout last_n 2) and count as relevant when rated 3 or more (relevant_min_rating 3).
HAND_LOG = [
    ("a", "x", 5, 0), ("a", "p", 2, 1), ("a", "q", 2, 2), ("a", "r", 4, 8), ("a", "v", 2, 9),
    ("b", "p", 1, 1), ("b", "r", 3, 2), ("b", "s", 3, 3), ("b", "u", 4, 8), ("b", "t", 1, 9),
    ("c", "p", 2, 1), ("c", "q", 2, 2), ("c", "t", 3.5, 3), ("c", "u", 3, 8), ("c", "z", 5, 9),
    ("d", "q", 2.5, 1), ("d", "r", 2, 2), ("d", "u", 4, 3), ("d", "v", 4.5, 4),
    ("d", "s", 4, 8), ("d", "z", 3, 9),
    ("e", "p", 5, 0), ("e", "w", 5, 1),
]  # fmt: skip
HAND_PARAMS = {
    "interactions": {
        "feedback": "explicit",
        "min_user_interactions": 3,
        "min_item_interactions": 2,
    },
    # one ALS epoch without item regularisation: b_i = item's mean training rating - global mean
    "algorithms": {"BaselineOnly": {"bsl_options": {"method": "als", "n_epochs": 1, "reg_i": 0}}},
    "holdout": {"kind": "last_n", "last_n": 2, "relevant_min_rating": 3.0},
    "k": 2,
    "top_n": 2,
    "selection_metric": "ndcg_at_2",
    "tuning": {"n_trials": 0, "space": {}},
    "cross_validation": {"folds": 2, "max_pairs": None},
}
# Interactions: e has 2 pairs (< 3) and goes, with w (only e's); x is only a's (< 2 users) and
# goes: 3 pairs dropped, 20 left, users a-d, items p q r s t u v z.
# Held out (two latest) -> relevant (rated >= 3):
#   a: r 4, v 2 -> {r}        b: u 4, t 1 -> {u}
#   c: u 3, z 5 -> {u, z}     d: s 4, z 3 -> {s, z}
# Training part: a: p 2, q 2 | b: p 1, r 3, s 3 | c: p 2, q 2, t 3.5 | d: q 2.5, r 2, u 4, v 4.5;
# its items p..v are the catalogue (z is only ever held out: no model can recommend it).
# popularity = share of the 4 training users: p 3/4, q 3/4, r 2/4, s t u v 1/4 (ties by id).
# BaselineOnly: mu + b_u + b_i with b_i = mean_i - mu after one ALS epoch (users' biases start
# at 0, and b_u shifts all of a user's scores alike; no score reaches the cap 5), so each user's
# order is the items' mean training rating: v 4.5 > u 4 > t 3.5 > s 3 > r 2.5 > q 13/6 > p 5/3.
# Top-2 of each user's unseen training items:
#          popularity   BaselineOnly
#   a      r s          v u
#   b      q t          v u
#   c      r s          v u
#   d      p s          t s
# At k = 2 a hit at rank r gains 1/log2(r + 1); IDCG is 1 for one relevant item and
# 1 + 1/log2(3) for two; AP divides by min(2, relevant); precision by 2; recall by relevant.
G2 = 1 / math.log2(3)  # the gain of a hit at rank 2
# popularity: a r@1 (P 1/2, R 1, nDCG 1, AP 1); b misses (t is held out but rated 1, not
# relevant); c misses; d s@2 of 2 relevant (P 1/2, R 1/2, nDCG G2/(1+G2), AP 1/4).
POPULARITY = {
    "precision_at_2": (1 / 2 + 1 / 2) / 4,
    "recall_at_2": (1 + 1 / 2) / 4,
    "ndcg_at_2": (1 + G2 / (1 + G2)) / 4,
    "map_at_2": (1 + 1 / 4) / 4,
    "hit_rate_at_2": 2 / 4,
    "coverage": 5 / 7,  # p q r s t of p..v
    # -log2(share): p, q log2(4/3); r 1; s, t, u, v 2; rows r r s s s q t p
    "novelty": (2 * 1 + 3 * 2 + 2 + 2 * math.log2(4 / 3)) / 8,
}
# BaselineOnly: a misses (v is held out but rated 2); b u@2 of 1 relevant (P 1/2, R 1,
# nDCG G2, AP 1/2); c u@2 and d s@2, each of 2 relevant (P 1/2, R 1/2, nDCG G2/(1+G2), AP 1/4).
BASELINE_ONLY = {
    "precision_at_2": 3 * (1 / 2) / 4,
    "recall_at_2": (1 + 1 / 2 + 1 / 2) / 4,
    "ndcg_at_2": (G2 + 2 * G2 / (1 + G2)) / 4,
    "map_at_2": (1 / 2 + 1 / 4 + 1 / 4) / 4,
    "hit_rate_at_2": 3 / 4,
    "coverage": 4 / 7,  # s t u v
    "novelty": 2.0,  # every row is an item 1 of 4 training users has: -log2(1/4)
}
# Validation: the training part split the same way. a keeps p and holds out q (rated 2: nothing
# relevant, so a is not evaluated); b keeps p (r, s relevant); c keeps p (t relevant; t is not
# in this catalogue); d keeps q 2.5, r 2 (u, v relevant, not in the catalogue either).
# Catalogue p q r: popularity p 3/4, q r 1/4 and BaselineOnly's means q 2.5 > r 2 > p 5/3 give
# the same lists: b q r (r@2 of 2 relevant), c q r, d p (both miss).
VALIDATION_NDCG = (G2 / (1 + G2)) / 3
STAGE_COUNTS = {
    "interaction_pairs": 20,
    "interaction_pairs_dropped": 3,  # e's p and w, a's x
    "interaction_users": 4,
    "interaction_items": 8,
    "explicit_feedback": 1,
    "test_users": 4,  # a-d all have a relevant held-out pair
    "recommended_users": 5,  # every user of the log, e included
    "fallback_users": 1,  # e, dropped below min_user_interactions: the popularity list
    "fallback_share": 1 / 5,
}


@pytest.fixture(scope="module")
def hand_stage():
    """The notebook's steps on HAND_LOG: prepare, tune, compare, refit, recommend, metrics."""
    log = events([(user, item, "rate", day, rating) for user, item, rating, day in HAND_LOG])
    params = RecommendParams.from_mapping(HAND_PARAMS)
    prepared = prepare(log, params)
    interactions, holdout, validation = prepared.interactions, prepared.holdout, prepared.validation
    tuning = tune(validation, params)
    comparison = compare(interactions.ratings, holdout, tuning, params)
    recommender = fit_recommender(
        interactions.ratings,
        comparison.champion,
        tuning.best_options[comparison.champion],
        params,
        interactions.explicit,
    )
    recommendations = recommend_everyone(recommender, log)
    metrics = stage_metrics(interactions, holdout, comparison, recommendations)
    return holdout, comparison, metrics


def test_hand_log_holds_out_the_latest_pairs_and_keeps_the_well_rated(hand_stage):
    holdout, _, _ = hand_stage
    assert pairs_of(holdout.relevant) == {
        ("a", "r"),
        ("b", "u"),
        ("c", "u"),
        ("c", "z"),
        ("d", "s"),
        ("d", "z"),
    }
    assert pairs_of(holdout.test) - pairs_of(holdout.relevant) == {("a", "v"), ("b", "t")}
    assert sorted(holdout.catalogue) == ["p", "q", "r", "s", "t", "u", "v"]


@pytest.mark.parametrize(
    ("model", "expected"), [("popularity", POPULARITY), ("BaselineOnly", BASELINE_ONLY)]
)
def test_hand_log_test_metrics_are_the_hand_computed_ones(hand_stage, model, expected):
    _, comparison, _ = hand_stage
    row = comparison.table.set_index("model").loc[model]
    got = {key: float(row[key]) for key in [*expected, "validation_ndcg_at_2"]}
    assert got == pytest.approx(
        {**expected, "validation_ndcg_at_2": VALIDATION_NDCG}, rel=1e-9, abs=1e-12
    )


def test_hand_log_stage_metrics_report_the_champions_figures(hand_stage):
    _, comparison, metrics = hand_stage
    assert comparison.champion == metrics["algorithm"] == "BaselineOnly"  # the only Surprise one
    expected = {
        **BASELINE_ONLY,
        "BaselineOnly_ndcg_at_2": BASELINE_ONLY["ndcg_at_2"],
        "popularity_ndcg_at_2": POPULARITY["ndcg_at_2"],
    }
    assert {key: metrics[key] for key in expected} == pytest.approx(expected, rel=1e-9, abs=1e-12)
    # cross-validated on every interaction (not only the training part)
    assert comparison.table.set_index("model").loc["BaselineOnly", "cv_pairs"] == 20
    assert {key: metrics[key] for key in STAGE_COUNTS} == STAGE_COUNTS


def test_the_fallback_counts_every_pair_not_only_those_the_minimum_counts_keep():
    """Coveo's sessions: the minimum counts kept 219 of 72,248 pairs (51 of 13,966 users), and
    the popular list served to the other 13,915 was those 51 users' favourites (fallback hit
    rate 0.001 on later sessions, 0.012 from every pair)."""
    from tests.unit.recommend.frames import structured_log

    log = structured_log()  # 40 users with 7-8 items each: every one kept
    visits = [(f"v{k:03d}", "hot", "view", 10.0 + k / 100) for k in range(60)]  # one view each
    log = pd.concat([events(visits), log], ignore_index=True)
    params = RecommendParams.from_mapping(
        {**TINY_FALLBACK, "interactions": {"min_user_interactions": 3, "min_item_interactions": 5}}
    )
    prepared = prepare(log, params)
    interactions = prepared.interactions
    assert "hot" not in set(interactions.ratings["item_id"])  # its viewers are all below 3
    assert interactions.popularity_pairs["item_id"].eq("hot").sum() == 60
    served = fit_recommender(
        interactions.ratings,
        "SVD",
        params.options("SVD"),
        params,
        popular_pairs=interactions.popularity_pairs,
    )
    newcomer = served.recommend(["someone new"], 3)
    assert newcomer["fallback"].all() and newcomer["item_id"].iloc[0] == "hot"
    # the popularity recommender, served, counts them too
    popular = fit_recommender(
        interactions.ratings, "popularity", {}, params, popular_pairs=interactions.popularity_pairs
    )
    assert popular.recommend(["u00"], 1)["item_id"].iloc[0] == "hot"
    # without them, the list is the kept users' favourites
    kept_only = fit_recommender(interactions.ratings, "SVD", params.options("SVD"), params)
    assert "hot" not in set(kept_only.recommend(["someone new"], 3)["item_id"])


TINY_FALLBACK = {"algorithms": {"SVD": {"n_factors": 4, "n_epochs": 5}}, "tuning": {"n_trials": 0}}
