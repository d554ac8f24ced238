import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import mlflow
import nbformat
import pytest
from mlflow.tracking import MlflowClient

from personalab.core import tracking
from personalab.core.paths import ProjectPaths, project_paths
from personalab.ingest import IngestParams


@pytest.fixture
def paths(tmp_path):
    root = tmp_path / "proj"
    (root / "params").mkdir(parents=True)
    (root / "dvc.yaml").write_text("stages: {}\n")
    return ProjectPaths(root)


def test_default_tracking_uri_is_the_project_sqlite_file(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    paths = project_paths()
    assert tracking.tracking_uri(paths) == f"sqlite:///{paths.root / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking.tracking_uri(paths) == "http://127.0.0.1:5000"


def test_stage_run_logs_params_tags_and_notebook(paths, mlflow_tmp, monkeypatch):
    data = paths.root / "data" / "raw" / "events.csv"
    data.parent.mkdir(parents=True)
    data.write_text("user_id,timestamp,event_type\nu1,2026-01-01,view\n")
    monkeypatch.setenv("DVC_EXP_NAME", "exp-test")
    run_id = tracking.start_stage_run("ingest", IngestParams(), inputs=[data], paths=paths)
    tracking.log_stage_outputs({"rows_read": 10, "name": "text is skipped"})
    tracking.end_stage_run()

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# executed")])
    paths.executed.mkdir(parents=True)
    nbformat.write(nb, paths.executed_notebook("ingest"))
    html = tracking.attach_executed_notebook("ingest", paths)
    assert html.read_text().lstrip().lower().startswith("<!doctype html>")

    run = MlflowClient().get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["source.format"] == "synthetic"
    assert run.data.params["bots.max_events_per_minute"] == "40"
    assert run.data.metrics == {"rows_read": 10.0}
    tags = run.data.tags
    assert tags["stage"] == "ingest"
    assert tags["dvc_exp_name"] == "exp-test"
    assert tags["data.data/raw/events.csv"] == tracking.file_md5(data)
    assert "git_commit" in tags
    assert mlflow.get_experiment(run.info.experiment_id).name == "ingest"
    names = {a.path for a in MlflowClient().list_artifacts(run_id, "notebook")}
    assert names == {"notebook/01_ingest.ipynb", "notebook/01_ingest.html"}
    assert json.loads((paths.runs / "ingest.json").read_text())["run_id"] == run_id


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return int(done.stdout)


def _left_running(stage, paths, pid, **tags):
    """A run as a kernel with process ``pid`` leaves it when it is killed."""
    process = {tracking.PID_TAG: str(pid), tracking.HOST_TAG: socket.gethostname()}
    experiment = tracking.ensure_experiment(stage, paths)
    return MlflowClient().create_run(experiment, tags={**process, **tags}).info.run_id


def test_a_killed_run_of_any_stage_is_marked_failed_by_the_next_start(paths, mlflow_tmp):
    client = MlflowClient()
    killed = _left_running("features", paths, _dead_pid())
    trial = client.create_run(
        client.get_run(killed).info.experiment_id, tags={"mlflow.parentRunId": killed}
    ).info.run_id  # a nested run the kill interrupted
    live = _left_running("segments", paths, os.getpid())  # another stage, still running
    second = tracking.start_stage_run("ingest", IngestParams(), paths=paths)
    third = tracking.start_stage_run("ingest", IngestParams(), paths=paths)  # start cell re-run
    tracking.end_stage_run()
    for run_id in (killed, trial):
        run = client.get_run(run_id)
        assert run.info.status == "FAILED"
        assert run.data.tags["error"] == "did not finish (killed or interrupted)"
    assert client.get_run(live).info.status == "RUNNING"
    assert client.get_run(second).info.status == "KILLED"
    assert client.get_run(third).info.status == "FINISHED"
    assert client.get_run(third).data.tags[tracking.PID_TAG] == str(os.getpid())


def test_the_run_pointer_describes_only_a_finished_run(paths, mlflow_tmp):
    pointer = paths.runs / "ingest.json"
    finished = tracking.start_stage_run("ingest", IngestParams(), paths=paths)
    assert not pointer.exists()  # not while it runs
    tracking.end_stage_run()
    assert json.loads(pointer.read_text())["run_id"] == finished
    tracking.start_stage_run("ingest", IngestParams(), paths=paths)
    assert not pointer.exists()  # a new attempt: the finished one no longer describes the stage
    tracking.end_stage_run(status="FAILED")
    assert not pointer.exists()
    paths.executed.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(), paths.executed_notebook("ingest"))
    with pytest.raises(FileNotFoundError, match="no MLflow run recorded"):
        tracking.attach_executed_notebook("ingest", paths)


def test_a_cell_that_raises_ends_the_stage_run_failed_with_the_error(paths, mlflow_tmp):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.user_ns["paths"] = paths
    try:
        shell.run_cell(
            "from personalab.core import tracking\n"
            "from personalab.ingest import IngestParams\n"
            "run_id = tracking.start_stage_run('ingest', IngestParams(), paths=paths)"
        )
        run_id = shell.user_ns["run_id"]
        shell.run_cell("x = 1")  # a cell that works leaves the run open
        assert mlflow.active_run().info.run_id == run_id
        shell.run_cell("raise ValueError('bad\\nvalue ' + 'x' * 900)")
    finally:
        shell.events.unregister("post_run_cell", tracking.fail_run_on_error)
        InteractiveShell.clear_instance()
    run = MlflowClient().get_run(run_id)
    assert run.info.status == "FAILED"
    error = run.data.tags["error"]
    assert error.startswith("ValueError: bad value xxx") and len(error) == 500
    assert mlflow.active_run() is None
    tracking.end_stage_run()  # the last cell, if it still ran, does not describe the attempt
    assert not (paths.runs / "ingest.json").exists()


def test_attach_without_a_run_is_a_clear_error(paths, mlflow_tmp, capsys):
    with pytest.raises(FileNotFoundError, match="executed notebook not found"):
        tracking.attach_executed_notebook("ingest", paths)


def test_data_version_hashes_files_and_folders(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.csv").write_text("x\n1\n")
    (tmp_path / "d" / ".gitkeep").write_text("")
    (tmp_path / "empty").mkdir()
    tags = tracking.data_version(["d", "d/a.csv", "empty", "missing.csv"], tmp_path)
    assert tags["data.d/a.csv"] == hashlib.md5(b"x\n1\n").hexdigest()
    assert tags["data.d"].endswith(".dir")
    assert set(tags) == {"data.d", "data.d/a.csv"}


def test_a_queued_dvc_experiment_tracks_to_the_projects_store(tmp_path):
    from personalab.core.paths import ProjectPaths

    workspace = tmp_path / "shop" / ".dvc" / "tmp" / "exps" / "tmpab12cd"
    paths = ProjectPaths(workspace)
    assert paths.mlflow_db == tmp_path / "shop" / "mlflow.db"
    assert paths.mlartifacts == tmp_path / "shop" / "mlartifacts"
    assert paths.params_file("intent") == workspace / "params" / "intent.yaml"  # its own files
    assert ProjectPaths(tmp_path / "shop").mlflow_db == tmp_path / "shop" / "mlflow.db"


def test_a_missing_upstream_output_names_the_file_and_the_stage_to_run(tmp_path):
    from personalab.core.paths import upstream
    from personalab.export.params import ExportError

    path = tmp_path / "features.parquet"
    with pytest.raises(ExportError) as err:
        upstream(path, "features", ExportError)
    assert str(err.value) == f"{path}: not found; run the features stage first (dvc repro features)"
    path.write_bytes(b"")
    assert upstream(path, "features") == path


def test_experiments_open_on_their_runs_in_the_mlflow_ui(paths, mlflow_tmp):
    import mlflow

    kind = "mlflow.experimentKind"
    made = mlflow.get_experiment(tracking.ensure_experiment("features", paths))
    assert made.tags[kind] == "custom_model_development"
    old = mlflow.create_experiment("segments")  # as an earlier version made it, without the tag
    assert tracking.ensure_experiment("segments", paths) == old
    assert mlflow.get_experiment(old).tags[kind] == "custom_model_development"


def test_run_names_tell_data_and_experiments_apart():
    a = tracking.run_name("features", {"data.data/interim/events.parquet": "1" * 32})
    b = tracking.run_name("features", {"data.data/interim/events.parquet": "2" * 32})
    assert a.startswith("features-data") and a.split("-")[1] != b.split("-")[1]
    named = tracking.run_name("intent", {"data.x": "1", "dvc_exp_name": "bluish-cats"})
    assert named.startswith("intent-data") and named.endswith("-bluish-cats")
    assert tracking.run_name("ingest", {}).startswith("ingest-2")  # no inputs: the start time


# --- nested runs: real durations, the choice, trials already logged -----------------------------


def test_child_runs_carry_their_real_times_and_the_stage_run_its_choice(paths, mlflow_tmp):
    from datetime import datetime, timedelta

    from personalab.core import nested_runs

    parent = tracking.start_stage_run("segments", IngestParams(), paths=paths)
    started = datetime(2026, 1, 1, 12, 0, 0)  # naive: local time, as Optuna's datetimes
    a = nested_runs.log_child_run(
        "kmeans-k2", {"k": 2}, {"silhouette": 0.5, "name": "x", "flag": True},
        tags={"candidate": "kmeans-k2"}, started=started, ended=started + timedelta(seconds=90),
    )  # fmt: skip
    b = nested_runs.log_child_run("gmm-k3", {"k": 3}, {}, status="FAILED")  # no times: now
    nested_runs.log_choice({"candidate": "kmeans-k2", "k": 2}, a)
    tracking.end_stage_run()

    client = MlflowClient()
    child = client.get_run(a)
    assert child.info.start_time == int(started.timestamp() * 1000)
    assert child.info.end_time - child.info.start_time == 90_000  # not the milliseconds to log it
    assert child.data.tags["mlflow.parentRunId"] == parent
    assert child.data.tags["candidate"] == "kmeans-k2" and child.data.tags["chosen"] == "true"
    assert child.data.metrics == {"silhouette": 0.5} and child.data.params == {"k": "2"}
    other = client.get_run(b)
    assert other.info.status == "FAILED" and other.data.tags["chosen"] == "false"
    run = client.get_run(parent)
    assert run.data.params["chosen.candidate"] == run.data.tags["chosen.candidate"] == "kmeans-k2"
    assert run.data.params["chosen.k"] == "2" and run.data.tags["chosen.run_id"] == a
    chosen = client.search_runs([run.info.experiment_id], filter_string="tags.chosen = 'true'")
    assert [r.info.run_id for r in chosen] == [a]


def test_nested_runs_logged_by_earlier_stage_runs_are_found_by_their_tags(paths, mlflow_tmp):
    from personalab.core import nested_runs

    tracking.start_stage_run("intent", IngestParams(), paths=paths)
    first = {
        str(n): nested_runs.log_child_run(f"trial-{n}", {}, {}, tags={"study": "s'1", "trial": n})
        for n in (0, 1)
    }
    nested_runs.log_child_run("trial-0", {}, {}, tags={"study": "other", "trial": 0})
    tracking.end_stage_run()
    tracking.start_stage_run("intent", IngestParams(), paths=paths)  # a later run of the stage
    assert nested_runs.logged_child_runs("trial", study="s'1") == first
    assert nested_runs.logged_child_runs("trial", study="none") == {}
    tracking.end_stage_run()


# --- artifact locations: a copied or moved project logs into itself -----------------------------


@pytest.fixture
def project_store(monkeypatch):
    """No MLFLOW_TRACKING_URI: each project tracks to its own mlflow.db (the default)."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    before = mlflow.get_tracking_uri()
    yield
    if mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(before)


def _stage_with_artifact(paths, text):
    """Run the ingest stage of ``paths`` once, logging a file; return the run id."""
    run_id = tracking.start_stage_run("ingest", IngestParams(), paths=paths)
    note = paths.root / "note.txt"
    note.write_text(text)
    tracking.log_stage_outputs(artifacts=[note])
    tracking.end_stage_run()
    return run_id


def _project(root, empty_store):
    """A project at ``root`` with an empty tracking store of its own."""
    (root / "params").mkdir(parents=True)
    (root / "dvc.yaml").write_text("stages: {}\n")
    shutil.copy2(empty_store, root / "mlflow.db")
    return ProjectPaths(root)


def test_a_copied_project_logs_and_reads_artifacts_in_itself(tmp_path, project_store, empty_store):
    from personalab.core.registry import register_model

    original = _project(tmp_path / "a", empty_store)
    old_run = _stage_with_artifact(original, "first")
    model = original.root / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors: {}\n")
    tracking.start_stage_run("intent", IngestParams(), paths=original)
    register_model(model, "m")
    tracking.end_stage_run()

    shutil.copytree(original.root, tmp_path / "b")  # the whole folder, mlflow.db included
    copy = ProjectPaths(tmp_path / "b")
    new_run = _stage_with_artifact(copy, "second")

    client = MlflowClient(tracking_uri=f"sqlite:///{copy.mlflow_db}")
    assert (
        copy.mlartifacts / "ingest" / new_run / "artifacts" / "note.txt"
    ).read_text() == "second"
    assert not (original.mlartifacts / "ingest" / new_run).exists()
    experiment = client.get_experiment_by_name("ingest")
    assert experiment.artifact_location == (copy.mlartifacts / "ingest").as_uri()
    # the runs and versions copied along read their files in the copy
    assert client.get_run(old_run).info.artifact_uri.startswith(copy.mlartifacts.as_uri())
    version = client.get_model_version("m", "1")
    assert version.source.startswith(copy.mlartifacts.as_uri())
    downloaded = client.download_artifacts(old_run, "note.txt", str(tmp_path))
    assert Path(downloaded).read_text() == "first"
    # the original's store is untouched
    theirs = MlflowClient(tracking_uri=f"sqlite:///{original.mlflow_db}")
    assert theirs.get_experiment_by_name("ingest").artifact_location.startswith(
        original.mlartifacts.as_uri()
    )


def test_a_store_copied_without_its_artifacts_keeps_reading_them_at_the_original(
    tmp_path, project_store, empty_store
):
    from personalab.core.experiments import relocate_artifacts

    original = _project(tmp_path / "a", empty_store)
    old_run = _stage_with_artifact(original, "first")
    copy = ProjectPaths(tmp_path / "b")
    (copy.root / "params").mkdir(parents=True)
    shutil.copy2(original.mlflow_db, copy.mlflow_db)  # mlflow.db alone, no mlartifacts/

    assert relocate_artifacts(copy) == {"experiments.artifact_location": 1}
    assert relocate_artifacts(copy) == {}  # once moved, nothing more to do
    client = MlflowClient(tracking_uri=f"sqlite:///{copy.mlflow_db}")
    assert client.get_run(old_run).info.artifact_uri.startswith(original.mlartifacts.as_uri())
    assert (
        client.get_experiment_by_name("ingest").artifact_location
        == (copy.mlartifacts / "ingest").as_uri()
    )
