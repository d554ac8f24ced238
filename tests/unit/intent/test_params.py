"""Parameters of the intent stage (personalab.intent.params)."""

from __future__ import annotations

import pytest

from personalab.core.params import ParamsError
from personalab.core.paths import project_paths
from personalab.intent.params import IntentParams


def test_default_params_equal_params_intent_yaml():
    from_file = IntentParams.from_yaml(project_paths().params_file("intent"))
    assert from_file == IntentParams()
    assert IntentParams().label_column is None  # the table's target (attrs), else LABEL
    assert IntentParams().tuning.storage is None


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"colour": "red"}, "colour: unknown key"),
        ({"tuning": {"trials": 3}}, "tuning.trials: unknown key"),
        ({"tuning": {"space": {"learning_rate": [0.3, 0.02]}}}, "learning_rate: low 0.3 is above high 0.02"),
        ({"tuning": {"space": {"max_depth": [8, 2]}}}, "tuning.space"),
        ({"tuning": {"space": {"reg_alpha": [0.0, 1.0]}}}, "reg_alpha: bounds must be positive"),
        ({"tuning": {"space": {"gamma": [0.1]}}}, "tuning.space.gamma"),
        ({"tuning": {"n_trials": 0}}, "tuning.n_trials"),
        ({"split": {"test_share": 1.0}}, "split.test_share"),
        ({"threshold": {"rule": "accuracy"}}, "threshold.rule"),
        ({"registry": {"primary_metric": "test_f1"}}, "registry.primary_metric"),
        ({"table_path": "data/shoppers.txt"}, "table_path"),
    ],
)  # fmt: skip
def test_bad_params_raise_params_error_naming_the_key(values, named):
    with pytest.raises(ParamsError) as err:
        IntentParams.from_mapping(values)
    assert named in str(err.value)


def test_table_path_accepts_csv_and_parquet():
    for path in ("data/online_shoppers.csv", "x.parquet", "x.PQ"):
        assert IntentParams.from_mapping({"table_path": path}).table_path == path
    with pytest.raises(ParamsError, match=r"table_path: .*expected a \.csv or \.parquet file"):
        IntentParams.from_mapping({"table_path": "x.txt"})


def test_equal_search_bounds_fix_a_parameter():
    space = IntentParams.from_mapping({"tuning": {"space": {"max_depth": [4, 4]}}}).tuning.space
    assert space.max_depth == [4, 4]
