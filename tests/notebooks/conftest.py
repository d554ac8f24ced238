"""The notebook tests read the stage notebooks as `dvc repro` executed them in the shared tiny
project (:mod:`tests.project`), and run them again, or on other inputs, in copies of it."""

import pytest

from tests.project import project_after_repro


@pytest.fixture
def pipeline_copy(tmp_path_factory, worker_id, tmp_path):
    """A copy of its own of the tiny project after `dvc repro` of the whole pipeline."""
    return project_after_repro(tmp_path_factory, worker_id, tmp_path / "project")[0]
