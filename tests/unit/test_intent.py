"""Unit tests of personalab.intent on small hand-built tables whose answers are known.

Labels, column kinds, feature selection, splits and metrics are checked against values
computed by hand; the tuned pipeline runs once on a 600-row table shaped like the UCI
"Online Shoppers Purchasing Intention" data (a few Optuna trials of at most 30 rounds).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from personalab.core.params import ParamsError
from personalab.core.paths import project_paths
from personalab.core.registry import promote_if_better
from personalab.features import LABEL
from personalab.intent import (
    Calibrator,
    FeatureEncoder,
    IntentError,
    IntentModel,
    IntentParams,
    choose_calibration,
    create_study,
    evaluate_on_test,
    fit_baselines,
    fit_final_model,
    infer_kind,
    input_schema,
    open_storage,
    parse_label,
    prepare_data,
    read_table,
    select_features,
    split_stratified,
    split_temporal,
    tune_xgboost,
)

T0 = pd.Timestamp("2024-03-04", tz="UTC")


def weekly(n_cutoffs: int, rows_per: int = 5) -> tuple[pd.Series, np.ndarray]:
    """``rows_per`` rows at each of ``n_cutoffs`` weekly cut-offs, and an alternating label."""
    times = pd.Series(
        np.repeat([T0 + pd.Timedelta(weeks=k) for k in range(n_cutoffs)], rows_per), name="cutoff"
    )
    return times, (np.arange(len(times)) % 2).astype(np.int8)


def week(k: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(weeks=k)


def params(**values) -> IntentParams:
    return IntentParams.from_mapping(values)


# --- 1. parse_label ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (pd.Series([True, False, True]), [1, 0, 1]),
        (pd.Series([0, 1, 1, 0]), [0, 1, 1, 0]),
        (pd.Series([0.0, 1.0]), [0, 1]),
        (pd.Series(["TRUE", "FALSE", "true", " yes ", "0", "1", "No", "n"]), [1, 0, 1, 1, 0, 1, 0, 0]),
        (pd.Series([True, False], dtype=object), [1, 0]),
    ],
)  # fmt: skip
def test_parse_label_reads_booleans_numbers_and_strings(values, expected):
    out = parse_label(values, "y")
    assert out.dtype == np.int8
    assert out.tolist() == expected


def test_parse_label_names_column_row_label_and_value_it_cannot_read():
    values = pd.Series(["TRUE", "maybe", "FALSE"], index=["a", "b", "c"])
    with pytest.raises(IntentError, match=r"label column 'bought'.*'maybe' at row b"):
        parse_label(values, "bought")


def test_parse_label_rejects_a_number_other_than_0_or_1():
    values = pd.Series([0, 1, 2, 1], index=[10, 11, 12, 13])
    with pytest.raises(
        IntentError, match=r"label column 'bought': expected 0/1, got .*2.* at row 12"
    ):
        parse_label(values, "bought")
    with pytest.raises(IntentError, match=r"got .*0\.5.* at row 1"):
        parse_label(pd.Series([1.0, 0.5]), "bought")


def test_parse_label_counts_missing_values_and_names_the_first_row():
    values = pd.Series(["TRUE", None, "FALSE", None], index=[5, 6, 7, 8])
    with pytest.raises(IntentError, match=r"'bought': 2 missing value\(s\), first at row 6"):
        parse_label(values, "bought")


# --- 2. column kinds and the encoder -----------------------------------------------------------


MONTHS = ["Feb", "Mar", "May", "June", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (pd.Series([1.5, 2.0, np.nan]), "numeric"),
        (pd.Series([1, 2, 3]), "numeric"),
        (pd.Series([True, False]), "bool"),
        (pd.Series(["TRUE", "FALSE", "TRUE", None]), "bool"),
        (pd.Series(["yes", "No", "Y"]), "bool"),
        (pd.Series(MONTHS), "categorical"),
        (pd.Series(["1.5", "2", " 3 ", None]), "numeric"),
        (pd.Series(["0", "1", "1"]), "numeric"),  # 0/1 strings are numbers, not booleans
        (pd.Series(["a", "b"], dtype="category"), "categorical"),
        # half numbers: a categorical, not a numeric column with bad values
        (pd.Series(["1", "2", "3", "x", "y", "z"]), "categorical"),
    ],
)  # fmt: skip
def test_infer_kind(values, kind):
    assert infer_kind(values) == kind


def test_mostly_numeric_string_column_fails_naming_column_row_and_value():
    values = pd.Series(["1.5", "2"] + ["3"] * 8 + ["abc"], name="PageValues")
    with pytest.raises(IntentError, match=r"column 'PageValues' .*'abc' at row 10"):
        infer_kind(values)
    # the same column through the encoder
    with pytest.raises(IntentError, match=r"'PageValues'.*'abc' at row 10"):
        FeatureEncoder().fit(values.to_frame())


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
    from personalab.intent import _FEW_ROWS

    encoder = FeatureEncoder(categorical=["region"]).fit(FIT)
    odd = FIT.assign(month=[" Mar", "Jan", None, "Nov"], region=[2.0, 7.0, 1.0, np.nan])
    batch = pd.concat([FIT, odd] * (_FEW_ROWS // 4), ignore_index=True)
    assert len(batch) > _FEW_ROWS
    many = encoder.matrix(batch)
    one_by_one = np.vstack([encoder.matrix(batch.iloc[[i]]) for i in range(len(batch))])
    np.testing.assert_array_equal(many, one_by_one)
    np.testing.assert_array_equal(many[4:8, 2], [1, np.nan, np.nan, 2])  # month: Feb Mar Nov
    np.testing.assert_array_equal(many[4:8, 3], [1, np.nan, 0, np.nan])  # region: 1 2 3


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


# --- 3. select_features -----------------------------------------------------------------------


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


# --- 4. splits --------------------------------------------------------------------------------


@pytest.mark.parametrize("embargo", [7.0, 0.0])
def test_split_temporal_tests_on_the_last_cutoff_and_validates_on_the_one_before(embargo):
    times, y = weekly(4)  # rows 0-4 week 0, ..., rows 15-19 week 3
    split = split_temporal(times, y, embargo_days=embargo)
    assert split.kind == "temporal"
    assert split.train.tolist() == list(range(0, 10))
    assert split.valid.tolist() == list(range(10, 15))
    assert split.test.tolist() == list(range(15, 20))
    assert split.dropped.tolist() == []
    assert split.note == ""
    everything = np.concatenate([split.train, split.valid, split.test])
    assert len(set(everything)) == len(everything) == 20
    assert (times.iloc[split.train_valid] < week(3)).all()  # no test cut-off before test
    assert (times.iloc[split.train] < week(2)).all()
    summary = split.summary.set_index("part")
    assert summary.index.tolist() == ["train", "valid", "test"]
    assert summary["rows"].to_dict() == {"train": 10, "valid": 5, "test": 5}
    assert summary["positives"].to_dict() == {"train": 5, "valid": 2, "test": 3}
    assert summary["positive_rate"].tolist() == pytest.approx([0.5, 0.4, 0.6])
    assert summary["cutoffs"].to_dict() == {
        "train": "2024-03-04, 2024-03-11",
        "valid": "2024-03-18",
        "test": "2024-03-25",
    }


def test_split_temporal_does_not_depend_on_row_order():
    times, y = weekly(4)
    order = np.random.default_rng(1).permutation(20)
    split = split_temporal(times.iloc[order].reset_index(drop=True), y[order], 7)
    assert sorted(order[split.train]) == list(range(0, 10))
    assert sorted(order[split.valid]) == list(range(10, 15))
    assert sorted(order[split.test]) == list(range(15, 20))


def test_split_temporal_drops_cutoffs_whose_label_window_reaches_the_next_part():
    times, y = weekly(5, rows_per=2)  # rows 2k and 2k+1 at week k
    split = split_temporal(times, y, embargo_days=14)
    # test week 4; validation week 2 (week 3's window ends after week 4); train week 0
    assert split.test.tolist() == [8, 9]
    assert split.valid.tolist() == [4, 5]
    assert split.train.tolist() == [0, 1]
    assert split.dropped.tolist() == [2, 3, 6, 7]
    assert split.summary.set_index("part")["cutoffs"].to_dict() == {
        "train": "2024-03-04",
        "valid": "2024-03-18",
        "test": "2024-04-01",
    }


@pytest.mark.parametrize(("n_cutoffs", "embargo"), [(2, 7.0), (2, 0.0), (3, 8.0)])
def test_split_temporal_needs_three_cutoffs_spaced_by_the_embargo(n_cutoffs, embargo):
    times, y = weekly(n_cutoffs)
    with pytest.raises(IntentError, match=r"time column 'cutoff': .*found cut-offs"):
        split_temporal(times, y, embargo_days=embargo)


def test_split_temporal_names_the_row_of_a_missing_time():
    times, y = weekly(4)
    times[7] = None
    with pytest.raises(IntentError, match=r"time column 'cutoff': missing .* at row 7"):
        split_temporal(times, y, 7)


def test_split_temporal_names_the_row_of_an_unreadable_time():
    times, y = weekly(4)
    times = times.dt.strftime("%Y-%m-%d")
    times[7] = "not a date"
    with pytest.raises(IntentError, match=r"time column 'cutoff': .*unreadable value at row 7"):
        split_temporal(times, y, 7)


def labels_2000(seed: int = 0) -> np.ndarray:
    """2000 labels, 200 of them positive at random rows."""
    y = np.zeros(2000, dtype=np.int8)
    y[np.random.default_rng(seed).choice(2000, 200, replace=False)] = 1
    return y


def test_split_stratified_keeps_the_positive_rate_in_every_part():
    y = labels_2000()
    split = split_stratified(y, test_share=0.25, validation_share=0.2, seed=3)
    assert split.kind == "stratified"
    assert (len(split.train), len(split.valid), len(split.test)) == (1200, 300, 500)
    for part in (split.train, split.valid, split.test):
        assert abs(y[part].mean() - 0.1) <= 0.02
    everything = np.concatenate([split.train, split.valid, split.test])
    assert len(set(everything)) == len(everything)  # disjoint
    np.testing.assert_array_equal(np.sort(everything), np.arange(2000))  # and covering
    summary = split.summary.set_index("part")
    assert summary["rows"].to_dict() == {"train": 1200, "valid": 300, "test": 500}
    assert summary["positives"].sum() == 200
    assert "cutoffs" not in summary.columns


def test_split_stratified_is_reproducible_by_seed():
    y = labels_2000()
    first, same = (split_stratified(y, 0.25, 0.2, seed=7) for _ in range(2))
    other = split_stratified(y, 0.25, 0.2, seed=8)
    for part in ("train", "valid", "test"):
        np.testing.assert_array_equal(getattr(first, part), getattr(same, part))
    assert not np.array_equal(first.test, other.test)
    assert not np.array_equal(first.valid, other.valid)


def test_split_stratified_needs_four_rows_of_each_class():
    y = np.array([1, 1, 1] + [0] * 40)
    with pytest.raises(IntentError, match=r"label has 3 positive and 40 negative rows.*at least 4"):
        split_stratified(y, 0.25, 0.2, seed=0)
    with pytest.raises(IntentError, match=r"label has 40 positive and 3 negative rows"):
        split_stratified(1 - y, 0.25, 0.2, seed=0)
    split = split_stratified(np.array([1] * 4 + [0] * 40), 0.25, 0.2, seed=0)
    assert split.summary["positives"].sum() == 4


def intent_table(n_cutoffs: int = 4, rows_per: int = 10) -> pd.DataFrame:
    """``rows_per`` users at each of ``n_cutoffs`` weekly cut-offs; every other row bought."""
    n = n_cutoffs * rows_per
    return pd.DataFrame(
        {
            "user_id": np.tile(np.arange(rows_per), n_cutoffs),
            "cutoff": np.repeat([week(k) for k in range(n_cutoffs)], rows_per),
            "visits": np.arange(n, dtype=float),
            "channel": np.where(np.arange(n) % 3 == 0, "app", "web"),
            LABEL: np.arange(n) % 2 == 0,
        }
    )


def test_prepare_data_splits_in_time_when_the_table_has_cutoffs():
    data = prepare_data(intent_table(), params(), embargo_days=7)
    assert data.split.kind == "temporal" and data.split.note == ""
    assert data.split.train.tolist() == list(range(0, 20))
    assert data.split.valid.tolist() == list(range(20, 30))
    assert data.split.test.tolist() == list(range(30, 40))
    assert list(data.X.columns) == ["visits", "channel"]
    assert list(data.raw.columns) == ["visits", "channel"]
    assert list(data.keys.columns) == ["user_id", "cutoff"]
    assert data.skipped == {
        LABEL: "label",
        "cutoff": "time column",
        "user_id": "identifier (id_columns)",
    }
    assert data.y.tolist() == [1, 0] * 20
    X_test, y_test = data.part("test")
    assert X_test.index.tolist() == list(range(30, 40)) and y_test.tolist() == [1, 0] * 5


def test_prepare_data_splits_at_random_without_the_time_column():
    data = prepare_data(intent_table().drop(columns="cutoff"), params(), embargo_days=7)
    assert data.split.kind == "stratified" and data.split.note == ""
    assert (len(data.split.train_valid), len(data.split.test)) == (30, 10)
    assert list(data.keys.columns) == ["user_id"]
    # asked for, a stratified split ignores the time column
    data = prepare_data(intent_table(), params(split={"kind": "stratified"}), embargo_days=7)
    assert data.split.kind == "stratified"


def test_prepare_data_auto_with_too_few_cutoffs_splits_at_random_and_says_why():
    data = prepare_data(intent_table(2), params(), embargo_days=7)
    assert data.split.kind == "stratified"
    assert data.split.note.startswith("stratified because a temporal split is impossible: ")
    assert "time column 'cutoff'" in data.split.note
    assert "found cut-offs ['2024-03-04 00:00:00+00:00', '2024-03-11 00:00:00+00:00']" in (
        data.split.note
    )


def test_prepare_data_temporal_fails_with_too_few_cutoffs_or_without_the_time_column():
    temporal = params(split={"kind": "temporal"})
    with pytest.raises(IntentError, match=r"time column 'cutoff': .*found cut-offs"):
        prepare_data(intent_table(2), temporal, embargo_days=7)
    with pytest.raises(IntentError, match=r"a temporal split needs the time column 'cutoff'"):
        prepare_data(intent_table().drop(columns="cutoff"), temporal, embargo_days=7)


def test_prepare_data_auto_fails_on_a_missing_time_value():
    table = intent_table()
    table.loc[7, "cutoff"] = None
    with pytest.raises(IntentError, match=r"time column 'cutoff': missing .* at row 7"):
        prepare_data(table, params(), embargo_days=7)


def test_prepare_data_fits_the_encoder_on_training_rows_only():
    table = intent_table()
    table.loc[35, "channel"] = "phone"  # a test row
    table.loc[25, "channel"] = "tablet"  # a validation row
    data = prepare_data(table, params(), embargo_days=7)
    assert data.encoder.columns_[1].categories == ("app", "web")
    assert list(data.X["channel"].cat.categories) == ["app", "web"]
    assert data.X["channel"].isna().tolist() == [i in (25, 35) for i in range(40)]
    assert data.raw.loc[35, "channel"] == "phone"  # the raw rows keep the value


def test_prepare_data_names_a_missing_label_column():
    table = intent_table().drop(columns=LABEL)
    with pytest.raises(IntentError, match=rf"label column '{LABEL}' not in the table; columns: "):
        prepare_data(table, params())
    with pytest.raises(IntentError, match=r"label column 'Revenue' not in the table"):
        prepare_data(intent_table(), params(label_column="Revenue"))


def test_prepare_data_needs_both_classes_and_twenty_rows():
    with pytest.raises(IntentError, match=rf"label column '{LABEL}' holds a single class \(1\)"):
        prepare_data(intent_table().assign(**{LABEL: True}), params())
    with pytest.raises(IntentError, match=r"holds a single class \(0\)"):
        prepare_data(intent_table().assign(**{LABEL: "FALSE"}), params())
    with pytest.raises(
        IntentError, match=r"the table has 19 rows; the intent stage needs at least 20"
    ):
        prepare_data(intent_table(1, rows_per=19), params())
    assert len(prepare_data(intent_table(2), params()).y) == 20


# --- 6. calibration ---------------------------------------------------------------------------


def overconfident(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Scores spread over [0, 1] for labels whose true rate is only p / 3."""
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    return p, (rng.random(n) < p / 3).astype(int)


@pytest.mark.parametrize("method", ["sigmoid", "isotonic", "none"])
def test_calibrator_round_trips_through_json(method):
    p, y = overconfident()
    calibrator = Calibrator(method).fit(p, y)
    copy = Calibrator.from_dict(json.loads(json.dumps(calibrator.to_dict())))
    grid = np.linspace(0, 1, 101)
    np.testing.assert_array_equal(copy.transform(grid), calibrator.transform(grid))
    if method == "none":
        np.testing.assert_array_equal(calibrator.transform(grid), grid)
    else:
        # the labels' rate is a third of the score: calibration pulls the top down
        assert calibrator.transform(np.array([0.9]))[0] < 0.6


def test_isotonic_calibration_is_monotone_and_within_0_1():
    p, y = overconfident()
    out = Calibrator("isotonic").fit(p, y).transform(np.linspace(-0.5, 1.5, 401))
    assert np.all(np.diff(out) >= 0)
    assert out.min() >= 0 and out.max() <= 1


def test_sigmoid_calibration_is_increasing():
    p, y = overconfident()
    out = Calibrator("sigmoid").fit(p, y).transform(np.linspace(0.01, 0.99, 50))
    assert np.all(np.diff(out) > 0)


def test_choose_calibration_auto_picks_the_lowest_cross_fitted_brier():
    p, y = overconfident()
    calibrator, table = choose_calibration(p, y, "auto", seed=0)
    assert table["method"].tolist() == ["none", "sigmoid", "isotonic"]
    assert table["chosen"].sum() == 1
    best = table.loc[table["cross_fitted_brier"].idxmin(), "method"]
    assert calibrator.method == best
    assert table.loc[table["chosen"], "method"].item() == best
    assert best != "none"  # the raw scores are far too high
    assert table.set_index("method").loc["none", "cross_fitted_brier"] == pytest.approx(
        np.mean((p - y) ** 2)
    )


def test_choose_calibration_with_a_fixed_method_uses_it():
    p, y = overconfident()
    calibrator, table = choose_calibration(p, y, "none")
    assert calibrator.method == "none"
    np.testing.assert_array_equal(calibrator.transform(p), p)
    assert table.loc[table["chosen"], "method"].item() == "none"
    calibrator, table = choose_calibration(p, y, "isotonic")
    assert calibrator.method == "isotonic"
    assert table.loc[table["chosen"], "method"].item() == "isotonic"


# --- 7. the whole stage on an Online-Shoppers-like session table -----------------------------

VISITORS = ["Returning_Visitor", "New_Visitor", "Other"]
N_SHOP = 600
N_TRIALS = 3


def shoppers(n: int = N_SHOP, seed: int = 0) -> pd.DataFrame:
    """Sessions shaped like the UCI Online Shoppers data; Revenue depends on PageValues."""
    rng = np.random.default_rng(seed)
    page_values = np.where(rng.random(n) < 0.3, rng.lognormal(3.0, 1.0, n), 0.0).round(2)
    buy = rng.random(n) < np.where(page_values > 0, 0.6, 0.04)
    return pd.DataFrame(
        {
            "Administrative": rng.integers(0, 10, n),
            "ProductRelated_Duration": rng.gamma(2.0, 400.0, n).round(1),
            "BounceRates": rng.beta(1, 20, n).round(4),
            "PageValues": page_values,
            "SpecialDay": rng.choice([0.0, 0.2, 0.6, 1.0], n, p=[0.85, 0.05, 0.05, 0.05]),
            "Month": rng.choice(MONTHS, n),
            "VisitorType": rng.choice(VISITORS, n, p=[0.8, 0.15, 0.05]),
            "Weekend": np.where(rng.random(n) < 0.25, "TRUE", "FALSE"),
            "Revenue": np.where(buy, "TRUE", "FALSE"),
        }
    )


@pytest.fixture(scope="module")
def shop_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shoppers")
    shoppers().to_csv(folder / "online_shoppers.csv", index=False)
    table = read_table(folder / "online_shoppers.csv")
    p = IntentParams.from_mapping(
        {
            "label_column": "Revenue",
            "tuning": {
                "n_trials": N_TRIALS,
                "max_rounds": 30,
                "early_stopping_rounds": 10,
                "startup_trials": 2,
                "pruner_warmup_rounds": 5,
                "n_jobs": 1,
                "storage": str(folder / "s.journal"),
            },
        }
    )
    data = prepare_data(table, p)
    study = create_study(data, p, open_storage(p.tuning.storage, folder / "unused.journal"))
    tuning = tune_xgboost(data, p, study)
    final = fit_final_model(data, tuning, p)
    baselines = fit_baselines(data, p)
    evaluation = evaluate_on_test(final, baselines, data, p, tuning)
    return {
        "folder": folder,
        "table": table,
        "params": p,
        "data": data,
        "tuning": tuning,
        "final": final,
        "baselines": baselines,
        "evaluation": evaluation,
    }


def test_shoppers_table_is_read_and_encoded_by_kind(shop_run):
    data = shop_run["data"]
    kinds = {s.name: s.kind for s in data.encoder.columns_}
    assert kinds == {
        "Administrative": "numeric",
        "ProductRelated_Duration": "numeric",
        "BounceRates": "numeric",
        "PageValues": "numeric",
        "SpecialDay": "numeric",
        "Month": "categorical",
        "VisitorType": "categorical",
        "Weekend": "bool",
    }
    categories = {s.name: s.categories for s in data.encoder.columns_}
    assert categories["Month"] == tuple(sorted(MONTHS))
    assert categories["VisitorType"] == ("New_Visitor", "Other", "Returning_Visitor")
    assert set(data.X["Weekend"].unique()) == {0.0, 1.0}
    assert data.split.kind == "stratified"
    assert len(data.split.test) == 150 and len(data.split.train_valid) == 450
    expected = (shoppers()["Revenue"] == "TRUE").to_numpy().astype(int)
    np.testing.assert_array_equal(data.y, expected)


def test_shoppers_tuning_runs_the_requested_trials_and_resumes(shop_run):
    tuning, data, p = shop_run["tuning"], shop_run["data"], shop_run["params"]
    assert tuning.n_finished == N_TRIALS
    assert tuning.new_trials == N_TRIALS and tuning.resumed_trials == 0
    assert 1 <= tuning.best_rounds <= 30
    assert set(tuning.best_params) == set(p.tuning.space.model_dump())
    complete = tuning.trials[tuning.trials["state"] == "COMPLETE"]
    assert tuning.best_value == pytest.approx(complete["value"].min())
    # the same data and settings load the same study: nothing left to run
    again = create_study(data, p, open_storage(p.tuning.storage, shop_run["folder"] / "x"))
    assert again.study_name == tuning.study.study_name
    resumed = tune_xgboost(data, p, again)
    assert resumed.new_trials == 0 and resumed.resumed_trials == N_TRIALS
    assert resumed.best_params == tuning.best_params


def test_shoppers_test_metrics(shop_run):
    metrics = shop_run["evaluation"].metrics
    assert metrics["test_roc_auc"] > 0.7
    assert metrics["n_trials"] == N_TRIALS
    assert metrics["train_rows"] + metrics["test_rows"] == N_SHOP
    assert 0 < metrics["threshold"] < 1
    assert metrics["threshold"] == shop_run["final"].model.threshold
    assert metrics["calibration"] in ("none", "sigmoid", "isotonic")
    assert metrics["features"] == 8
    data = shop_run["data"]
    assert metrics["test_positive_rate"] == pytest.approx(data.y[data.split.test].mean())
    assert metrics["baseline_prior_roc_auc"] == pytest.approx(0.5)
    comparison = shop_run["evaluation"].comparison
    assert comparison["model"].tolist() == ["xgboost_tuned", "prior", "logreg", "xgb_default"]
    assert shop_run["evaluation"].curves["gains"]["gain"].iloc[-1] == 1.0


def test_shoppers_model_predicts_raw_string_rows_and_survives_save_and_load(shop_run, tmp_path):
    model: IntentModel = shop_run["final"].model
    data = shop_run["data"]
    raw = data.raw.iloc[data.split.test]
    p = model.predict_proba(raw)
    # the same rows as a client might send them: every value a string
    as_text = raw.astype(str)
    assert as_text["Weekend"].isin(["True", "False"]).all()
    out = model.predict(as_text)
    assert list(out.columns) == ["purchase_probability", "purchase_intent"]
    assert out["purchase_intent"].dtype == bool
    assert out["purchase_probability"].between(0, 1).all()
    np.testing.assert_allclose(out["purchase_probability"], p)
    assert (out["purchase_intent"] == (p >= model.threshold)).all()
    assert out.index.equals(raw.index)
    # an unseen month is read as missing
    odd = model.predict(as_text.iloc[:3].assign(Month="Jan"))
    assert odd["purchase_probability"].between(0, 1).all()
    files = model.save(tmp_path / "model")
    loaded = IntentModel.load(files["booster"], files["config"])
    np.testing.assert_array_equal(loaded.predict_proba(raw), p)
    assert loaded.threshold == model.threshold
    assert loaded.feature_names == model.feature_names
    with pytest.raises(
        IntentError, match=re.escape("lacks required feature column(s) ['PageValues']")
    ):
        loaded.predict(raw.drop(columns="PageValues"))


# --- 8. registry aliases ----------------------------------------------------------------------


def alias(client, name: str, which: str) -> str:
    return str(client.get_model_version_by_alias(name, which).version)


def new_version(client, name: str, source) -> str:
    return str(client.create_model_version(name, source=str(source), run_id=None).version)


def test_promote_if_better_moves_champion_only_to_a_better_version(mlflow_tmp, tmp_path):
    from mlflow import MlflowClient

    client, name = MlflowClient(), "t-intent"
    client.create_registered_model(name)
    v1 = new_version(client, name, tmp_path)
    asked: list[str] = []

    def champion_scores(value: float):
        def score(uri: str) -> float:
            asked.append(uri)
            return value

        return score

    first = promote_if_better(client, name, v1, "test_pr_auc", 0.50, champion_scores(0.0))
    assert (first.alias, first.reason, first.champion_version) == (
        "champion",
        "no champion yet",
        None,
    )
    assert asked == []  # nothing to re-score
    assert alias(client, name, "champion") == v1
    assert first.as_tags()["registry.alias"] == "champion"
    again = promote_if_better(client, name, v1, "test_pr_auc", 0.50, champion_scores(0.0))
    assert (again.alias, again.reason) == ("champion", "already the champion")

    v2 = new_version(client, name, tmp_path)
    better = promote_if_better(client, name, v2, "test_pr_auc", 0.70, champion_scores(0.60))
    assert asked == [f"models:/{name}/{v1}"]
    assert better.alias == "champion"
    assert (better.champion_version, better.champion_value) == (v1, 0.60)
    assert "beats champion v1's 0.6000" in better.reason
    assert alias(client, name, "champion") == v2

    v3 = new_version(client, name, tmp_path)
    worse = promote_if_better(client, name, v3, "test_pr_auc", 0.55, champion_scores(0.70))
    assert worse.alias == "challenger"
    assert "does not beat champion v2's 0.7000" in worse.reason
    assert alias(client, name, "champion") == v2
    assert alias(client, name, "challenger") == v3

    v4 = new_version(client, name, tmp_path)
    tie = promote_if_better(client, name, v4, "test_pr_auc", 0.70, champion_scores(0.70))
    assert tie.alias == "challenger"  # a tie does not move the champion
    assert alias(client, name, "champion") == v2 and alias(client, name, "challenger") == v4

    tags = client.get_model_version(name, v3).tags
    assert tags["primary_metric"] == "test_pr_auc"
    assert tags["test_pr_auc"] == "0.550000"
    assert tags["decision"] == worse.reason


def test_promote_if_better_with_log_loss_lower_wins(mlflow_tmp, tmp_path):
    from mlflow import MlflowClient

    client, name = MlflowClient(), "t-intent-ll"
    client.create_registered_model(name)
    v1 = new_version(client, name, tmp_path)
    promote_if_better(client, name, v1, "test_log_loss", 0.40, lambda uri: 0.0, False)
    v2 = new_version(client, name, tmp_path)
    lower = promote_if_better(client, name, v2, "test_log_loss", 0.35, lambda uri: 0.40, False)
    assert lower.alias == "champion" and alias(client, name, "champion") == v2
    v3 = new_version(client, name, tmp_path)
    higher = promote_if_better(client, name, v3, "test_log_loss", 0.50, lambda uri: 0.35, False)
    assert higher.alias == "challenger"
    assert alias(client, name, "champion") == v2 and alias(client, name, "challenger") == v3


def test_promote_if_better_makes_a_challenger_when_the_champion_cannot_score(mlflow_tmp, tmp_path):
    from mlflow import MlflowClient

    client, name = MlflowClient(), "t-intent-schema"
    client.create_registered_model(name)
    v1 = new_version(client, name, tmp_path)
    promote_if_better(client, name, v1, "test_pr_auc", 0.1, lambda uri: 0.0)
    v2 = new_version(client, name, tmp_path)

    def cannot_score(uri: str) -> float:
        raise IntentError("input lacks feature column(s) ['old_feature']")

    decision = promote_if_better(client, name, v2, "test_pr_auc", 0.9, cannot_score)
    assert decision.alias == "challenger"
    assert decision.champion_value is None
    assert "champion v1 could not score this test data (IntentError" in decision.reason
    assert "old_feature" in decision.reason
    assert alias(client, name, "champion") == v1
    assert alias(client, name, "challenger") == v2


# --- 9. parameters ----------------------------------------------------------------------------


def test_default_params_equal_params_intent_yaml():
    from_file = IntentParams.from_yaml(project_paths().params_file("intent"))
    assert from_file == IntentParams()
    assert IntentParams().label_column == LABEL
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


def test_float_block_reads_absent_columns_as_missing_and_names_a_column_that_is_not_numeric():
    from personalab.intent import float_block

    frame = pd.DataFrame({"a": [1.0, np.nan], "b": ["x", "2"], "c": [2, 3]})
    np.testing.assert_array_equal(
        float_block(frame, ["c", "zz", "a"]), [[2, np.nan, 1], [3, np.nan, np.nan]]
    )
    with pytest.raises(IntentError, match="column 'b': could not convert string to float: 'x'"):
        float_block(frame, ["a", "b"])
