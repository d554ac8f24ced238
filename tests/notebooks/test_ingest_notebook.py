"""notebooks/01_ingest.ipynb as `dvc repro` ran it on tiny parameters; a bad parameter."""

import json

import nbformat
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from personalab.ingest.params import IngestParams
from personalab.ingest.pipeline import run_ingest
from tests.conftest import TINY_SYNTH, run_notebook, update_params
from tests.notebooks.outputs import assert_clean_outputs

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

TINY = TINY_SYNTH


def test_notebook_writes_outputs_metrics_and_mlflow_run(pipeline_copy):
    project_copy = pipeline_copy  # the tiny synthetic log, ingested by `dvc repro`
    params = yaml.safe_load((project_copy / "params/ingest.yaml").read_text())
    assert params["synthetic"] == {**params["synthetic"], **TINY}
    assert_clean_outputs(project_copy, "ingest")

    metrics = json.loads((project_copy / "reports/metrics/ingest.json").read_text())
    assert metrics["rows_read"] == (
        metrics["rows_valid"]
        + metrics["rows_quarantined"]
        + metrics["duplicates_removed"]
        + metrics["bot_events_removed"]
    )
    assert metrics["bot_users"] == TINY["bot_users"]
    assert 0 < metrics["users"] <= TINY["n_users"]
    events = pd.read_parquet(project_copy / "data/interim/events.parquet")
    assert len(events) == metrics["rows_valid"]
    assert events["event_id"].is_unique
    sessions = pd.read_parquet(project_copy / "data/interim/sessions.parquet")
    assert len(sessions) == metrics["sessions"] == events["session_id"].nunique()
    quarantine = pd.read_parquet(project_copy / "data/interim/quarantine.parquet")
    assert len(quarantine) == metrics["rows_quarantined"] and quarantine["reason"].notna().all()
    truth = pd.read_parquet(project_copy / "data/interim/truth.parquet")
    assert len(truth) == TINY["n_users"] + TINY["bot_users"]
    profile = json.loads((project_copy / "data/interim/profile.json").read_text())
    decision = profile["identity_decision"]
    assert (profile["identity"], decision["setting"]) == ("user", "auto")
    assert profile["rows"] == metrics["rows_valid"] == sum(profile["event_types"].values())
    assert profile["users"] == metrics["users"] == metrics["profile_users"]
    assert profile["sessions"] == metrics["sessions"] and profile["items"] == metrics["items"]
    assert decision["rows"] == metrics["rows_read"]
    assert decision["rows_without_identity"] == metrics["quarantined_missing_user_id"]
    assert profile["has_purchases"] and profile["has_ratings"]
    assert (profile["granularity"], profile["session_ids"]) == ("millisecond", "derived")
    assert profile["span_days"] == pytest.approx(TINY["n_days"], abs=1)
    for name in ("daily_events.csv", "session_lengths.csv", "quarantine_reasons.csv"):
        assert (project_copy / "reports/plots/ingest" / name).stat().st_size > 0
    assert (project_copy / "reports/figures/ingest/overview.png").stat().st_size > 10_000

    # same params and seed give the same metrics when run directly
    direct = run_ingest(IngestParams.from_mapping(params), project_copy).metrics
    timing = {"events_per_second", "processing_seconds", "status", "notes"}
    assert (metrics["status"], metrics["notes"]) == ("complete", [])  # nothing to adapt
    assert {k: v for k, v in direct.items() if k not in timing} == pytest.approx(
        {k: v for k, v in metrics.items() if k not in timing}
    )

    client = MlflowClient(tracking_uri=f"sqlite:///{project_copy / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("ingest")
    assert experiment.artifact_location == (project_copy / "mlartifacts" / "ingest").as_uri()
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED" and run.data.tags["status"] == "complete"
    assert run.data.tags["stage"] == "ingest"
    assert run.data.params["synthetic.n_users"] == str(TINY["n_users"])
    assert run.data.metrics["rows_read"] == metrics["rows_read"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "notebook")}
    assert artifacts == {"notebook/01_ingest.ipynb", "notebook/01_ingest.html"}
    assert any(a.path == "overview.png" for a in client.list_artifacts(run.info.run_id))


def test_bad_parameter_stops_the_notebook_naming_the_key(project_copy):
    update_params(project_copy, "ingest", {"synthetic": TINY})
    done = run_notebook(project_copy, "ingest", "-p", "session_gap_minutes", "-5")
    assert done.returncode != 0
    assert "session_gap_minutes: Input should be greater than 0" in done.stderr + done.stdout
    assert not (project_copy / "data/interim/events.parquet").exists()
    executed = nbformat.read(project_copy / "reports/executed/01_ingest.ipynb", as_version=4)
    (error,) = [
        o for c in executed.cells for o in c.get("outputs", []) if o["output_type"] == "error"
    ]
    assert error["ename"] == "ParamsError"
    assert len(error["traceback"]) == 1, "input errors are shown without a stack trace"
