"""Working as a team: a shared MLflow tracking server and a DVC remote.

- A stage run by ``dvc repro`` with ``MLFLOW_TRACKING_URI`` set to ``mlflow server`` (a SQLite
  database, artifacts through the server) logs its run there, its executed notebook lands in
  the server's artifact root, and the project gets no store of its own.
- The whole pipeline's outputs (the shared tiny project's, :mod:`tests.project`) pushed with
  ``dvc push`` to a local folder, then a fresh ``git clone`` and ``dvc pull``: the outputs come
  back byte for byte and ``dvc repro`` has nothing to do.
"""

import json

import pytest
import yaml

from personalab.core.tracking import file_md5
from personalab.tools.server import tracking_server
from tests.conftest import TINY_SYNTH, run_tool
from tests.project import commit_all, project_after_repro, tiny_project

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


run = run_tool


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    """The ingest stage run by `dvc repro` against a tracking server (still serving)."""
    base = tmp_path_factory.mktemp("team")
    root = tiny_project(base / "project")
    server = base / "server"
    with tracking_server(server) as url:
        out = run(["dvc", "repro", "ingest"], root, MLFLOW_TRACKING_URI=url)
        yield root, server, url, out


def test_a_stage_logs_to_a_tracking_server_and_its_artifacts_go_through_it(team, tmp_path):
    from mlflow.tracking import MlflowClient

    root, server, url, out = team
    assert "Running stage 'ingest'" in out

    client = MlflowClient(tracking_uri=url)
    experiment = client.get_experiment_by_name("ingest")
    assert experiment.artifact_location.startswith("mlflow-artifacts:/")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    stage_run = runs[0]
    pointer = json.loads((root / "reports/runs/ingest.json").read_text())
    assert pointer["run_id"] == stage_run.info.run_id
    assert stage_run.info.status == "FINISHED"
    assert stage_run.info.artifact_uri.startswith("mlflow-artifacts:/")

    metrics = json.loads((root / "reports/metrics/ingest.json").read_text())
    assert metrics["bot_users"] == TINY_SYNTH["bot_users"]
    assert stage_run.data.metrics["bot_users"] == metrics["bot_users"]
    assert stage_run.data.metrics["rows_valid"] == metrics["rows_valid"] > 0
    assert stage_run.data.params["synthetic.n_users"] == str(TINY_SYNTH["n_users"])
    head = run(["git", "rev-parse", "HEAD"], root).strip()
    tags = stage_run.data.tags
    assert tags["stage"] == "ingest" and tags["git_commit"] == head
    assert tags["git_dirty"] == "false"

    # the executed notebook the kernel attached, listed and read back through the server
    listed = {a.path for a in client.list_artifacts(stage_run.info.run_id, "notebook")}
    assert listed == {"notebook/01_ingest.ipynb", "notebook/01_ingest.html"}
    fetched = client.download_artifacts(
        stage_run.info.run_id, "notebook/01_ingest.ipynb", str(tmp_path)
    )
    executed = root / "reports/executed/01_ingest.ipynb"
    assert file_md5(fetched) == file_md5(executed)

    # stored under the server's artifact root; the project has no store of its own
    stored = server / "mlartifacts" / experiment.experiment_id / stage_run.info.run_id
    assert file_md5(stored / "artifacts/notebook/01_ingest.ipynb") == file_md5(executed)
    assert (stored / "artifacts/notebook/01_ingest.html").is_file()
    assert not (root / "mlflow.db").exists() and not (root / "mlartifacts").exists()


def test_outputs_pushed_to_a_remote_are_pulled_into_a_fresh_clone_with_nothing_to_reproduce(
    tmp_path_factory, worker_id, tmp_path
):
    root, _ = project_after_repro(tmp_path_factory, worker_id, tmp_path / "project")
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "-d", "team", str(remote)], root)
    commit_all(root, "the pipeline's outputs; the team's remote")
    pushed = run(["dvc", "push"], root)
    assert "pushed" in pushed and remote.is_dir()

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(root), str(clone)], tmp_path)
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    stages = list(lock)
    outs = sorted({out["path"] for stage in lock.values() for out in stage.get("outs", [])})
    assert len(stages) == 8 and "data/interim/events.parquet" in outs and "models/intent" in outs
    pulled = [out for out in outs if not (clone / out).exists()]  # the rest are in git
    assert {"data/interim/events.parquet", "models/intent"} <= set(pulled), pulled
    run(["dvc", "pull"], clone)
    for out in outs:
        here, there = root / out, clone / out
        if here.is_dir():
            files = sorted(p.relative_to(here) for p in here.rglob("*") if p.is_file())
            assert files and files == sorted(
                p.relative_to(there) for p in there.rglob("*") if p.is_file()
            ), out
            pairs = [(here / f, there / f) for f in files]
        else:
            pairs = [(here, there)]
        for a, b in pairs:
            assert file_md5(b) == file_md5(a), b

    status = run(["dvc", "status"], clone)
    assert "Data and pipelines are up to date." in status
    again = run(["dvc", "repro"], clone)
    assert "Running stage" not in again
    for stage in stages:
        assert f"Stage '{stage}' didn't change, skipping" in again
    assert not (clone / "mlflow.db").exists()  # no stage ran
    assert run(["git", "status", "--porcelain"], clone).strip() == ""
