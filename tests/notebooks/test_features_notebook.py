"""Run notebooks/02_features.ipynb through papermill with tiny parameters, after ingest."""

import json

import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from personalab.features.build import build_features
from personalab.features.params import FeaturesParams
from personalab.features.schema import LABEL, SEGMENTS
from tests.conftest import run_notebook

pytestmark = [pytest.mark.notebook, pytest.mark.slow]


def test_features_notebook_builds_the_table_from_ingested_events(pipeline_copy):
    project_copy = pipeline_copy  # ingest and features ran there with TINY_PARAMS
    params = yaml.safe_load((project_copy / "params/features.yaml").read_text())

    table = pd.read_parquet(project_copy / "data/processed/features.parquet")
    metrics = json.loads((project_copy / "reports/metrics/features.json").read_text())
    assert metrics["cutoffs"] == 4 == table["cutoff"].nunique()
    assert metrics["rows"] == len(table) and not table.duplicated(["user_id", "cutoff"]).any()
    assert metrics["positive_rate"] == pytest.approx(table[LABEL].mean())
    for name in SEGMENTS:
        assert metrics[f"share_{name}"] == pytest.approx(table[f"seg_{name}"].mean())
    # the notebook and a direct call agree
    events = pd.read_parquet(project_copy / "data/interim/events.parquet")
    direct = build_features(events, FeaturesParams.from_mapping(params))
    pd.testing.assert_frame_equal(table, direct.table, check_categorical=False)
    for name in ("positive_rate.csv", "segment_sizes.csv", "feature_by_label.csv"):
        assert (project_copy / "reports/plots/features" / name).stat().st_size > 0
    # the executed notebook shows its figures (a reviewer reads them there and in MLflow)
    executed = json.loads((project_copy / "reports/executed/02_features.ipynb").read_text())
    images = [
        o
        for c in executed["cells"]
        for o in c.get("outputs", [])
        if "image/png" in o.get("data", {})
    ]
    assert len(images) == 2  # the distributions and the rule segments

    client = MlflowClient(tracking_uri=f"sqlite:///{project_copy / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("features").experiment_id])
    assert run.data.tags["stage"] == "features"
    assert run.data.tags["data.data/interim/events.parquet"]
    assert run.data.metrics["rows"] == metrics["rows"]
    assert {a.path for a in client.list_artifacts(run.info.run_id, "notebook")} == {
        "notebook/02_features.ipynb",
        "notebook/02_features.html",
    }


def test_features_notebook_without_events_says_to_run_ingest(project_copy):
    done = run_notebook(project_copy, "features")
    assert done.returncode != 0
    assert "events.parquet: not found; run the ingest stage first" in done.stderr + done.stdout
    # the run opened before the error ended FAILED with it, and no pointer describes it
    client = MlflowClient(tracking_uri=f"sqlite:///{project_copy / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("features").experiment_id])
    assert run.info.status == "FAILED"
    assert run.data.tags["error"].startswith("FeaturesError: ")
    assert "events.parquet: not found; run the ingest stage first" in run.data.tags["error"]
    assert not (project_copy / "reports/runs/features.json").exists()
