"""Unit tests of personalab.export.parts: what there is to export, from a throw-away registry
and model folders built here (an upstream skip marked by SKIPPED.json, a champion of another
data lineage only)."""

from __future__ import annotations

import shutil

import pytest

from personalab.core.paths import ProjectPaths
from personalab.core.registry import current_lineage, lineage_of, promote_if_better
from personalab.core.status import StageStatus, write_skip_marker
from personalab.export.params import ExportParams
from personalab.export.parts import gather_parts, parts_table
from tests.unit.export.helpers import feature_rows, save_segmenter

PARAMS = ExportParams(intent_model="t-intent", recommender_model="t-rec")


BOTH, INTENT_ONLY, OTHER = "data/raw/both.csv", "data/raw/intent-only.csv", "data/raw/other.csv"


@pytest.fixture(scope="module")
def registry(parts, served, tmp_path_factory, empty_store):
    """A throw-away registry: both models champions of the lineage of BOTH; of INTENT_ONLY, the
    intent model only (the recommender is a champion of OTHER's lineage)."""
    import mlflow

    from personalab.intent.pyfunc import save_serving_model

    root = tmp_path_factory.mktemp("registry")
    intent = save_serving_model(parts["intent"], feature_rows(["x0", "x1"]), root / "intent")
    folders = {PARAMS.intent_model: intent, PARAMS.recommender_model: served[0]}
    previous = mlflow.get_tracking_uri()
    shutil.copy2(empty_store, root / "mlflow.db")
    with pytest.MonkeyPatch.context() as patch:
        uri = f"sqlite:///{root / 'mlflow.db'}"
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        mlflow.set_tracking_uri(uri)
        register(folders, list(folders), BOTH)
        register(folders, [PARAMS.intent_model], INTENT_ONLY)
        register(folders, [PARAMS.recommender_model], OTHER)
        yield uri
    mlflow.set_tracking_uri(previous)


def lineage(source: str):
    return lineage_of({"format": "csv", "path": source})


def register(folders, names, source: str) -> None:
    """Each of ``names`` registered from its folder, champion of the lineage of ``source``."""
    import mlflow
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    for name in names:
        with mlflow.start_run() as run:
            mlflow.log_artifacts(str(folders[name]), artifact_path="model")
        version = mlflow.register_model(f"runs:/{run.info.run_id}/model", name).version
        promote_if_better(
            client, name, str(version), "m", 0.5, lambda uri: 0.0, lineage=lineage(source)
        )


def project(tmp_path, parts, registry, source=BOTH) -> ProjectPaths:
    """A project whose data lineage is a CSV at ``source``, with a segments model, using
    ``registry``."""
    import mlflow

    mlflow.set_tracking_uri(registry)
    paths = ProjectPaths(tmp_path / "project")
    paths.params_file("ingest").parent.mkdir(parents=True)
    paths.params_file("ingest").write_text(f"source:\n  format: csv\n  path: {source}\n")
    save_segmenter(parts["segmenter"], paths.models / "segmenter", features=["f1"])
    return paths


def mark_skipped(folder, stage: str, reason: str) -> None:
    write_skip_marker(folder, StageStatus(stage, skip_reason=reason))


def test_both_champions_of_the_current_lineage_and_the_segmenter(tmp_path, parts, registry):
    paths = project(tmp_path, parts, registry)
    status = StageStatus("export")
    got = gather_parts(PARAMS, tmp_path / "scratch", paths, status)
    assert got.left_out == {} and status.status == "complete" and status.notes == []
    assert (got.intent.version, got.recommender.version) == ("1", "1")
    assert got.intent.alias == lineage(BOTH).alias("champion")
    assert got.intent_model.feature_names == parts["intent"].feature_names
    assert got.recommender_model.config["top_n"] == PARAMS.k
    assert got.segmenter == paths.models / "segmenter"
    assert parts_table(got)["left out because"].tolist() == ["", "", ""]


def test_a_skipped_intent_stage_leaves_the_intent_model_out_even_with_a_champion(
    tmp_path, parts, registry
):
    paths = project(tmp_path, parts, registry)  # with champions of this lineage
    mark_skipped(paths.candidates / "intent", "intent", "the label holds a single class (0)")
    status = StageStatus("export")
    got = gather_parts(PARAMS, tmp_path / "scratch", paths, status)
    why = "the intent stage skipped (the label holds a single class (0))"
    assert got.left_out == {"intent": why}
    assert got.intent is None and got.intent_model is None and got.recommender.version == "1"
    assert status.status == "partial"
    assert status.lines()[0] == f"left out: the intent model (models/intent): {why}"
    assert "personalised_no_intent" in status.lines()[1]
    assert parts_table(got).set_index("part").loc["intent", "left out because"] == why


def test_a_champion_of_other_data_only_is_left_out_with_the_registry_answer(
    tmp_path, parts, registry
):
    paths = project(tmp_path, parts, registry, INTENT_ONLY)
    status = StageStatus("export")
    got = gather_parts(PARAMS, tmp_path / "scratch", paths, status)
    assert set(got.left_out) == {"recommender"} and got.recommender_model is None
    assert got.intent.version == "2"  # the champion of this lineage
    alias = current_lineage(paths).alias("champion")
    assert f"'t-rec' has no version with alias '{alias}'" in got.left_out["recommender"]
    assert "other data is not served" in got.left_out["recommender"]
    assert any("trending_no_recommender" in line for line in status.lines())


def test_without_either_model_the_export_skips_naming_both_reasons(tmp_path, parts, registry):
    paths = project(tmp_path, parts, registry)
    mark_skipped(paths.candidates / "intent", "intent", "no target events")
    mark_skipped(paths.candidates / "recommender", "recommend", "one distinct item")
    mark_skipped(paths.models / "segmenter", "segments", "no rows")
    status = StageStatus("export")
    got = gather_parts(PARAMS, tmp_path / "scratch", paths, status)
    assert status.skipped and got.champions == []
    assert status.skip_reason == (
        "neither model to export: intent model: the intent stage skipped (no target events); "
        "recommender: the recommend stage skipped (one distinct item)"
    )
    assert got.left_out["segments"] == "the segments stage skipped (no rows)"
    assert got.segmenter is None


def test_a_skipped_segments_stage_leaves_the_segments_out(tmp_path, parts, registry):
    paths = project(tmp_path, parts, registry)
    mark_skipped(paths.models / "segmenter", "segments", "no feature column to cluster on")
    status = StageStatus("export")
    got = gather_parts(PARAMS, tmp_path / "scratch", paths, status)
    assert got.segmenter is None and got.intent_model is not None
    assert status.status == "partial"
    assert status.lines() == [
        "left out: the segments in models/personalise: the segments stage skipped "
        "(no feature column to cluster on)",
        "adapted: models/personalise: the segment column of every answer is null",
    ]


def test_the_features_label_is_read_from_the_tables_metadata(tmp_path):
    import pandas as pd

    from personalab.export.parts import features_label

    assert features_label(tmp_path / "features.parquet") is None
    table = pd.DataFrame({"user_id": ["u1"], "rate_within_horizon": [1]})
    table.attrs = {"label": "rate_within_horizon", "horizon_days": 7.0}
    table.to_parquet(tmp_path / "features.parquet")
    assert features_label(tmp_path / "features.parquet") == "rate_within_horizon"
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "plain.parquet")
    assert features_label(tmp_path / "plain.parquet") is None
