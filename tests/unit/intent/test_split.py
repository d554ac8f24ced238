"""Temporal and stratified splits and the prepared data (personalab.intent.split)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personalab.features.schema import LABEL
from personalab.intent.params import IntentError
from personalab.intent.split import prepare_data, split_stratified, split_temporal
from personalab.intent.target import UnlearnableTargetError
from tests.unit.intent.helpers import T0, params, week


def weekly(n_cutoffs: int, rows_per: int = 5) -> tuple[pd.Series, np.ndarray]:
    """``rows_per`` rows at each of ``n_cutoffs`` weekly cut-offs, and an alternating label."""
    times = pd.Series(
        np.repeat([T0 + pd.Timedelta(weeks=k) for k in range(n_cutoffs)], rows_per), name="cutoff"
    )
    return times, (np.arange(len(times)) % 2).astype(np.int8)


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


def test_split_stratified_needs_three_rows_of_each_class_one_per_part():
    y = np.array([1, 1] + [0] * 40)
    with pytest.raises(
        UnlearnableTargetError, match=r"label has 2 positive and 40 negative rows.*at least 3"
    ):
        split_stratified(y, 0.25, 0.2, seed=0)
    with pytest.raises(UnlearnableTargetError, match=r"label has 40 positive and 2 negative rows"):
        split_stratified(1 - y, 0.25, 0.2, seed=0)
    for positives in (3, 4, 9):
        y = np.array([1] * positives + [0] * 40)
        split = split_stratified(y, 0.25, 0.2, seed=0)
        summary = split.summary.set_index("part")
        assert summary["positives"].sum() == positives
        assert (summary["positives"] >= 1).all(), positives  # each part holds a positive
        assert summary["rows"].sum() == len(y)
        everything = np.concatenate([split.train, split.valid, split.test])
        np.testing.assert_array_equal(np.sort(everything), np.arange(len(y)))
    # the few positives are dealt out by the shares: 9 -> 2 test, 1 validation (of 7), 6 train
    assert summary["positives"].to_dict() == {"train": 6, "valid": 1, "test": 2}
    assert summary.loc["test", "rows"] == 2 + 10 and summary.loc["valid", "rows"] == 1 + 6


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
    with pytest.raises(
        UnlearnableTargetError, match=rf"label column '{LABEL}' holds a single class \(1\)"
    ):
        prepare_data(intent_table().assign(**{LABEL: True}), params())
    with pytest.raises(UnlearnableTargetError, match=r"holds a single class \(0\): no purchase"):
        prepare_data(intent_table().assign(**{LABEL: "FALSE"}), params())
    with pytest.raises(
        UnlearnableTargetError, match=r"the table has 19 rows; the intent stage needs at least 20"
    ):
        prepare_data(intent_table(1, rows_per=19), params())
    assert len(prepare_data(intent_table(2), params()).y) == 20


def test_split_temporal_names_hourly_cutoffs_with_their_time():
    times = pd.Series(np.repeat(T0 + pd.to_timedelta([0, 1, 2, 3], unit="h"), 5), name="cutoff")
    split = split_temporal(times, (np.arange(20) % 2).astype(np.int8), embargo_days=1 / 24)
    assert split.summary["cutoffs"].tolist() == [
        "2024-03-04 00:00, 2024-03-04 01:00", "2024-03-04 02:00", "2024-03-04 03:00"
    ]  # fmt: skip


def test_features_missing_by_definition_are_optional_though_training_has_them_all():
    # a small log: every training user viewed something, so dwell_mean has no gap in training,
    # yet a served user without a view has none (and a device share needs a known device)
    table = intent_table().assign(
        dwell_mean=np.linspace(1, 9, 40), device_share_app=0.5, orders_total=np.arange(40)
    )
    data = prepare_data(table, params(), embargo_days=7)
    optional = {spec.name: spec.optional for spec in data.encoder.columns_}
    assert optional == {
        "visits": False,
        "channel": False,
        "dwell_mean": True,
        "device_share_app": True,
        "orders_total": False,
    }
