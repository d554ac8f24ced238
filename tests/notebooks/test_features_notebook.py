"""notebooks/02_features.ipynb as `dvc repro` ran it with tiny parameters; without events; and on
a log too short for any cut-off, where the stage skips and still writes its outputs."""

import json

import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from personalab.core.profile import read_profile
from personalab.features.build import build_features
from personalab.features.params import FeaturesParams
from personalab.features.schema import LABEL, SEGMENTS
from personalab.features.support import profile_of
from tests.conftest import run_notebook
from tests.notebooks.outputs import assert_clean_outputs
from tests.unit.features.helpers import events_frame, t

pytestmark = [pytest.mark.notebook, pytest.mark.slow]


def test_features_notebook_builds_the_table_from_ingested_events(pipeline_copy):
    project_copy = pipeline_copy  # the whole pipeline ran there with TINY_PARAMS
    assert_clean_outputs(project_copy, "features")
    params = yaml.safe_load((project_copy / "params/features.yaml").read_text())

    table = pd.read_parquet(project_copy / "data/processed/features.parquet")
    metrics = json.loads((project_copy / "reports/metrics/features.json").read_text())
    assert metrics["cutoffs"] == 4 == table["cutoff"].nunique()
    assert metrics["rows"] == len(table) and not table.duplicated(["user_id", "cutoff"]).any()
    assert metrics["positive_rate"] == pytest.approx(table[LABEL].mean())
    for name in SEGMENTS:
        assert metrics[f"share_{name}"] == pytest.approx(table[f"seg_{name}"].mean())
    # the synthetic log has everything: nothing left out, explicit cut-offs and horizon kept
    assert metrics["status"] == "complete" and metrics["features_left_out"] == 0
    assert table.attrs["label"] == LABEL and table.attrs["horizon_days"] == 3.0
    assert table.attrs["left_out"] == {} and table.attrs["status"] == "complete"
    # the notebook (with profile.json) and a direct call (profile from the events) agree
    events = pd.read_parquet(project_copy / "data/interim/events.parquet")
    direct = build_features(events, FeaturesParams.from_mapping(params))
    pd.testing.assert_frame_equal(table, direct.table, check_categorical=False)
    assert table.attrs == direct.table.attrs
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
    profile = read_profile(project_copy / "data/interim/profile.json")
    printed = "".join(
        "".join(o.get("text", [])) for c in executed["cells"] for o in c.get("outputs", [])
    )
    assert profile.describe() in printed

    client = MlflowClient(tracking_uri=f"sqlite:///{project_copy / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("features").experiment_id])
    assert run.data.tags["stage"] == "features" and run.data.tags["status"] == "complete"
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


def test_features_notebook_on_a_log_too_short_for_any_cutoff_skips_and_writes_its_outputs(
    project_copy,
):
    events = events_frame([("u", "s", t(s=k), "view", "i1") for k in range(0, 60, 20)])
    (project_copy / "data/interim").mkdir(parents=True, exist_ok=True)
    events.to_parquet(project_copy / "data/interim/events.parquet", index=False)
    profile = json.dumps(profile_of(events).data)
    (project_copy / "data/interim/profile.json").write_text(profile)

    done = run_notebook(project_copy, "features")
    assert done.returncode == 0, done.stderr[-3000:]
    assert_clean_outputs(project_copy, "features")
    metrics = json.loads((project_copy / "reports/metrics/features.json").read_text())
    assert metrics["status"] == "skipped"
    assert metrics["skip_reason"].startswith("no cut-off fits: the log spans 0.7 minutes")
    table = pd.read_parquet(project_copy / "data/processed/features.parquet")
    assert table.empty and table.attrs["status"] == "skipped"
    plots = project_copy / "reports/plots/features"
    assert (plots / "positive_rate.csv").read_text() == "cutoff,rows,positive_rate\n"
    assert (project_copy / "reports/figures/features").is_dir()
    # the cells after the skip run as nothing: no figure, no table
    executed = json.loads((project_copy / "reports/executed/02_features.ipynb").read_text())
    outputs = [o for c in executed["cells"] for o in c.get("outputs", [])]
    assert not any("image/png" in o.get("data", {}) for o in outputs)
    client = MlflowClient(tracking_uri=f"sqlite:///{project_copy / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("features").experiment_id])
    assert run.info.status == "FINISHED" and run.data.tags["status"] == "skipped"
    assert run.data.tags["skip_reason"] == metrics["skip_reason"]
