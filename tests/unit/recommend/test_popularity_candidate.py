"""The popularity recommender, the candidate when no collaborative filter can be learned: the
popularity baseline's ranking, saved in the served format, loaded without Surprise, registered
with the algorithm name ``popularity``; and the stage's steps ending in it."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from personalab.core.status import StageStatus
from personalab.recommend.arrays import ModelArrays
from personalab.recommend.baselines import BaselineModel
from personalab.recommend.comparison import compare
from personalab.recommend.params import RecommendParams
from personalab.recommend.served import Recommender, load_recommender, save_serving_model
from personalab.recommend.stage import (
    describe_recommendations,
    fit_recommender,
    prepare,
    recommend_everyone,
    stage_metrics,
)
from personalab.recommend.tuning import tune
from tests.unit.recommend.frames import TINY, events

PARAMS = RecommendParams.from_mapping(TINY)


@pytest.fixture(scope="module")
def popular(positives):
    return fit_recommender(positives, "popularity", {}, PARAMS)


def test_the_popularity_recommender_ranks_as_the_popularity_baseline(positives, popular):
    users = sorted(positives["user_id"].unique())
    baseline = BaselineModel("popularity", positives).top_k(users, 5)
    served = popular.recommend(users, 5)
    assert not served["fallback"].any()
    columns = ["user_id", "item_id", "rank"]
    pd.testing.assert_frame_equal(
        served[columns].reset_index(drop=True),
        baseline[columns].astype({"rank": np.int64}).reset_index(drop=True),
        check_dtype=False,
    )
    np.testing.assert_allclose(served["score"], baseline["score"].astype(float))
    seen = set(zip(positives["user_id"], positives["item_id"], strict=True))
    assert not seen & set(zip(served["user_id"], served["item_id"], strict=True))


def test_unknown_users_get_the_popular_list_as_fallback(popular):
    out = popular.recommend(["newcomer"], 3)
    assert out["fallback"].all() and list(out["rank"]) == [1, 2, 3]
    assert list(out["item_id"]) == list(popular.popular.index[:3])


def test_it_says_it_is_popularity_only(popular, recommender):
    assert popular.popularity_only and not recommender.popularity_only
    assert popular.config["algorithm"] == "popularity"
    assert popular.config["options"] == {"window_days": None}


def test_saved_it_loads_as_the_served_recommender_without_surprise(popular, tmp_path):
    folder = save_serving_model(popular, tmp_path / "recommender")
    config = json.loads((folder / "artifacts" / "recommender.json").read_text())
    assert config["algorithm"] == "popularity"
    assert ModelArrays.load(folder / "artifacts" / "model.npz").algorithm == "popularity"
    users = ["u00", "u07", "newcomer"]
    expected = popular.recommend(users, 4)
    script = (
        "import sys, json\n"
        "sys.modules['surprise'] = None  # importing Surprise now fails\n"
        "from personalab.recommend.served import load_recommender\n"
        f"r = load_recommender({str(folder)!r})\n"
        f"out = r.recommend({users!r}, 4)\n"
        "print(json.dumps([r.popularity_only, out.astype(str).values.tolist()]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    only, rows = json.loads(done.stdout.strip().splitlines()[-1])
    assert only is True and rows == expected.astype(str).values.tolist()
    again = load_recommender(folder)
    pd.testing.assert_frame_equal(again.recommend(users, 4), expected)


def test_it_is_saved_with_the_files_every_recommender_has(popular, tmp_path):
    files = popular.save(tmp_path)
    loaded = Recommender.load(files["model"], files["config"])
    arrays = loaded.model.model.arrays
    assert {"user_ids", "item_ids", "seen_indptr", "seen_indices", "item_scores"} <= set(arrays)
    assert loaded.config["users"] == popular.model.model.n_users


def test_a_log_that_cannot_teach_a_filter_ends_in_the_popularity_recommender():
    # two users on overlapping items: every item has fewer than min_item_interactions (5) users
    log = events(
        [("a", f"i{i}", "view", i) for i in range(6)]
        + [("b", f"i{i}", "click", i) for i in range(3, 9)]
    )
    params = RecommendParams.from_mapping({})
    status = StageStatus("recommend")
    prepared = prepare(log, params, status)
    tuning = tune(prepared.validation, params, prepared.algorithms, status)
    comparison = compare(prepared.interactions.ratings, prepared.holdout, tuning, params, status)
    assert comparison.champion == "popularity"
    assert set(comparison.table["model"]) == {"popularity", "random"}
    recommender = fit_recommender(
        prepared.interactions.ratings, comparison.champion, comparison.options, params
    )
    assert recommender.popularity_only
    recs = recommend_everyone(recommender, log)
    assert set(recs["user_id"]) == {"a", "b"} and not recs["fallback"].any()
    assert set(recs.loc[recs["user_id"] == "a", "item_id"]) == {"i6", "i7", "i8"}
    metrics = stage_metrics(prepared.interactions, prepared.holdout, comparison, recs, status)
    assert metrics["algorithm"] == "popularity" and metrics["status"] == "partial"
    assert metrics["ndcg_at_10"] == metrics["popularity_ndcg_at_10"]
    assert any("served recommender is popularity" in note for note in metrics["notes"])


def test_without_a_test_split_the_comparison_is_empty_and_popularity_serves():
    log = events([(f"u{u}", "only", "view", u) for u in range(5)])
    status = StageStatus("recommend")
    prepared = prepare(log, PARAMS, status)
    tuning = tune(prepared.validation, PARAMS, prepared.algorithms, status)
    comparison = compare(prepared.interactions.ratings, prepared.holdout, tuning, PARAMS, status)
    assert comparison.table.empty and comparison.champion == "popularity"
    assert np.isnan(comparison.metrics["ndcg_at_10"])
    recommender = fit_recommender(prepared.interactions.ratings, "popularity", {}, PARAMS)
    assert recommender.recommend(["u1"]).empty  # u1 has seen the only item
    assert describe_recommendations(recommend_everyone(recommender, log), log) == (
        "0 of 5 users get a list, 0 of them the popularity fallback (0.00%); 5 have already "
        "seen every item the model can offer"
    )
    assert list(recommender.recommend(["new"])["item_id"]) == ["only"]


def test_it_registers_and_a_rerun_of_the_same_recipe_is_the_challenger(
    positives, popular, tmp_path, mlflow_tmp
):
    import mlflow

    from personalab.core.registry import lineage_of
    from personalab.recommend.algorithms import fit_candidate
    from personalab.recommend.evaluate import evaluate_ranking
    from personalab.recommend.holdout import split_holdout
    from personalab.recommend.registry import register_and_decide

    holdout = split_holdout(positives, PARAMS.holdout, PARAMS.seed)
    lineage = lineage_of({"format": "csv", "path": "data/raw/one.csv"})
    fitted = fit_candidate("popularity", {}, holdout.train, PARAMS)
    value = evaluate_ranking(fitted, holdout, PARAMS.k)[PARAMS.selection_metric]
    folder = save_serving_model(popular, tmp_path / "recommender")
    decisions = []
    for _ in range(2):
        with mlflow.start_run():
            decisions.append(register_and_decide(folder, holdout, value, PARAMS, lineage))
    assert [d.alias for d in decisions] == ["champion", "challenger"]
    client = mlflow.MlflowClient()
    assert client.get_model_version(PARAMS.registry.model_name, "1").tags["algorithm"] == (
        "popularity"
    )
    # v1 (popularity) was refitted on the same training part and scored alike: no better
    assert decisions[1].champion_value == pytest.approx(value)


def test_most_users_on_the_fallback_is_a_warning_naming_the_minimum_counts():
    from personalab.recommend.interactions import Interactions
    from personalab.recommend.stage import warn_on_fallback

    def lists(fallback_users, users=10):  # two rows a user, as top-N lists are
        rows = [(f"u{u}", u < fallback_users) for u in range(users) for _ in range(2)]
        return pd.DataFrame(rows, columns=["user_id", "fallback"])

    kept = Interactions(
        pd.DataFrame(columns=["user_id", "item_id", "rating"]),
        False,
        {"pairs": 40, "pairs_dropped": 960, "users": 3, "items": 7},
    )
    status = StageStatus("recommend")
    warn_on_fallback(lists(5), kept, PARAMS, status)  # half: not most
    assert status.notes == []
    warn_on_fallback(lists(8), kept, PARAMS, status)
    assert [n["kind"] for n in status.notes] == ["warning"] and status.status == "complete"
    assert status.notes[0]["message"] == (
        "8 of 10 users (80%) get the popularity fallback, not a personalised list: the minimum "
        f"counts (interactions.min_user_interactions {PARAMS.interactions.min_user_interactions}"
        f", min_item_interactions {PARAMS.interactions.min_item_interactions}) keep 40 of 1,000 "
        "user-item pairs, of 3 users and 7 items, and the model is learned and judged on those "
        "alone; lower them in params/recommend.yaml to personalise more users"
    )
