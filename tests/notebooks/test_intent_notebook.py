"""Run notebooks/04_intent.ipynb through papermill with n_trials=3, after ingest and features."""

import json
import subprocess

import pandas as pd
import pytest

from personalab.core.paths import project_paths
from personalab.core.registry import current_lineage
from tests.conftest import attach_notebook, run_notebook, stage_runs, tool_env

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

REQUIRED = (
    "test_roc_auc", "test_pr_auc", "test_log_loss", "test_brier", "test_f1", "threshold", "ece",
    "n_trials", "n_pruned", "best_trial_value", "baseline_logreg_roc_auc",
    "baseline_xgb_default_roc_auc", "oracle_roc_auc", "train_rows", "test_rows", "positive_rate",
)  # fmt: skip


def test_intent_notebook_tunes_evaluates_and_registers(pipeline_copy):
    root = pipeline_copy
    done = run_notebook(root, "intent")
    assert done.returncode == 0, done.stderr[-3000:]
    assert attach_notebook(root, "intent").returncode == 0

    metrics = json.loads((root / "reports/metrics/intent.json").read_text())
    assert set(REQUIRED) <= set(metrics), set(REQUIRED) - set(metrics)
    assert metrics["n_trials"] == 3
    features = pd.read_parquet(root / "data/processed/features.parquet")
    last = features["cutoff"] == features["cutoff"].max()
    assert metrics["test_rows"] == last.sum()  # temporal: the test part is the last cut-off
    assert metrics["train_rows"] + metrics["test_rows"] <= len(features)
    assert 0.5 < metrics["test_roc_auc"] <= 1 and 0.5 < metrics["oracle_roc_auc"] <= 1
    assert 0 < metrics["threshold"] < 1
    for name in ("roc", "precision_recall", "calibration", "gains", "optimisation_history"):
        assert len(pd.read_csv(root / f"reports/plots/intent/{name}.csv")) > 0, name
    for name in ("tuning", "evaluation", "shap"):
        assert (root / f"reports/figures/intent/{name}.png").stat().st_size > 10_000

    client, parent, children = stage_runs(root, "intent")
    assert len(children) == 3
    assert all(
        "valid_logloss" in c.data.metrics for c in children if c.data.params["state"] == "COMPLETE"
    )
    assert "best.learning_rate" in parent.data.params
    assert parent.data.metrics["test_roc_auc"] == pytest.approx(metrics["test_roc_auc"])
    assert parent.data.tags["registry.alias"] == "champion"  # the first version
    champion = client.get_model_version_by_alias("personalab-intent", "champion")
    assert str(champion.version) == "1" and champion.tags["primary_metric"] == "test_pr_auc"
    lineage = current_lineage(project_paths(root))  # of the tiny synthetic source
    assert champion.tags["lineage"] == lineage.key == parent.data.tags["registry.lineage"]
    of_lineage = client.get_model_version_by_alias("personalab-intent", lineage.alias("champion"))
    assert str(of_lineage.version) == "1"

    # the served model loads in a fresh process from the registry and scores raw rows
    check = (
        "import mlflow.pyfunc, pandas as pd\n"
        "m = mlflow.pyfunc.load_model('models:/personalab-intent@champion')\n"
        "t = pd.read_parquet('data/processed/features.parquet')\n"
        "cols = m.metadata.get_input_schema().input_names()\n"
        "rows = t[cols].head(20)  # as the features stage writes them\n"
        "out = m.predict(rows)\n"
        "print(int(out['purchase_probability'].between(0, 1).all() and len(out) == 20))\n"
    )
    out = subprocess.run(
        ["python", "-c", check],
        cwd=root,
        env=tool_env(MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.stdout.strip().endswith("1"), out.stderr[-2000:]

    # a second run on the same data resumes the finished study and does not take the champion
    again = run_notebook(root, "intent")
    assert again.returncode == 0, again.stderr[-3000:]
    second = client.get_model_version_by_alias("personalab-intent", "challenger")
    assert str(second.version) == "2"
    assert str(client.get_model_version_by_alias("personalab-intent", "champion").version) == "1"
