"""The feature encoder, float_block and feature selection (personalab.intent.columns)."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from personalab.features.schema import LABEL
from personalab.intent.columns import FeatureEncoder, select_features
from personalab.intent.params import IntentError
from personalab.intent.pyfunc import input_schema
from tests.unit.intent.helpers import params, week

FIT = pd.DataFrame(
    {
        "duration": [10.0, 0.0, 3.5, np.nan],
        "weekend": ["TRUE", "FALSE", "TRUE", "FALSE"],
        "month": ["Mar", "Feb", "Nov", "Mar"],
        "region": [3, 1, 2, 1],
    }
)


def test_encoder_learns_kinds_and_sorted_categories_from_the_fit_frame():
    encoder = FeatureEncoder(categorical=["region"]).fit(FIT)
    kinds = {s.name: (s.kind, s.categories) for s in encoder.columns_}
    assert kinds == {
        "duration": ("numeric", ()),
        "weekend": ("bool", ()),
        "month": ("categorical", ("Feb", "Mar", "Nov")),
        "region": ("categorical", ("1", "2", "3")),  # not "1.0"
    }
    assert encoder.feature_names_ == ["duration", "weekend", "month", "region"]
    X = encoder.transform(FIT)
    assert X["duration"].dtype == np.float64
    np.testing.assert_array_equal(X["duration"], [10.0, 0.0, 3.5, np.nan])
    assert X["weekend"].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert isinstance(X["month"].dtype, pd.CategoricalDtype)
    assert list(X["month"].cat.categories) == ["Feb", "Mar", "Nov"]
    assert X["month"].tolist() == ["Mar", "Feb", "Nov", "Mar"]
    assert X["region"].tolist() == ["3", "1", "2", "1"]


def test_without_categorical_an_int_code_column_stays_numeric():
    encoder = FeatureEncoder().fit(FIT)
    assert encoder.columns_[3].kind == "numeric"
    assert encoder.transform(FIT)["region"].tolist() == [3.0, 1.0, 2.0, 1.0]


def test_encoder_reads_floats_and_strings_of_the_learned_kinds_at_transform():
    encoder = FeatureEncoder(categorical=["region"]).fit(FIT)
    new = pd.DataFrame(
        {
            "duration": ["7", " 2.5", None],
            "weekend": [1.0, 0.0, np.nan],
            "month": ["Dec", "Feb", None],  # Dec was not in the fit frame
            "region": [2.0, 9.0, np.nan],  # floats of codes read as "2"; 9 is unseen
        }
    )
    X = encoder.transform(new)
    np.testing.assert_array_equal(X["duration"], [7.0, 2.5, np.nan])
    np.testing.assert_array_equal(X["weekend"], [1.0, 0.0, np.nan])
    # unseen categories are missing, not errors
    assert X["month"].isna().tolist() == [True, False, True]
    assert X["month"].iloc[1] == "Feb"
    assert X["region"].isna().tolist() == [False, True, True]
    assert X["region"].iloc[0] == "2"
    assert list(X["month"].cat.categories) == ["Feb", "Mar", "Nov"]


def test_unseen_category_at_transform_is_missing_without_an_error_or_warning():
    import warnings

    encoder = FeatureEncoder(categorical=["region"]).fit(FIT)
    new = FIT.assign(month=["Jan", "Mar", "Jan", None], region=[7, 1, 7, 3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a pandas FutureWarning would fail the test
        X = encoder.transform(new)
        only_unseen = encoder.transform(FIT.assign(month="Jan"))
    assert X["month"].isna().tolist() == [True, False, True, True]
    assert X["month"].iloc[1] == "Mar"
    assert X["region"].isna().tolist() == [True, False, True, False]
    assert X["region"].iloc[[1, 3]].tolist() == ["1", "3"]
    assert list(X["month"].cat.categories) == ["Feb", "Mar", "Nov"]
    assert list(X["region"].cat.categories) == ["1", "2", "3"]
    # a column of nothing but unseen values is all missing, with the learned categories
    assert only_unseen["month"].isna().all()
    assert list(only_unseen["month"].cat.categories) == ["Feb", "Mar", "Nov"]


def test_matrix_reads_one_row_and_many_rows_alike():
    """One served row goes through an object array, a batch through pandas' blocks: the same
    numbers either way, unseen, numeric and padded category labels included."""
    from personalab.intent.columns import _FEW_ROWS

    encoder = FeatureEncoder(categorical=["region"]).fit(FIT)
    odd = FIT.assign(month=[" Mar", "Jan", None, "Nov"], region=[2.0, 7.0, 1.0, np.nan])
    batch = pd.concat([FIT, odd] * (_FEW_ROWS // 4), ignore_index=True)
    assert len(batch) > _FEW_ROWS
    many = encoder.matrix(batch)
    one_by_one = np.vstack([encoder.matrix(batch.iloc[[i]]) for i in range(len(batch))])
    np.testing.assert_array_equal(many, one_by_one)
    np.testing.assert_array_equal(many[4:8, 2], [1, np.nan, np.nan, 2])  # month: Feb Mar Nov
    np.testing.assert_array_equal(many[4:8, 3], [1, np.nan, 0, np.nan])  # region: 1 2 3


def test_rows_as_dicts_of_typed_values_encode_as_their_frame_does():
    """The online store's rows (numbers and booleans as numbers, labels, None) are read without
    a frame: the same matrix as the frame of those rows; a row None is all missing."""
    encoder = FeatureEncoder().fit(FIT)
    rows = [
        {"duration": 10.0, "weekend": 1.0, "month": "Feb", "region": 2.0},
        {"duration": None, "weekend": 0.0, "month": "Jan", "region": np.nan},  # Jan: unseen
        {"duration": 3.5, "weekend": True, "month": None, "region": 1},
    ]
    expected = encoder.matrix(pd.DataFrame(rows))
    np.testing.assert_array_equal(encoder.matrix_of_rows(rows), expected)
    assert np.isnan(encoder.matrix_of_rows([None, rows[0]])[0]).all()
    np.testing.assert_array_equal(encoder.matrix_of_rows([None, rows[0]])[1], expected[0])


def test_transform_names_every_missing_feature_column_and_ignores_extra_ones():
    encoder = FeatureEncoder().fit(FIT)
    with pytest.raises(
        IntentError, match=re.escape("input lacks required feature column(s) ['weekend', 'region']")
    ):
        encoder.transform(FIT.drop(columns=["region", "weekend", "duration"]))
    X = encoder.transform(
        FIT.assign(extra="x")[["extra", "region", "month", "weekend", "duration"]]
    )
    assert list(X.columns) == ["duration", "weekend", "month", "region"]  # the learned order


def test_nullable_columns_are_optional_and_carried_as_doubles_so_a_null_can_be_sent():
    encoder = FeatureEncoder(nullable=("region",)).fit(FIT)
    specs = {s.name: (s.optional, s.schema_type) for s in encoder.columns_}
    assert specs["region"] == (True, "double")  # integers in training, a null allowed when served
    assert specs["duration"] == (True, "double") and specs["month"] == (False, "string")
    assert FeatureEncoder().fit(FIT).columns_[3].schema_type == "long"
    X = encoder.transform(FIT.assign(region=[1.0, np.nan, 2.0, np.nan]))
    assert X["region"].isna().tolist() == [False, True, False, True]


def test_columns_missing_in_training_are_optional_and_read_as_missing():
    encoder = FeatureEncoder().fit(FIT)
    assert [s.name for s in encoder.columns_ if s.optional] == ["duration"]
    X = encoder.transform(FIT.drop(columns="duration"))
    assert X["duration"].isna().all() and list(X.columns) == encoder.feature_names_
    assert np.isnan(encoder.matrix(FIT.drop(columns="duration"))[:, 0]).all()
    copy = FeatureEncoder.from_dict(json.loads(json.dumps(encoder.to_dict())))
    assert [s.optional for s in copy.columns_] == [True, False, False, False]
    # the booster's matrix: the same values, categories as codes, missing as NaN
    frame = encoder.transform(FIT)
    expected = np.column_stack(
        [
            np.where(c.cat.codes >= 0, c.cat.codes, np.nan) if c.dtype == "category" else c
            for _, c in frame.items()
        ]
    )
    np.testing.assert_array_equal(encoder.matrix(FIT), expected)
    np.testing.assert_array_equal(encoder.matrix(FIT.astype(str)), expected)  # slow path too
    schema = input_schema(encoder)
    assert [(c.name, c.type.name, c.required) for c in schema.inputs] == [
        ("duration", "double", False),
        ("weekend", "string", True),  # TRUE/FALSE text, as the table holds it
        ("month", "string", True),
        ("region", "long", True),
    ]


def test_encoder_round_trips_through_json():
    encoder = FeatureEncoder(categorical=["region"]).fit(FIT)
    copy = FeatureEncoder.from_dict(json.loads(json.dumps(encoder.to_dict())))
    assert copy.columns_ == encoder.columns_
    assert copy.feature_names_ == encoder.feature_names_
    new = pd.DataFrame(
        {
            "duration": ["7", None, "1e3"],
            "weekend": ["FALSE", "TRUE", None],
            "month": ["Dec", "Nov", "Feb"],
            "region": [2.0, 9.0, np.nan],
        }
    )
    for frame in (FIT, new):
        pd.testing.assert_frame_equal(copy.transform(frame), encoder.transform(frame))


def test_float_block_reads_absent_columns_as_missing_and_names_a_column_that_is_not_numeric():
    from personalab.intent.columns import float_block

    frame = pd.DataFrame({"a": [1.0, np.nan], "b": ["x", "2"], "c": [2, 3]})
    np.testing.assert_array_equal(
        float_block(frame, ["c", "zz", "a"]), [[2, np.nan, 1], [3, np.nan, np.nan]]
    )
    with pytest.raises(IntentError, match="column 'b': could not convert string to float: 'x'"):
        float_block(frame, ["a", "b"])


# --- select_features --------------------------------------------------------------------------


def feature_table(n: int = 60) -> pd.DataFrame:
    """``n`` rows: the id, time and label columns, three features, an e-mail per row, a timestamp."""
    return pd.DataFrame(
        {
            "user_id": np.arange(n),
            "session_id": [f"s{i}" for i in range(n)],
            "cutoff": week(0),
            LABEL: np.arange(n) % 2,
            "visits": np.arange(n, dtype=float),
            "month": np.resize(["Mar", "Feb", "Nov"], n),
            "debug": 1.0,
            "email": [f"user{i}@example.org" for i in range(n)],
            "seen_at": pd.date_range("2024-01-01", periods=n, freq="h"),
        }
    )


def test_select_features_never_uses_label_time_ids_or_excluded_columns():
    table = feature_table().drop(columns=["email", "seen_at"])
    names, skipped = select_features(table, params(exclude=["debug"]))
    assert names == ["visits", "month"]
    assert skipped == {
        LABEL: "label",
        "cutoff": "time column",
        "user_id": "identifier (id_columns)",
        "session_id": "identifier (id_columns)",
        "debug": "excluded (exclude)",
    }
    # other names for the label, time and id columns; reserved names absent from the table are
    # not reported, and session_id (one string per row) is still no feature
    renamed = table.rename(columns={LABEL: "bought", "cutoff": "when", "user_id": "visitor"})
    names, skipped = select_features(
        renamed,
        params(label_column="bought", time_column="when", id_columns=["visitor"]),
    )
    assert names == ["visits", "month", "debug"]
    assert skipped == {
        "bought": "label",
        "when": "time column",
        "visitor": "identifier (id_columns)",
        "session_id": "identifier-like (60 distinct strings)",
    }


def test_select_features_skips_a_string_column_with_one_value_per_row():
    names, skipped = select_features(feature_table().drop(columns="seen_at"), params())
    assert "email" not in names
    assert skipped["email"] == "identifier-like (60 distinct strings)"
    # below 50 rows it is too short to tell
    names, skipped = select_features(feature_table(49).drop(columns="seen_at"), params())
    assert "email" in names and "email" not in skipped
    # listed under `categorical` it is a feature
    names, skipped = select_features(
        feature_table().drop(columns="seen_at"), params(categorical=["email"])
    )
    assert "email" in names and "email" not in skipped


def test_select_features_skips_a_datetime_column_as_a_timestamp():
    names, skipped = select_features(feature_table().drop(columns="email"), params())
    assert names == ["visits", "month", "debug"]
    assert skipped["seen_at"] == "timestamp"


def test_select_features_names_an_asked_for_column_the_table_lacks():
    table = feature_table()
    with pytest.raises(IntentError, match=r"feature column\(s\) \['clicks'\] not in the table"):
        select_features(table, params(features=["visits", "clicks"]))
    with pytest.raises(IntentError, match=r"feature column\(s\) \['region'\] not in the table"):
        select_features(table, params(categorical=["region"]))
    names, skipped = select_features(table, params(features=["month", "visits"]))
    assert names == ["month", "visits"]  # the order asked for
    assert skipped["user_id"] == "identifier (id_columns)"


@pytest.mark.parametrize(
    ("column", "what"),
    [
        (LABEL, "label"),
        ("cutoff", "time column"),
        ("user_id", r"identifier \(id_columns\)"),
    ],
)
def test_select_features_refuses_the_label_time_or_an_id_as_a_feature(column, what):
    with pytest.raises(
        IntentError, match=rf"column '{column}' is the {what} and cannot be a feature"
    ):
        select_features(feature_table(), params(features=["visits", column]))
