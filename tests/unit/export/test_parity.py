"""Unit tests of personalab.export.parity: an exported folder's predictions against expected
ones."""

import numpy as np
import pandas as pd
import pytest

from personalab.export.parity import parity
from personalab.recommend.served import LABEL_COLUMNS, label_recommendations


def test_parity_of_a_folder_with_its_own_prediction_is_zero(served, parts):
    folder, example, prediction = served
    assert len(prediction) == 9
    recommender = parts["recommender"]
    expected = label_recommendations(
        recommender, recommender.recommend(["u1", "u4", "stranger"], 3)
    )
    pd.testing.assert_frame_equal(prediction, expected)
    assert parity(folder, prediction, example, k=3) == 0.0


def test_parity_with_a_champion_that_gives_no_labels_compares_its_columns(served):
    """A champion registered before answers were labelled: the export adds score_kind and
    reason, and must agree on every column the champion gives."""
    folder, example, prediction = served
    unlabelled = prediction.drop(columns=LABEL_COLUMNS)
    assert parity(folder, unlabelled, example, k=3) == 0.0
    shifted = unlabelled.copy()
    shifted.loc[1, "score"] += 0.5
    assert parity(folder, shifted, example, k=3) == pytest.approx(0.5)
    relabelled = prediction.assign(reason="another reason")  # labels it gives are compared
    assert parity(folder, relabelled, example, k=3) == float("inf")
    assert parity(folder, unlabelled.drop(columns="fallback"), example, k=3) == float("inf")


def test_parity_is_infinite_when_an_item_id_differs(served):
    folder, example, prediction = served
    changed = prediction.copy()
    changed.loc[4, "item_id"] = "not-an-item"
    assert parity(folder, changed, example, k=3) == float("inf")


def test_parity_is_infinite_when_the_row_count_or_columns_differ(served):
    folder, example, prediction = served
    assert parity(folder, prediction.iloc[:-1], example, k=3) == float("inf")
    assert parity(folder, prediction, example, k=2) == float("inf")
    renamed = prediction.rename(columns={"score": "points"})
    assert parity(folder, renamed, example, k=3) == float("inf")


def test_parity_is_the_largest_score_shift(served):
    folder, example, prediction = served
    shifted = prediction.copy()
    shifted.loc[1, "score"] += 0.25
    shifted.loc[7, "score"] -= 0.125
    assert parity(folder, shifted, example, k=3) == pytest.approx(0.25)


def test_parity_is_infinite_when_a_score_is_missing_on_one_side_only(served):
    folder, example, prediction = served
    missing = prediction.copy()
    missing.loc[2, "score"] = np.nan  # max(0.0, nan) is 0.0: a NaN must not pass as parity
    assert parity(folder, missing, example, k=3) == float("inf")
    infinite = prediction.copy()
    infinite.loc[3, "score"] = np.inf
    assert parity(folder, infinite, example, k=3) == float("inf")


def test_parity_counts_values_missing_on_both_sides_as_equal(tmp_path):
    import mlflow.pyfunc

    class Constant(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return pd.DataFrame({"p": [0.5, np.nan, 0.25]})

    folder = tmp_path / "constant"
    mlflow.pyfunc.save_model(str(folder), python_model=Constant())
    example = pd.DataFrame({"x": [1, 2, 3]})
    assert parity(folder, pd.DataFrame({"p": [0.5, np.nan, 0.5]}), example) == 0.25
    assert parity(folder, pd.DataFrame({"p": [0.5, 0.0, 0.25]}), example) == float("inf")
