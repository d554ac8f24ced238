"""A handful of positives never crashes the stage: tuning, calibration, threshold, baselines,
evaluation, SHAP explanations, plots and outputs all run on 400 rows with 3 positives in
validation and 2 in test, or 1 and 1 (tiny tuning: a few trials of at most 20 rounds)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import pytest

from personalab.core.paths import project_paths
from personalab.core.status import StageStatus
from personalab.evaluation._base import EvaluationError
from personalab.evaluation.classification import classification_report
from personalab.intent.baselines import fit_baselines
from personalab.intent.evaluate import evaluate_on_test
from personalab.intent.explain import explain_rows, mean_abs_shap
from personalab.intent.final import _threshold, fit_final_model
from personalab.intent.io import IntentInputs, open_storage, save_intent
from personalab.intent.plots import plot_evaluation, plot_shap_summary, plot_tuning
from personalab.intent.split import prepare_stage
from personalab.intent.study import create_study
from personalab.intent.target import resolve_target
from personalab.intent.tune import parameter_importance, tune_xgboost
from tests.unit.intent.helpers import FEW, few_positives_table, params

matplotlib.use("Agg")

TINY_TUNING = {
    "n_trials": 2, "max_rounds": 20, "early_stopping_rounds": 5, "startup_trials": 1,
    "pruner_warmup_rounds": 2, "n_jobs": 1,
}  # fmt: skip


def run_stage(tmp_path, positives: dict[str, int], **values):
    """The notebook's steps on a few-positives table; everything they return."""
    import matplotlib.pyplot as plt

    tuning_params = TINY_TUNING | {"storage": str(tmp_path / "study.journal")}
    p = params(tuning=tuning_params, **values)
    table = few_positives_table(positives)
    inputs = IntentInputs(table, resolve_target(table, p, 7.0), 7.0, source="features.parquet")
    status = StageStatus("intent")
    data = prepare_stage(inputs, p, status)
    study = create_study(data, p, open_storage(p.tuning.storage, tmp_path / "unused.journal"))
    tuning = tune_xgboost(data, p, study)
    importance = parameter_importance(study)
    final = fit_final_model(data, tuning, p, status)
    baselines = fit_baselines(data, p)
    evaluation = evaluate_on_test(final, baselines, data, p, tuning)
    test_raw = data.raw.iloc[data.split.test]
    contributions = final.model.contributions(test_raw)
    shap_importance = mean_abs_shap(contributions)
    explained = explain_rows(
        contributions, test_raw, evaluation.probabilities, data.keys.iloc[data.split.test]
    )
    figures = [
        plot_tuning(tuning.trials, importance, p.tuning.metric, True),
        plot_evaluation(evaluation.curves, evaluation.metrics),
        plot_shap_summary(contributions, data.X.iloc[data.split.test]),
    ]
    for fig in figures:
        plt.close(fig)
    return SimpleNamespace(
        params=p, status=status, data=data, tuning=tuning, importance=importance, final=final,
        evaluation=evaluation, shap=shap_importance, explained=explained,
    )  # fmt: skip


@pytest.fixture(scope="module")
def three_and_two(tmp_path_factory):
    return run_stage(tmp_path_factory.mktemp("few"), FEW)


def test_three_validation_and_two_test_positives_run_through(three_and_two, tmp_path):
    run = three_and_two
    assert run.data.split.summary["positives"].tolist() == [6, 3, 2]
    assert run.tuning.n_finished == 2
    # both calibrating methods can run on 3 validation positives: nothing is left out
    assert run.status.status == "complete"
    assert not run.final.calibration["unavailable"].any()
    assert np.isfinite(run.final.calibration["cross_fitted_brier"]).all()
    metrics = run.evaluation.metrics
    assert metrics["test_positive_rate"] == pytest.approx(0.02)
    assert 0 <= metrics["test_roc_auc"] <= 1 and 0 < metrics["test_pr_auc"] <= 1
    assert 0 < metrics["threshold"] <= 1
    assert metrics["label"] == "purchased_within_horizon"
    assert metrics["target_event"] == "purchase" and metrics["horizon_days"] == 7.0
    assert run.evaluation.comparison["model"].tolist() == [
        "xgboost_tuned", "prior", "logreg", "xgb_default"
    ]  # fmt: skip
    assert np.isfinite(run.evaluation.comparison["roc_auc"]).all()
    assert set(run.shap["feature"]) == {"signal", "noise", "channel", "member"}
    assert run.shap.iloc[0]["feature"] == "signal"  # the one feature that carries the label
    assert len(run.explained) == 5 and run.explained["probability"].between(0, 1).all()


def test_the_outputs_of_a_few_positives_run_are_written(three_and_two, tmp_path):
    run = three_and_two
    paths = project_paths(tmp_path)
    written = save_intent(
        run.final, run.evaluation, run.tuning, run.importance, run.shap, run.data, paths,
        run.status,
    )  # fmt: skip
    assert (written["model"] / "MLmodel").is_file()
    metrics = json.loads(written["metrics"].read_text())
    assert metrics["status"] == "complete" and len(metrics["notes"]) == 2
    assert metrics["target_event"] == "purchase"
    roc = pd.read_csv(written["roc"])
    assert list(roc.columns) == ["fpr", "tpr"] and len(roc) > 2
    assert len(pd.read_csv(written["shap"])) == 4


@pytest.mark.parametrize("calibration", ["auto", "none", "isotonic"])
def test_one_positive_in_validation_and_test_leaves_calibration_out(tmp_path, calibration):
    run = run_stage(tmp_path, {"train": 4, "valid": 1, "test": 1}, calibration=calibration)
    table = run.final.calibration.set_index("method")
    assert run.final.model.calibrator.method == "none"
    assert table.loc["none", "chosen"] and np.isnan(table.loc["sigmoid", "cross_fitted_brier"])
    assert table.loc["isotonic", "unavailable"] == (
        "validation holds 1 positive and 99 negative row(s); isotonic calibration needs at "
        "least 2 of each"
    )
    left_out = [line for line in run.status.lines() if line.startswith("left out")]
    expected = {
        "auto": ["sigmoid calibration", "isotonic calibration"],
        "none": [],  # nothing asked for was left out
        "isotonic": ["isotonic calibration"],
    }[calibration]
    assert [line.split(": ")[1] for line in left_out] == expected
    assert run.status.status == ("complete" if calibration == "none" else "partial")
    assert np.isfinite(run.evaluation.metrics["test_roc_auc"])
    assert run.evaluation.metrics["test_positive_rate"] == pytest.approx(0.01)


def test_a_target_precision_no_threshold_reaches_falls_back_to_best_f1():
    y = np.array([0, 1, 0, 1, 0, 0])
    p = np.array([0.9, 0.8, 0.1, 0.2, 0.05, 0.3])  # the top score is a negative: precision < 1
    strict = params(threshold={"rule": "precision", "target_precision": 1.0})
    status = StageStatus("intent")
    assert _threshold(y, p, strict, status) == 0.2  # best F1 (2/3): both found at precision 1/2
    assert status.lines() == [
        "warning: threshold.target_precision 1.0: no threshold reaches it on validation (best "
        "precision 0.500); lower the target or use rule f1; the threshold is the best-F1 one "
        "instead"
    ]
    with pytest.raises(EvaluationError, match="no threshold reaches it"):
        _threshold(y, p, strict, None)  # without a status to note it on, the error stands


def test_a_report_on_one_class_has_no_ranking_metrics_and_no_error():
    y, p = np.zeros(10, dtype=int), np.linspace(0.1, 0.9, 10)
    report = classification_report(y, p, threshold=0.5)
    assert np.isnan(report["roc_auc"]) and np.isnan(report["pr_auc"])
    assert report["brier"] == pytest.approx(np.mean(p**2))
    assert report["precision"] == 0.0
