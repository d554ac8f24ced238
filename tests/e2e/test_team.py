"""Working as a team: a shared MLflow tracking server and a DVC remote, on one run of the two
cheap stages on tiny params (the whole pipeline runs in test_dvc_repro.py).

- Stages run by ``dvc repro`` with ``MLFLOW_TRACKING_URI`` set to ``mlflow server`` (a SQLite
  database, artifacts through the server) logs its run there, its executed notebook lands in
  the server's artifact root, and the project gets no store of its own.
- ``dvc push`` to a local folder, then a fresh ``git clone`` and ``dvc pull``: the outputs
  come back byte for byte and ``dvc repro`` has nothing to do.
"""

import json
from pathlib import Path

import pytest

from personalab.core.tracking import file_md5
from personalab.tools.server import tracking_server
from tests.conftest import TINY_SYNTH, copy_project, run_tool, update_params
from tests.project import TINY_PARAMS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
#: the stages the remote test runs: the first two, cheap on tiny params
STAGES = ("ingest", "features")


run = run_tool


def commit(root, message):
    run(["git", "add", "-A"], root)
    who = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    run(["git", *who, "commit", "-qm", message], root)


def tiny_project(dest: Path, stages=STAGES) -> Path:
    """A project copy with tiny params for ``stages``, committed to a new git repository."""
    root = copy_project(dest)
    for stage in stages:
        update_params(root, stage, TINY_PARAMS[stage])
    run(["git", "init", "-q"], root)
    commit(root, "tiny")
    return root


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    """ingest and features run by `dvc repro` against a tracking server (still serving)."""
    base = tmp_path_factory.mktemp("team")
    root = tiny_project(base / "project")
    server = base / "server"
    with tracking_server(server) as url:
        out = run(["dvc", "repro", *STAGES], root, MLFLOW_TRACKING_URI=url)
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
    team, tmp_path
):
    root = team[0]
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "-d", "team", str(remote)], root)
    commit(root, "outputs of ingest and features; the team's remote")
    pushed = run(["dvc", "push", *STAGES], root)
    assert "pushed" in pushed and remote.is_dir()

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(root), str(clone)], tmp_path)
    outs = ["data/interim/events.parquet", "data/processed/features.parquet"]
    assert not any((clone / out).exists() for out in outs)
    run(["dvc", "pull", *STAGES], clone)
    for out in [*outs, "data/interim/sessions.parquet", "data/interim/profile.json"]:
        assert file_md5(clone / out) == file_md5(root / out), out
    assert sorted(p.name for p in (clone / "reports/figures/features").iterdir()) == sorted(
        p.name for p in (root / "reports/figures/features").iterdir()
    )

    status = run(["dvc", "status", *STAGES], clone)
    assert "Data and pipelines are up to date." in status
    again = run(["dvc", "repro", *STAGES], clone)
    assert "Running stage" not in again
    for stage in STAGES:
        assert f"Stage '{stage}' didn't change, skipping" in again
    assert not (clone / "mlflow.db").exists()  # no stage ran
    assert run(["git", "status", "--porcelain"], clone).strip() == ""
