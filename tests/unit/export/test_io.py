"""Unit tests of personalab.export.io: the segments stage's model metadata."""

import pytest

from personalab.export.io import segmenter_metadata
from personalab.export.params import ExportError
from tests.unit.export.helpers import SEGMENT_FEATURES, SEGMENT_NAMES, save_segmenter


def test_segmenter_metadata_names_the_missing_mlmodel(tmp_path):
    folder = tmp_path / "nowhere"
    with pytest.raises(ExportError, match="segments") as err:
        segmenter_metadata(folder)
    assert str(folder / "MLmodel") in str(err.value)


def test_segmenter_metadata_without_metadata_says_to_re_run_segments(parts, tmp_path):
    folder = save_segmenter(parts["segmenter"], tmp_path / "segmenter")
    with pytest.raises(ExportError, match="re-run the segments stage") as err:
        segmenter_metadata(folder)
    assert str(folder / "MLmodel") in str(err.value)


def test_segmenter_metadata_with_only_features_names_what_is_missing(parts, tmp_path):
    folder = save_segmenter(parts["segmenter"], tmp_path / "segmenter", features=SEGMENT_FEATURES)
    with pytest.raises(ExportError, match="segment_names"):
        segmenter_metadata(folder)


def test_segmenter_metadata_returns_features_and_names(parts, tmp_path):
    folder = tmp_path / "segmenter"
    save_segmenter(
        parts["segmenter"], folder, features=SEGMENT_FEATURES, segment_names=SEGMENT_NAMES
    )
    features, names = segmenter_metadata(folder)
    assert features == SEGMENT_FEATURES
    assert names == SEGMENT_NAMES


def test_stage_times_read_finished_runs_and_the_running_one(tmp_path, mlflow_tmp):
    import json

    import mlflow
    import nbformat

    from personalab.core.paths import ProjectPaths
    from personalab.export.io import stage_times

    paths = ProjectPaths(tmp_path)

    def executed(stage: str, papermill: dict) -> None:
        nb = nbformat.v4.new_notebook(metadata={"papermill": papermill})
        paths.executed_notebook(stage).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(paths.executed_notebook(stage)))

    executed("ingest", {"start_time": "2026-01-01T10:00:00+00:00", "duration": 12.34})
    paths.runs.mkdir(parents=True, exist_ok=True)
    (paths.runs / "ingest.json").write_text(json.dumps({"run_id": "finished-run"}))
    executed("features", {"start_time": "2026-01-01T10:01:00+00:00", "duration": 5.0})  # failed
    executed("export", {"start_time": "2026-01-01T10:02:00+00:00"})  # running now
    with mlflow.start_run() as run:
        table = stage_times(paths).set_index("stage")
    assert table.loc["ingest", "run_id"] == "finished-run"
    assert table.loc["ingest", "seconds"] == 12.3
    assert table.loc["features", "run_id"] == ""  # an attempt that did not finish names no run
    assert table.loc["export", "run_id"] == run.info.run_id  # the stage still running
    assert "segments" not in table.index
