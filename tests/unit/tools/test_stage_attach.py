"""The pipeline's papermill engine attaches a stage's executed notebook to the stage's run, from
the kernel that ran it, once every cell has run."""

import json
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from personalab.core.tracking import file_md5
from tests.conftest import tool_env

pytestmark = [pytest.mark.notebook]

#: a stage notebook's first and last steps, in small: open a run, finish it with its pointer
STAGE_RUN = (
    "from personalab.core import tracking\n"
    "from personalab.core.paths import project_paths\n"
    "from personalab.ingest import IngestParams\n"
    "run_id = tracking.start_stage_run('ingest', IngestParams(), paths=project_paths())\n"
    "tracking.end_stage_run()\n"
    "print(run_id)"
)
#: what a skipped stage does last: the notebook's later cells run as nothing
SKIP = "from personalab.core.status import StageStatus\nStageStatus('ingest').stop_notebook()"


@pytest.fixture
def project(tmp_path: Path, empty_store: Path) -> Path:
    root = tmp_path / "project"
    for folder in ("params", "reports/executed", "elsewhere"):
        (root / folder).mkdir(parents=True)
    (root / "dvc.yaml").write_text("stages: {}\n")
    shutil.copy2(empty_store, root / "mlflow.db")
    return root


def papermill(root: Path, cells: list[str], output: str) -> subprocess.CompletedProcess:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbformat.write(nb, root / "in.ipynb")
    cmd = ["papermill", "in.ipynb", output, "-k", "personalab", "--cwd", ".",
           "--no-progress-bar", "--engine", "personalab"]  # fmt: skip
    return subprocess.run(cmd, cwd=root, env=tool_env(), capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def attached(root: Path, run_id: str) -> dict[str, Path]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    artifacts = Path(client.get_run(run_id).info.artifact_uri.removeprefix("file://"))
    return {a.path: artifacts / a.path for a in client.list_artifacts(run_id, "notebook")}


def run_id_of(root: Path, output: str) -> str:
    cells = nbformat.read(root / output, as_version=4).cells
    return cells[0].outputs[0]["text"].strip()


@pytest.mark.parametrize("skipped", [False, True], ids=["complete", "skipped"])
def test_a_stage_notebook_is_attached_to_its_run_as_the_file_papermill_wrote(project, skipped):
    output = "reports/executed/01_ingest.ipynb"
    done = papermill(project, [STAGE_RUN, *([SKIP] if skipped else []), "print('last')"], output)
    assert done.returncode == 0, done.stderr[-3000:]
    run_id = run_id_of(project, output)
    assert json.loads((project / "reports/runs/ingest.json").read_text())["run_id"] == run_id
    files = attached(project, run_id)
    assert set(files) == {"notebook/01_ingest.ipynb", "notebook/01_ingest.html"}
    # the copy attached is the final one: papermill's end time and duration included
    assert file_md5(files["notebook/01_ingest.ipynb"]) == file_md5(project / output)
    assert nbformat.read(project / output, as_version=4).metadata.papermill["duration"] > 0
    assert (project / output).with_suffix(".html").is_file()
    last = nbformat.read(project / output, as_version=4).cells[-1].outputs
    assert bool(last) is not skipped  # a skip's later cells ran as nothing


def test_a_notebook_written_elsewhere_is_attached_from_where_it_was_written(project):
    output = "elsewhere/01_ingest.ipynb"  # a stage's name: attached, from this copy
    done = papermill(project, [STAGE_RUN], output)
    assert done.returncode == 0, done.stderr[-3000:]
    files = attached(project, run_id_of(project, output))
    assert file_md5(files["notebook/01_ingest.ipynb"]) == file_md5(project / output)
    assert not list((project / "reports/executed").iterdir())


def test_a_notebook_not_named_after_a_stage_is_not_attached(project):
    done = papermill(project, [STAGE_RUN], "analysis.ipynb")
    assert done.returncode == 0, done.stderr[-3000:]
    assert attached(project, run_id_of(project, "analysis.ipynb")) == {}


def test_a_stage_notebook_without_a_finished_run_fails_and_says_why(project):
    output = "reports/executed/01_ingest.ipynb"
    done = papermill(project, ["print('no run')"], output)
    assert done.returncode != 0
    assert f"{project / output}: not attached to the ingest run" in done.stderr
    assert "no MLflow run recorded for stage 'ingest'" in done.stderr
    assert (project / output).is_file()  # the executed notebook is kept


def test_a_failed_cell_fails_the_notebook_without_attaching(project):
    output = "reports/executed/01_ingest.ipynb"
    done = papermill(project, [STAGE_RUN, "1 / 0"], output)
    assert done.returncode != 0 and "ZeroDivisionError" in done.stderr
    assert "not attached" not in done.stderr
    run_id = json.loads((project / "reports/runs/ingest.json").read_text())["run_id"]
    assert attached(project, run_id) == {}
