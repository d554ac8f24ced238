"""The stage's champion on logs built so the answer is known: item co-occurrence must win
where items go together, popularity must win (and be served) where taste is only popularity."""

import numpy as np
import pandas as pd

from personalab.core.status import StageStatus
from personalab.recommend.comparison import POPULARITY_WON, compare
from personalab.recommend.params import RecommendParams
from personalab.recommend.stage import fit_recommender, prepare
from personalab.recommend.tuning import tune
from tests.unit.recommend.frames import events

CANDIDATES = {
    "SAR": {"class": "SAR"},
    "ALS": {"class": "AlternatingLeastSquares", "factors": 8, "iterations": 10},
    "SVD": {"n_factors": 4, "n_epochs": 5},
}


def stage_params(**extra):
    values = {
        "algorithms": CANDIDATES,
        "tuning": {"n_trials": 0, "space": {}},
        "interactions": {"min_user_interactions": 1, "min_item_interactions": 1},
        "sessions": {"enabled": False},
    }
    return RecommendParams.from_mapping({**values, **extra})


def run(log, params):
    status = StageStatus("recommend")
    prepared = prepare(log, params, status)
    tuning = tune(prepared.validation, params, prepared.algorithms, status)
    comparison = compare(prepared.interactions.ratings, prepared.holdout, tuning, params, status)
    return prepared, comparison, status


def grouped(n_users=240, n_groups=10, size=4, seed=0):
    """Items in fixed groups users take together (two groups each), groups equally popular."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for g in rng.choice(n_groups, 2, replace=False):
            for k in range(size):
                rows.append((f"u{u:03d}", f"i{g * size + k:02d}", "view", rng.uniform(0, 30)))
    return events(rows)


def popular_only(n_users=300, n_items=60, per_user=6, seed=0):
    """Each user's items drawn by one steep popularity curve alone: no taste to learn."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_items + 1) ** 1.2
    p /= p.sum()
    rows = []
    for u in range(n_users):
        for i in rng.choice(n_items, per_user, replace=False, p=p):
            rows.append((f"u{u:03d}", f"i{i:02d}", "view", rng.uniform(0, 30)))
    return events(rows)


def test_item_co_occurrence_wins_where_items_go_together():
    _, comparison, _ = run(grouped(), stage_params())
    table = comparison.table.set_index("model")
    assert comparison.champion in {"SAR", "ALS"}
    assert table.loc["SAR", "ndcg_at_10"] > 1.5 * table.loc["popularity", "ndcg_at_10"]
    assert table.loc["SAR", "ndcg_at_10"] > table.loc["SVD", "ndcg_at_10"]


def test_popularity_wins_where_taste_is_only_popularity_and_is_served_and_said():
    # SVD's item biases can learn popularity itself (a tie, either way): the candidates here
    # are models that can only add noise to it
    learned = {name: CANDIDATES[name] for name in ("SAR", "ALS")}
    prepared, comparison, status = run(popular_only(), stage_params(algorithms=learned))
    table = comparison.table.set_index("model")
    assert comparison.champion == "popularity"
    validation = table["validation_ndcg_at_10"].drop("random")
    assert validation.idxmax() == "popularity"
    assert {"kind": "adapted", "message": POPULARITY_WON} in status.notes
    assert comparison.metrics["champion_is_baseline"] == 1
    recommender = fit_recommender(
        prepared.interactions.ratings, comparison.champion, comparison.options, stage_params()
    )
    assert recommender.popularity_only and recommender.config["algorithm"] == "popularity"
    answer = recommender.recommend(["u000"], 3)
    assert len(answer) == 3 and not answer["fallback"].any()
    assert "popularity" in comparison.metrics["algorithm"]


def test_served_item_requests_get_what_comes_next():
    from personalab.recommend.served import serve_recommendations
    from personalab.recommend.stage import learn_next_item

    rng = np.random.default_rng(1)
    rows = []
    for s in range(200):  # chains i00 -> i01 -> i02 -> ... with a random start
        start = int(rng.integers(0, 15))
        for step in range(4):
            rows.append((f"s{s:03d}", f"i{start + step:02d}", "view", s + step / 100))
    log = events(rows).assign(session_id=lambda f: f["user_id"])
    params = stage_params(sessions={"min_sessions": 5})
    next_item = learn_next_item(log, params)
    assert next_item.evaluation["model"]["hit_rate_at_10"] > 0.9
    ratings = prepare(log, params).interactions.ratings
    recommender = fit_recommender(ratings, "popularity", {}, params, next_item=next_item)
    request = pd.DataFrame({"user_id": [None, "s001"], "items": [["i03", "i04"], None]})
    answer = serve_recommendations(recommender, request, {"k": 3})
    after = answer[answer["user_id"] == "request:0"]
    assert after["item_id"].iloc[0] == "i05" and after["score_kind"].iloc[0] == "next_item_rules"
    assert set(answer["user_id"]) == {"request:0", "s001"}


def repurchases(n_users=200, n_items=60, weeks=6, seed=0):
    """Each user buys most of their own basket of five items every week, plus a stray item."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        basket = rng.choice(n_items, 5, replace=False)
        for week in range(weeks):
            day = week * 7 + rng.random()
            rows += [
                (f"u{u:03d}", f"i{i:02d}", "purchase", day) for i in basket if rng.random() < 0.8
            ]
            rows.append((f"u{u:03d}", f"i{rng.integers(n_items):02d}", "purchase", day))
    return events(rows)


def test_repeat_buying_is_learned_when_exclude_seen_is_false():
    log = repurchases()
    by_time = {"kind": "by_time", "test_share": 0.2}
    learned = {name: CANDIDATES[name] for name in ("SAR", "ALS")}
    prepared, comparison, _ = run(
        log, stage_params(algorithms=learned, holdout=by_time, exclude_seen=False)
    )
    holdout = prepared.holdout
    known = set(zip(holdout.train["user_id"], holdout.train["item_id"], strict=True))
    again = {pair for pair in zip(*holdout.relevant.values.T, strict=True) if pair in known}
    assert len(again) > 0.5 * len(holdout.relevant)  # most later purchases are repeats
    table = comparison.table.set_index("model")
    assert comparison.champion == "SAR"
    assert table.loc["SAR", "ndcg_at_10"] > 3 * table.loc["popularity", "ndcg_at_10"]
    recommender = fit_recommender(
        prepared.interactions.ratings, "SAR", {"class": "SAR"}, stage_params(exclude_seen=False)
    )
    mine = set(log.loc[log["user_id"] == "u000", "item_id"])
    assert set(recommender.recommend(["u000"], 5)["item_id"]) & mine  # their own items again

    # the default leaves a user's items out: the repeats are neither relevant nor offered, and
    # the stage says what the log is about
    status = StageStatus("recommend")
    default = prepare(log, stage_params(algorithms=learned, holdout=by_time), status)
    known = set(
        zip(default.holdout.train["user_id"], default.holdout.train["item_id"], strict=True)
    )
    assert not known & set(zip(*default.holdout.relevant.values.T, strict=True))
    assert any("exclude_seen: false" in note["message"] for note in status.notes)
