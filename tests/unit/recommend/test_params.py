"""Unit tests of personalab.recommend.params: defaults, and bad params named by key."""

import pytest

from personalab.core.params import ParamsError
from personalab.recommend.params import RecommendParams
from tests.conftest import ROOT


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
