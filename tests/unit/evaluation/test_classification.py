"""Unit tests of personalab.evaluation.classification, against hand-computed values and
scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest

from personalab.evaluation import EvaluationError
from personalab.evaluation.classification import (
    choose_threshold,
    classification_report,
    expected_calibration_error,
    gains_table,
    higher_is_better,
    metric_value,
    reliability_table,
    top_share_metrics,
)

# --- metrics -------------------------------------------------------------------------------


def test_reliability_table_and_ece_by_hand():
    p, y = np.array([0.05, 0.15, 0.15, 0.95]), np.array([0, 0, 1, 1])
    table = reliability_table(y, p, bins=10)
    assert table["bin"].tolist() == [0, 1, 9]
    assert table["rows"].tolist() == [1, 2, 1]
    np.testing.assert_allclose(table["mean_predicted"], [0.05, 0.15, 0.95])
    np.testing.assert_allclose(table["positive_rate"], [0.0, 0.5, 1.0])
    by_hand = 0.25 * 0.05 + 0.5 * abs(0.15 - 0.5) + 0.25 * abs(0.95 - 1)
    assert by_hand == pytest.approx(0.2)
    assert expected_calibration_error(y, p, bins=10) == pytest.approx(by_hand)
    # perfectly calibrated: every bin's mean probability is its positive rate
    assert expected_calibration_error(np.array([1, 0, 0, 0]), np.full(4, 0.25)) == 0.0


def test_a_probability_of_exactly_one_falls_in_the_last_bin():
    p, y = np.array([1.0, 0.0, 0.9]), np.array([1, 0, 1])
    table = reliability_table(y, p, bins=10)
    assert table["bin"].tolist() == [0, 9]
    assert table["rows"].tolist() == [1, 2]
    np.testing.assert_allclose(table["mean_predicted"], [0.0, 0.95])
    assert expected_calibration_error(y, p, bins=10) == pytest.approx(2 / 3 * 0.05)
    assert reliability_table(y, p, bins=4)["bin"].tolist() == [0, 3]


#: sorted by score: the positives are the 1st, 3rd and 9th highest of 10 (overall rate 0.3)
Y10 = np.array([1, 0, 1, 0, 0, 0, 0, 0, 1, 0])
P10 = np.array([0.95, 0.85, 0.75, 0.65, 0.55, 0.45, 0.35, 0.25, 0.15, 0.05])


@pytest.mark.parametrize(
    ("share", "lift", "gain"),
    [
        (0.1, (1 / 1) / 0.3, 1 / 3),
        (0.05, (1 / 1) / 0.3, 1 / 3),  # at least one row
        (0.2, (1 / 2) / 0.3, 1 / 3),
        (0.25, (2 / 3) / 0.3, 2 / 3),  # 2.5 rows round up to 3
        (0.3, (2 / 3) / 0.3, 2 / 3),
        (0.5, (2 / 5) / 0.3, 2 / 3),
        (0.9, (3 / 9) / 0.3, 1.0),
    ],
)
def test_top_share_metrics_by_hand(share, lift, gain):
    assert top_share_metrics(Y10, P10, share) == pytest.approx((lift, gain))


def test_top_share_metrics_ignore_row_order_and_are_nan_without_positives():
    order = np.random.default_rng(0).permutation(10)
    assert top_share_metrics(Y10[order], P10[order], 0.3) == pytest.approx((2 / 0.9, 2 / 3))
    lift, gain = top_share_metrics(np.zeros(10), P10, 0.3)
    assert np.isnan(lift) and np.isnan(gain)


def test_top_share_metrics_take_exactly_share_times_rows():
    p = np.linspace(1.0, 0.01, 100)
    y = np.zeros(100)
    y[[7, 49]] = 1  # the 8th and 50th highest scores
    # the top 7 of 100 rows hold no positive
    assert top_share_metrics(y, p, 0.07) == (0.0, 0.0)


def test_gains_table_by_hand_and_ends_at_one():
    table = gains_table(Y10, P10, points=10)
    np.testing.assert_allclose(table["top_share"], np.arange(1, 11) / 10)
    np.testing.assert_allclose(table["gain"], np.array([1, 1, 2, 2, 2, 2, 2, 2, 3, 3]) / 3)
    assert table["gain"].iloc[-1] == 1.0
    assert table["lift"].iloc[-1] == pytest.approx(1.0)
    assert table["lift"].iloc[0] == pytest.approx((1 / 3) / 0.1)
    rng = np.random.default_rng(2)
    big = gains_table(rng.integers(0, 2, 333), rng.random(333))
    assert len(big) == 100
    assert big["gain"].iloc[-1] == 1.0 and big["top_share"].iloc[-1] == 1.0
    assert big["gain"].is_monotonic_increasing


def test_gains_table_share_covers_exactly_share_times_rows():
    p = np.linspace(1.0, 0.01, 100)
    y = np.zeros(100)
    y[[6, 99]] = 1  # the 7th highest score and the lowest
    table = gains_table(y, p)
    assert table["top_share"].iloc[5] == pytest.approx(0.06)
    assert table["gain"].iloc[5] == 0.0  # the top 6 rows hold no positive
    # with 100 rows the share k / 100 is exactly the top k rows
    np.testing.assert_array_equal(table["gain"], np.cumsum(y) / 2)


#: per threshold (precision, recall, F1): 0.1 (0.5, 1, .667), 0.2 (0.6, 1, .75),
#: 0.3 (0.75, 1, .857), 0.4 (.667, .667, .667), 0.6 (1, .667, .8), 0.8 (1, .333, .5)
Y_T = np.array([0, 0, 1, 0, 1, 1])
P_T = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.8])


def test_choose_threshold_best_f1_by_hand():
    assert choose_threshold(Y_T, P_T, "f1") == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("target", "expected"), [(0.5, 0.1), (0.6, 0.2), (0.7, 0.3), (0.8, 0.6), (1.0, 0.6)]
)
def test_choose_threshold_lowest_reaching_the_target_precision(target, expected):
    # 0.4 has precision 2/3 < 0.7: the answer for 0.8 skips past it to 0.6
    assert choose_threshold(Y_T, P_T, "precision", target) == pytest.approx(expected)


def test_choose_threshold_names_an_unreachable_target_precision():
    y, p = np.array([1, 0, 1, 0]), np.array([0.1, 0.9, 0.2, 0.8])  # best precision 0.5
    with pytest.raises(EvaluationError, match=r"target_precision 0.6: .*best precision 0.500"):
        choose_threshold(y, p, "precision", 0.6)


def test_classification_report_matches_sklearn():
    from sklearn import metrics as m

    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300)
    p = np.clip(0.3 * y + rng.random(300) * 0.7, 0, 1)
    report = classification_report(y, p, threshold=0.5, bins=10, top_share=0.1)
    hard = (p >= 0.5).astype(int)
    assert report["roc_auc"] == pytest.approx(m.roc_auc_score(y, p))
    assert report["pr_auc"] == pytest.approx(m.average_precision_score(y, p))
    assert report["log_loss"] == pytest.approx(m.log_loss(y, p))
    assert report["brier"] == pytest.approx(m.brier_score_loss(y, p))
    assert report["f1"] == pytest.approx(m.f1_score(y, hard))
    assert report["precision"] == pytest.approx(m.precision_score(y, hard))
    assert report["recall"] == pytest.approx(m.recall_score(y, hard))
    assert report["ece"] == pytest.approx(expected_calibration_error(y, p, 10))
    assert (report["lift_at_top"], report["gains_at_top"]) == pytest.approx(
        top_share_metrics(y, p, 0.1)
    )


def test_classification_report_clips_probabilities_of_0_and_1():
    report = classification_report(np.array([0, 1]), np.array([1.0, 0.0]), threshold=0.5)
    assert np.isfinite(report["log_loss"]) and report["log_loss"] > 10
    assert report["f1"] == 0.0 and report["precision"] == 0.0


def test_metric_value_and_direction():
    from sklearn import metrics as m

    y, p = np.array([0, 1, 1, 0, 1]), np.array([0.2, 0.7, 0.4, 0.5, 0.9])
    assert metric_value("test_roc_auc", y, p) == pytest.approx(m.roc_auc_score(y, p))
    assert metric_value("test_pr_auc", y, p) == pytest.approx(m.average_precision_score(y, p))
    assert metric_value("test_log_loss", y, p) == pytest.approx(m.log_loss(y, p))
    assert metric_value("test_brier", y, p) == pytest.approx(m.brier_score_loss(y, p))
    assert higher_is_better("test_roc_auc") and higher_is_better("test_pr_auc")
    assert higher_is_better("auc") and higher_is_better("aucpr")
    for lower in ("test_log_loss", "test_brier", "logloss", "ece"):
        assert not higher_is_better(lower)
