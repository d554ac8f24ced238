"""The export stage's steps together (as notebooks/08_export.ipynb calls them) on constructed
parts: both models (unchanged behaviour), a recommender alone, an intent model alone, neither
(skipped), and no segments. Each folder written is loaded back through MLflow."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from personalab.core.paths import ProjectPaths
from personalab.core.status import SKIP_MARKER, StageStatus, skip_reason_of
from personalab.export.parts import ExportParts, note_parts
from tests.unit.export.helpers import (
    SEGMENT_FEATURES,
    SEGMENT_NAMES,
    champion,
    events_frame,
    feature_rows,
    features_table,
    run_export,
    save_segmenter,
)

INTENT_SKIP = "label column 'rate_within_horizon' holds a single class (1)"
NO_CHAMPION = "registered model 'personalab-recommender' has no version with alias 'champion-x'"
SEGMENTS_SKIP = "no feature column to cluster on"
OLD_KEYS = [  # the metrics of an export of both models, before parts could be left out
    "intent_version", "recommender_version", "intent_parity", "recommender_parity",
    "personalise_parity", "high_intent_threshold", "trending_window_days", "trending_items", "k",
    "personalised_share", "trending_share", "popular_share",
]  # fmt: skip


@pytest.fixture(scope="module")
def saved(parts, served, tmp_path_factory):
    """The champions' pyfunc folders and the segments stage's model folder."""
    from personalab.intent.pyfunc import save_serving_model

    root = tmp_path_factory.mktemp("saved")
    intent = save_serving_model(parts["intent"], feature_rows(["x0", "x1"]), root / "intent")
    segmenter = save_segmenter(
        parts["segmenter"],
        root / "segmenter",
        features=SEGMENT_FEATURES,
        segment_names=SEGMENT_NAMES,
    )
    return {
        "intent": champion("personalab-intent", "3", intent, "test_pr_auc", 0.61),
        "recommender": champion("personalab-recommender", "7", served[0], "ndcg_at_10", 0.12),
        "segmenter": segmenter,
    }


def export_of(parts, saved, tmp_path, left_out, upstream):
    """Run the steps with every part but those in ``left_out`` (part -> why); ``upstream``:
    the earlier stages' metrics (stage -> (status, skip reason))."""
    paths = ProjectPaths(tmp_path / "project")
    (paths.reports / "metrics").mkdir(parents=True)
    for stage, (status, reason) in upstream.items():
        record = {"status": status, "notes": [f"skipped: {reason}"] if reason else []}
        if reason:
            record["skip_reason"] = reason
        paths.metrics_file(stage).write_text(json.dumps(record))
    for name in ("intent", "recommender"):  # an earlier export's models are replaced
        (paths.models / name / "artifacts").mkdir(parents=True)
        (paths.models / name / "MLmodel").write_text("old")
    has = {name: name not in left_out for name in ("intent", "recommender", "segments")}
    export_parts = ExportParts(
        intent=saved["intent"] if has["intent"] else None,
        recommender=saved["recommender"] if has["recommender"] else None,
        intent_model=parts["intent"] if has["intent"] else None,
        recommender_model=parts["recommender"] if has["recommender"] else None,
        segmenter=saved["segmenter"] if has["segments"] else None,
        left_out=dict(left_out),
    )
    status = StageStatus("export")
    note_parts(export_parts, status)
    out = run_export(export_parts, events_frame(), features_table(), paths, status)
    written = out["written"]
    out |= {
        "paths": paths,
        "status": status,
        "metrics": json.loads(written["metrics"].read_text()),
        "summary": written["summary"].read_text(),
    }
    return out


def load(paths, name):
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(str(paths.models / name))


def test_both_models_export_three_folders_as_before(parts, saved, tmp_path):
    out = export_of(parts, saved, tmp_path, {}, {"intent": ("complete", None)})
    paths, metrics = out["paths"], out["metrics"]
    for name in ("intent", "recommender", "personalise"):
        assert (paths.models / name / "MLmodel").is_file()
        assert skip_reason_of(paths.models / name) is None
    assert set(metrics) == {*OLD_KEYS, "status", "notes"}
    assert metrics["status"] == "complete" and metrics["notes"] == []
    assert metrics["intent_version"] == 3 and metrics["recommender_version"] == 7
    assert metrics["intent_parity"] == metrics["recommender_parity"] == 0.0
    shares = [metrics[f"{s}_share"] for s in ("personalised", "trending", "popular")]
    assert sum(shares) == pytest.approx(1.0) and metrics["popular_share"] == pytest.approx(1 / 7)
    summary = out["summary"]
    assert "Exported: intent, recommender, personalise." in summary
    assert "| `models/personalise` | intent v3 + recommender v7 + segmenter |" in summary
    assert "| intent | complete | - |" in summary and "| export | complete | - |" in summary
    assert "| features | not run | - |" in summary
    assert "High-intent threshold of `personalise`: 0.5000" in summary


def test_a_recommender_alone_serves_everyone_it_knows_without_intent_gating(parts, saved, tmp_path):
    why = f"the intent stage skipped ({INTENT_SKIP})"
    out = export_of(parts, saved, tmp_path, {"intent": why}, {"intent": ("skipped", INTENT_SKIP)})
    paths, metrics = out["paths"], out["metrics"]
    assert [p.name for p in (paths.models / "intent").iterdir()] == [SKIP_MARKER]
    assert skip_reason_of(paths.models / "intent") == f"not exported: {why}"
    model = load(paths, "personalise")
    inputs = model.metadata.get_input_schema().inputs
    assert [(c.name, c.required) for c in inputs] == [
        ("user_id", True), ("f1", False), ("visits", False),
    ]  # fmt: skip
    answer = model.predict(pd.DataFrame({"user_id": ["u1", "newcomer"]}), params={"k": 2})
    per_user = answer.drop_duplicates("user_id").set_index("user_id")
    assert per_user["strategy"].to_dict() == {"u1": "personalised_no_intent", "newcomer": "popular"}
    assert answer["intent_score"].isna().all()
    expected = parts["recommender"].model.top_k(["u1"], 2)["item_id"].tolist()
    assert answer.loc[answer["user_id"] == "u1", "item_id"].tolist() == expected
    assert "intent_version" not in metrics and "high_intent_threshold" not in metrics
    assert metrics["personalised_no_intent_share"] == pytest.approx(6 / 7)
    assert metrics["popular_share"] == pytest.approx(1 / 7)
    assert "personalised_share" not in metrics
    assert metrics["status"] == "partial"
    assert f"left out: the intent model (models/intent): {why}" in metrics["notes"]
    summary = out["summary"]
    assert "Exported: recommender, personalise; not exported: intent." in summary
    assert f"| `models/intent` | not exported: {why} | - |" in summary
    assert f"| intent | skipped | skipped: {INTENT_SKIP} |" in summary
    assert f"| export | partial | the intent model (models/intent): {why} |" in summary
    assert "No intent champion: " + why in summary and "personalab-recommender v7" in summary


def test_an_intent_model_alone_serves_the_trending_items_with_the_intent_score(
    parts, saved, tmp_path
):
    out = export_of(parts, saved, tmp_path, {"recommender": NO_CHAMPION}, {})
    paths, metrics = out["paths"], out["metrics"]
    assert skip_reason_of(paths.models / "recommender") == f"not exported: {NO_CHAMPION}"
    assert not (paths.models / "recommender" / "artifacts").exists()
    assert (paths.models / "intent" / "MLmodel").is_file()
    model = load(paths, "personalise")
    request = feature_rows(["u1", "newcomer"], seed=9)
    answer = model.predict(request, params={"k": 2})
    assert set(answer["strategy"]) == {"trending_no_recommender"}
    expected = parts["intent"].predict_proba(request)
    np.testing.assert_allclose(answer.drop_duplicates("user_id")["intent_score"], expected)
    trending = out["rule"].trending.head(2).index.tolist()
    assert answer.loc[answer["user_id"] == "u1", "item_id"].tolist() == trending
    assert metrics["trending_no_recommender_share"] == 1.0
    assert metrics["intent_parity"] == 0.0 and "recommender_parity" not in metrics
    assert metrics["status"] == "partial"
    assert "Exported: intent, personalise; not exported: recommender." in out["summary"]


def test_neither_model_skips_the_export_with_every_folder_marked(parts, saved, tmp_path):
    left_out = {"intent": f"the intent stage skipped ({INTENT_SKIP})", "recommender": NO_CHAMPION}
    out = export_of(parts, saved, tmp_path, left_out, {"intent": ("skipped", INTENT_SKIP)})
    paths, metrics, status = out["paths"], out["metrics"], out["status"]
    assert status.skipped and "neither model to export" in status.skip_reason
    assert metrics == {
        "status": "skipped",
        "skip_reason": status.skip_reason,
        "notes": [f"skipped: {status.skip_reason}"],
    }
    for name, why in (*left_out.items(), ("personalise", status.skip_reason)):
        folder = paths.models / name
        assert [p.name for p in folder.iterdir()] == [SKIP_MARKER]
        assert skip_reason_of(folder) == f"not exported: {why}"
    summary = out["summary"]
    assert "Exported: nothing; not exported: intent, recommender, personalise." in summary
    assert f"| export | skipped | skipped: {status.skip_reason} |" in summary


def test_without_segments_the_segment_is_null(parts, saved, tmp_path):
    why = f"the segments stage skipped ({SEGMENTS_SKIP})"
    out = export_of(parts, saved, tmp_path, {"segments": why}, {})
    paths, metrics = out["paths"], out["metrics"]
    assert not (paths.models / "personalise" / "artifacts" / "segmenter").exists()
    answer = load(paths, "personalise").predict(feature_rows(["u1", "u2"], seed=9))
    assert answer["segment"].isna().all() and len(answer) == 6
    assert set(answer["strategy"]) <= {"personalised", "trending"}
    assert list(out["mix"].index) == ["(no segments)", "all"]
    assert metrics["status"] == "partial" and metrics["intent_version"] == 3
    assert f"left out: the segments in models/personalise: {why}" in metrics["notes"]
    assert "the `segment` of every answer is null" in out["summary"]


def test_an_intent_model_near_chance_does_not_gate_the_rule(parts, saved, tmp_path):
    import dataclasses

    weak = dataclasses.replace(saved["intent"], metrics={"test_pr_auc": 0.2, "test_roc_auc": 0.52})
    out = export_of(parts, saved | {"intent": weak}, tmp_path, {}, {"intent": ("complete", None)})
    paths, metrics, rule = out["paths"], out["metrics"], out["rule"]
    # the intent model is still exported as trained; the rule serves the recommender to everyone
    assert (paths.models / "intent" / "MLmodel").is_file()
    assert skip_reason_of(paths.models / "intent") is None
    assert rule.intent is None and rule.threshold is None
    assert metrics["status"] == "complete"
    (note,) = [n for n in metrics["notes"] if "min_intent_roc_auc" in n]
    assert "test ROC AUC 0.5200 is under personalise.min_intent_roc_auc 0.55" in note
    assert "personalised_share" not in metrics and "trending_share" not in metrics
    assert metrics["personalised_no_intent_share"] > 0
    assert "`personalise` does not gate on intent" in out["summary"]
    answers = load(paths, "personalise").predict(features_table().head(3))
    assert set(answers["strategy"]) <= {"personalised_no_intent", "popular"}
