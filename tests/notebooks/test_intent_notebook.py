"""notebooks/04_intent.ipynb as `dvc repro` ran it with n_trials=3, then run again; and on a log
without purchases."""

import json
import subprocess

import numpy as np
import pandas as pd
import pytest
import yaml

from personalab.core.paths import project_paths
from personalab.core.registry import current_lineage
from personalab.core.status import skip_reason_of
from tests.conftest import copy_project, run_notebook, stage_runs, tool_env
from tests.notebooks.outputs import assert_clean_outputs

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

REQUIRED = (
    "test_roc_auc", "test_pr_auc", "test_log_loss", "test_brier", "test_f1", "threshold", "ece",
    "n_trials", "n_pruned", "best_trial_value", "baseline_logreg_roc_auc",
    "baseline_xgb_default_roc_auc", "oracle_roc_auc", "train_rows", "test_rows", "positive_rate",
)  # fmt: skip


def test_intent_notebook_tunes_evaluates_and_registers(pipeline_copy):
    root = pipeline_copy  # the whole pipeline ran there with tiny params
    assert_clean_outputs(root, "intent")

    metrics = json.loads((root / "reports/metrics/intent.json").read_text())
    assert set(REQUIRED) <= set(metrics), set(REQUIRED) - set(metrics)
    assert metrics["status"] == "complete" and metrics["target_event"] == "purchase"
    assert metrics["label"] == "purchased_within_horizon" and metrics["horizon_days"] == 3.0
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
    assert parent.data.tags["status"] == "complete"
    assert all(
        "valid_logloss" in c.data.metrics for c in children if c.data.params["state"] == "COMPLETE"
    )
    assert "best.learning_rate" in parent.data.params
    (chosen,) = [c for c in children if c.data.tags["chosen"] == "true"]
    assert parent.data.params["chosen.trial"] == chosen.data.tags["optuna.trial"]
    assert chosen.data.metrics["valid_logloss"] == pytest.approx(metrics["best_trial_value"])
    assert parent.data.metrics["test_roc_auc"] == pytest.approx(metrics["test_roc_auc"])
    assert parent.data.tags["registry.alias"] == "champion"  # the first version
    champion = client.get_model_version_by_alias("personalab-intent", "champion")
    # which model is served (the tuned one, or a baseline that beat it beyond noise) is said
    # in the metrics, on the run, on the registered version and in the comparison
    served = metrics["served_model"]
    assert parent.data.tags["served_model"] == champion.tags["served_model"] == served
    table = pd.read_csv(root / "reports/intent/comparison.csv")
    (row,) = table.loc[table["served"], "model"]
    assert row == served if served == "xgboost_tuned" else row == f"{served}_served"
    assert str(champion.version) == "1" and champion.tags["primary_metric"] == "test_pr_auc"
    assert champion.tags["target_event"] == "purchase" and champion.tags["horizon_days"] == "3.0"
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
    assert_clean_outputs(root, "intent")
    # the resumed trials are not logged again; the new stage run names the trial it chose
    runs = client.search_runs([parent.info.experiment_id])
    (latest,) = [r for r in runs if "stage" in r.data.tags and r.info.run_id != parent.info.run_id]
    assert sorted(r.info.run_id for r in runs if "optuna.trial" in r.data.tags) == sorted(
        c.info.run_id for c in children
    )
    assert latest.data.tags["chosen.run_id"] == chosen.info.run_id
    second = client.get_model_version_by_alias("personalab-intent", "challenger")
    assert str(second.version) == "2"
    assert str(client.get_model_version_by_alias("personalab-intent", "champion").version) == "1"


RATINGS_REASON = (
    "the log has no purchase events; set target_event in params/features.yaml (e.g. rate, return)"
)


def test_intent_notebook_skips_a_log_without_purchases(tmp_path):
    """A ratings log: the purchase label has one class and the profile shows no purchase at all.
    The notebook ends early (exit 0), its outputs empty and marked, nothing registered."""
    root = copy_project(tmp_path / "project")
    paths = project_paths(root)
    n = 60
    table = pd.DataFrame(
        {
            "user_id": [f"u{i % 20}" for i in range(n)],
            "cutoff": pd.Timestamp("2024-03-04", tz="UTC")
            + pd.to_timedelta(np.repeat([0, 7, 14], 20), unit="D"),
            "events_7d": np.arange(n, dtype=float),
            "purchased_within_horizon": False,
        }
    )
    table.attrs = {"label": "purchased_within_horizon", "target_event": "purchase",
                   "horizon_days": 7.0, "status": "complete"}  # fmt: skip
    paths.processed.mkdir(parents=True, exist_ok=True)
    table.to_parquet(paths.processed / "features.parquet")
    profile = {"event_types": {"rate": 900, "purchase": 0}, "rows": 900}
    paths.interim.mkdir(parents=True, exist_ok=True)
    (paths.interim / "profile.json").write_text(json.dumps(profile))

    done = run_notebook(root, "intent")
    assert done.returncode == 0, done.stderr[-3000:]
    assert_clean_outputs(root, "intent")
    metrics = json.loads((root / "reports/metrics/intent.json").read_text())
    assert metrics["status"] == "skipped" and metrics["skip_reason"] == RATINGS_REASON
    assert metrics["target_event"] == "purchase"
    assert skip_reason_of(root / "models/candidates/intent") == RATINGS_REASON
    stage = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["intent"]
    for entry in [*stage["outs"], *stage["metrics"], *stage["plots"]]:
        name = next(iter(entry)) if isinstance(entry, dict) else entry
        assert (root / name).exists(), name  # every declared output, so DVC goes on
    assert pd.read_csv(root / "reports/plots/intent/roc.csv").columns.tolist() == ["fpr", "tpr"]
    assert pd.read_csv(root / "reports/plots/intent/roc.csv").empty

    client, parent, children = stage_runs(root, "intent")
    assert parent.info.status == "FINISHED" and not children  # nothing was tuned
    assert parent.data.tags["status"] == "skipped"
    assert parent.data.tags["skip_reason"] == RATINGS_REASON
    assert client.search_registered_models() == []  # nothing registered
    executed = json.loads((root / "reports/executed/04_intent.ipynb").read_text())
    printed = json.dumps([c.get("outputs", []) for c in executed["cells"]])
    assert "skipped: " + RATINGS_REASON in printed
    assert "finished trials" not in printed  # the cells after the skip did not run
