"""The intent stage says so when its tuned model does not beat a simple baseline on the test
rows (with a bootstrap interval, so noise is told from a real loss), or is near chance."""

from types import SimpleNamespace

import numpy as np
import pandas as pd

from personalab.core.status import StageStatus
from personalab.intent.baselines import BaselineScores
from personalab.intent.choice import baseline_gaps, choose_served
from personalab.intent.evaluate import HoldoutEvaluation
from personalab.intent.params import TUNED


def warnings_for(model: np.ndarray, baselines: dict[str, np.ndarray], y: np.ndarray) -> list[str]:
    """What the stage says when no baseline beats the tuned model beyond noise (it stays the
    served one: :func:`choose_served` gives back what it was given)."""
    data = SimpleNamespace(y=y, split=SimpleNamespace(test=np.arange(y.size)))
    evaluation = HoldoutEvaluation({}, model, {}, pd.DataFrame())
    status, final = StageStatus("intent"), SimpleNamespace(name=TUNED)
    params = SimpleNamespace(seed=1)
    served = choose_served(final, evaluation, BaselineScores(baselines), data, params, None, status)
    assert served == (final, evaluation)
    assert status.status == "complete"  # warnings, not parts left out
    return [note["message"] for note in status.notes]


def test_a_model_that_beats_every_baseline_says_nothing():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    model = y + rng.normal(0, 0.5, y.size)  # AUC about 0.92
    weak = y + rng.normal(0, 2.0, y.size)
    assert warnings_for(model, {"prior": np.full(y.size, 0.5), "logreg": weak}, y) == []


def test_a_clear_loss_to_logistic_regression_is_beyond_noise():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    model, strong = y + rng.normal(0, 2.0, y.size), y + rng.normal(0, 0.5, y.size)
    data = SimpleNamespace(y=y, split=SimpleNamespace(test=np.arange(y.size)))
    evaluation = HoldoutEvaluation({}, model, {}, pd.DataFrame())
    (gap,) = baseline_gaps(evaluation, BaselineScores({"logreg": strong}), data, seed=1)
    assert gap.beyond_noise and gap.name == "logreg"
    assert 0.6 < gap.model_auc < 0.7 and gap.base_auc > 0.9
    assert gap.how.endswith("over 2,000 test rows: the baseline is better beyond noise")


def test_a_small_loss_is_within_noise_and_near_chance_is_said():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    model = rng.normal(0, 1.0, y.size)  # no signal: AUC 0.546 by chance
    base = model + rng.normal(0, 0.7, y.size)  # 0.561, as much by chance
    said = warnings_for(model, {"xgb_default": base}, y)
    assert len(said) == 2
    assert "below the default XGBoost baseline's" in said[0] and "within noise" in said[0]
    assert said[0].endswith(
        "the tuned model stays the one served, so compare "
        "reports/intent/comparison.csv before relying on it"
    )
    assert "barely better than chance (0.5)" in said[1]
    assert "does not gate the personalise rule on it (personalise.min_intent_roc_auc" in said[1]


def test_the_export_gate_defaults_to_the_intent_stages_near_chance_line():
    from personalab.evaluation.classification import NEAR_CHANCE_AUC
    from personalab.export.params import PersonaliseParams

    assert PersonaliseParams().min_intent_roc_auc == NEAR_CHANCE_AUC


def test_one_class_in_the_test_rows_says_nothing():
    y = np.zeros(50, dtype=int)
    assert warnings_for(np.linspace(0, 1, 50), {"logreg": np.linspace(1, 0, 50)}, y) == []


def test_a_model_worse_than_chance_is_said_to_be_no_better():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    (said,) = warnings_for(-(y + rng.normal(0, 1.0, y.size)), {}, y)  # AUC about 0.24
    assert said.startswith("the tuned model's test ROC AUC 0.2")
    assert "is no better than chance (0.5)" in said


def calibration_warnings(p: np.ndarray, y: np.ndarray, valid_y: np.ndarray) -> list[str]:
    """What :func:`warn_miscalibrated` says for test probabilities ``p``; validation rows
    ``valid_y`` come first in ``data.y``, then the test rows."""
    from personalab.evaluation.classification import expected_calibration_error
    from personalab.intent.evaluate import warn_miscalibrated

    every = np.concatenate([valid_y, y])
    split = SimpleNamespace(valid=np.arange(valid_y.size), test=valid_y.size + np.arange(y.size))
    metrics = {"test_ece": expected_calibration_error(y, p, 10), "threshold": 0.12}
    status = StageStatus("intent")
    warn_miscalibrated(
        HoldoutEvaluation(metrics, p, {}, pd.DataFrame()),
        SimpleNamespace(y=every, split=split),
        status,
    )
    return [note["message"] for note in status.notes]


def test_calibrated_test_probabilities_say_nothing():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.3, 5000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    assert calibration_warnings(p, y, y[:1000]) == []


def test_probabilities_off_after_the_positive_rate_moved_are_said():
    """H&M transactions: validated at a positive rate of 0.08, tested at 0.047; the test ECE was
    0.143 and 79% of the test users were over the threshold, with no word of it."""
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 0.1, 4000)  # test: rate about 0.05
    y = (rng.uniform(size=truth.size) < truth).astype(int)
    p = truth + 0.14  # calibrated where the rate was 0.19
    valid_y = (rng.uniform(size=1000) < 0.19).astype(int)
    (said,) = calibration_warnings(p, y, valid_y)
    assert said.startswith("the tuned model's test probabilities are off: they average 0.19")
    assert "(ECE 0.14" in said and "100% of the test rows are over the threshold 0.120" in said
    assert "the positive rate moved from 0.191 on validation" in said and "to 0.048 on test" in said
    assert "as a ranking (ROC AUC, lift), not as probabilities" in said


def test_a_rare_target_predicted_three_times_too_often_is_said_without_a_move():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 0.04, 5000)  # rate about 0.02: an ECE of 0.04 stays under 0.05
    y = (rng.uniform(size=truth.size) < truth).astype(int)
    (said,) = calibration_warnings(truth * 3, y, y[:2000])
    assert "they average 0.06" in said and "moved" not in said


def test_a_test_part_with_one_positive_gives_no_interval_and_no_calibration_verdict():
    """Olist (one row per order unit, de-duplicated): one positive in 1,430 test rows gave a
    narrow bootstrap interval, "the baseline is better beyond noise", and a calibration warning
    held to a positive rate of 0.001."""
    rng = np.random.default_rng(0)
    y = np.zeros(1430, dtype=int)
    y[700] = 1
    model, strong = rng.uniform(size=y.size), rng.uniform(size=y.size)
    model[700], strong[700] = 0.3, 0.9  # the model ranks the one buyer low, logreg high
    (said,) = warnings_for(model, {"logreg": strong}, y)[:1]
    assert (
        "(difference -" in said and "1 positive test row(s): too few to tell it from noise" in said
    )
    assert "bootstrap" not in said
    p = np.full(y.size, 0.002)
    assert calibration_warnings(p, y, y[:100]) == []
