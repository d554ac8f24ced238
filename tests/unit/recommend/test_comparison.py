"""Unit tests of personalab.recommend.comparison: the champion and the metrics."""

import pandas as pd
import pytest

from personalab.recommend.comparison import compare
from personalab.recommend.params import BASELINES
from personalab.recommend.tuning import TuningResult


def test_compare_crowns_the_best_on_validation_and_a_baseline_can_win(stage):
    params, interactions, holdout, _ = stage
    options = {
        "SVD": {"n_factors": 4, "n_epochs": 5},
        "BaselineOnly": {},
        **dict.fromkeys(BASELINES, {}),
    }
    # BaselineOnly beats SVD on validation, popularity beats both: popularity is served;
    # random never is, however good it looked
    validation = {"SVD": 0.1, "BaselineOnly": 0.3, "popularity": 0.4, "random": 0.9}
    result = compare(
        interactions.ratings, holdout, TuningResult(options, validation, pd.DataFrame()), params
    )
    table = result.table
    assert table["model"].tolist() == ["SVD", "BaselineOnly", "popularity", "random"]
    assert table["kind"].tolist() == ["surprise", "surprise", "baseline", "baseline"]
    assert table["target"].tolist() == ["implicit targets"] * 2 + ["interactions"] * 2
    assert table["champion"].tolist() == [False, False, True, False]
    assert result.champion == "popularity" and result.metrics["champion_is_baseline"] == 1
    assert table["validation_ndcg_at_10"].tolist() == [0.1, 0.3, 0.4, 0.9]
    assert "rating_rmse" not in table  # implicit targets: no rating error
    for key in params.ranking_keys():
        assert table[key].between(0, 1).all()
    learned = {**validation, "popularity": 0.2}
    result = compare(
        interactions.ratings, holdout, TuningResult(options, learned, pd.DataFrame()), params
    )
    assert result.champion == "BaselineOnly" and result.metrics["champion_is_baseline"] == 0

    metrics = result.metrics
    champion_keys = [
        "precision_at_10",
        "recall_at_10",
        "ndcg_at_10",
        "map_at_10",
        "hit_rate_at_10",
        "coverage",
        "novelty",
    ]
    models = ("SVD", "BaselineOnly", *BASELINES)
    per_model = [f"{m}_{x}" for m in models for x in params.ranking_keys()]
    assert set(metrics) == {
        *per_model,
        "algorithm",
        "champion_is_baseline",
        "selection_metric",
        "test_lead_over_popularity",
        "test_lead_over_popularity_low",
        "test_lead_over_popularity_high",
        *champion_keys,
    }
    assert metrics["algorithm"] == "BaselineOnly"
    assert metrics["selection_metric"] == "ndcg_at_10"
    table = result.table
    champion = table.set_index("model").loc["BaselineOnly"]
    for key in champion_keys:
        assert metrics[key] == pytest.approx(float(champion[key]))
    popular = table.set_index("model").loc["popularity"]
    for key in params.ranking_keys():  # the baselines report every ranking metric
        assert metrics[f"popularity_{key}"] == pytest.approx(float(popular[key]))


def test_explicit_feedback_cross_validates_rating_predictors_only(stage):
    params, _, _, _ = stage
    from personalab.recommend.holdout import split_holdout
    from personalab.recommend.interactions import build_interactions
    from tests.unit.recommend.frames import structured_log

    log = structured_log()
    log = log.assign(event_type="rate", rating=1.0 + (log.index % 5))
    explicit = build_interactions(log, feedback="explicit")
    holdout = split_holdout(explicit.ratings, params.holdout, params.seed, explicit=True)
    options = {
        "SVD": {"n_factors": 4, "n_epochs": 5},
        "ALS": {"class": "AlternatingLeastSquares", "factors": 4},
    }
    options |= dict.fromkeys(BASELINES, {})
    validation = {"SVD": 0.1, "ALS": 0.3, "popularity": 0.2, "random": 0.0}
    result = compare(
        explicit.ratings, holdout, TuningResult(options, validation, pd.DataFrame()), params
    )
    table = result.table.set_index("model")
    assert table.loc["SVD", "target"] == "ratings" and table.loc["ALS", "kind"] == "implicit"
    assert table["rating_rmse"].notna().tolist() == [True, False, False, False]
    assert result.metrics["SVD_rating_rmse"] > 0 and "ALS_rating_rmse" not in result.metrics
    assert result.champion == "ALS" and "rating_rmse" not in result.metrics
    flipped = {**validation, "SVD": 0.4}
    again = compare(
        explicit.ratings, holdout, TuningResult(options, flipped, pd.DataFrame()), params
    )
    assert again.champion == "SVD" and again.table["champion"].sum() == 1
    assert again.metrics["rating_rmse"] == again.metrics["SVD_rating_rmse"]


def _popular_log(users: int = 300, items: int = 60, per_user: int = 6, seed: int = 0):
    """Each user's items drawn by a steep popularity curve: popularity is hard to beat."""
    import numpy as np

    from tests.unit.recommend.frames import events

    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, items + 1) ** 1.2
    rows = []
    for u in range(users):
        picked = rng.choice(items, per_user, replace=False, p=weights / weights.sum())
        rows += [(f"u{u:03d}", f"i{i:02d}", "view", float(d)) for d, i in enumerate(picked)]
    return events(rows)


def test_a_validation_winner_beaten_by_popularity_on_test_beyond_noise_is_not_served():
    """ "Never serve worse than the simple baseline": the champion was chosen on validation
    alone, and a candidate popularity beat on the test users was served with no word."""
    from personalab.core.status import StageStatus
    from personalab.recommend.comparison import champion_summary
    from personalab.recommend.params import RecommendParams
    from personalab.recommend.stage import prepare

    params = RecommendParams.from_mapping({"algorithms": {"SVD": {}}, "tuning": {"n_trials": 0}})
    prepared = prepare(_popular_log(), params)
    # an SVD that learns nothing (one factor, no learning rate) ranks at random
    options = {
        "SVD": {"n_factors": 1, "n_epochs": 1, "lr_all": 1e-9},
        **dict.fromkeys(BASELINES, {}),
    }
    validation = {"SVD": 0.9, "popularity": 0.2, "random": 0.0}  # as if SVD won validation
    status = StageStatus("recommend")
    result = compare(
        prepared.interactions.ratings,
        prepared.holdout,
        TuningResult(options, validation, pd.DataFrame()),
        params,
        status,
    )
    assert result.champion == "popularity" and result.metrics["algorithm"] == "popularity"
    assert result.table.set_index("model")["champion"].to_dict()["popularity"]
    assert result.metrics["test_lead_over_popularity_high"] < 0
    (said,) = [n["message"] for n in status.notes if n["kind"] == "warning"]
    assert said.startswith("SVD ranked best on validation but below popularity on the test users")
    assert "beyond noise: ndcg_at_10 0.0" in said and "so popularity is served" in said
    assert champion_summary(result, params).startswith(
        "champion popularity: SVD ranked best on validation, but on test its ndcg_at_10"
    )
    # a candidate behind popularity on test within noise stays the champion, and it is said
    knn = {"ItemKNN": {"class": "CosineRecommender", "K": 20}, **dict.fromkeys(BASELINES, {})}
    status = StageStatus("recommend")
    kept = compare(
        prepared.interactions.ratings,
        prepared.holdout,
        TuningResult(knn, {"ItemKNN": 0.9, "popularity": 0.2, "random": 0.0}, pd.DataFrame()),
        params,
        status,
    )
    low, high = (kept.metrics[f"test_lead_over_popularity_{e}"] for e in ("low", "high"))
    assert kept.champion == "ItemKNN" and low < 0 < high
    (said,) = [n["message"] for n in status.notes if n["kind"] == "warning"]
    assert "below popularity on the test users, within noise" in said
    assert said.endswith("over 300 test users); it stays the champion")
    assert champion_summary(kept, params).endswith(
        f"; its lead in ndcg_at_10 {kept.metrics['test_lead_over_popularity']:+.4f} (95% "
        f"interval {low:+.4f} to {high:+.4f} over 300 test users)"
    )
