"""Unit tests of personalab.recommend.comparison: the champion and the metrics."""

import pandas as pd
import pytest

from personalab.recommend.comparison import compare
from personalab.recommend.params import BASELINES
from personalab.recommend.tuning import TuningResult


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
