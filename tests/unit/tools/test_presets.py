"""Unit tests of personalab.tools.presets: protocol presets applied to the params files."""

import shutil
from pathlib import Path

import pytest
import yaml

from personalab.recommend.params import RecommendParams
from personalab.tools import presets

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def project(tmp_path):
    shutil.copytree(ROOT / "params", tmp_path / "params")
    return tmp_path


def test_the_shipped_presets_are_listed_and_valid(project):
    assert presets.available(project) == ["ms-recommenders", "surprise-benchmark"]
    for name in presets.available(project):
        assert presets.apply(name, project, write=False)  # validated, nothing written
    assert (project / "params/recommend.yaml").read_text() == (
        ROOT / "params/recommend.yaml"
    ).read_text()


def test_apply_sets_the_protocol_keeps_comments_and_replaces_the_model_list(project):
    path = project / "params/recommend.yaml"
    changes = presets.apply("surprise-benchmark", project)
    assert "algorithms" in changes[str(path)] and "interactions.feedback" in changes[str(path)]
    text = path.read_text()
    assert "# Named entries" in text  # comments kept
    params = RecommendParams.from_yaml(path)
    assert params.interactions.feedback == "explicit"
    assert params.interactions.weights["purchase"] == 5.0  # merged, not replaced
    assert len(params.algorithms) == 10 and "ALS" not in params.algorithms  # replaced whole
    assert params.cross_validation.max_pairs is None and params.tuning.space == {}
    assert presets.apply("surprise-benchmark", project)[str(path)] == []  # already set


def test_ms_recommenders_holds_out_a_quarter_of_each_users_pairs(project):
    presets.apply("ms-recommenders", project)
    params = RecommendParams.from_yaml(project / "params/recommend.yaml")
    assert params.holdout.kind == "random" and params.holdout.test_share == 0.25
    assert params.interactions.min_item_interactions == 1
    assert "ALS" in params.algorithms  # the default models stay


def test_a_preset_the_stage_refuses_writes_nothing_and_names_the_key(project):
    bad = {"recommend": {"holdout": {"test_share": 2.0}}}
    (project / "params/presets/bad.yaml").write_text(yaml.safe_dump(bad))
    before = (project / "params/recommend.yaml").read_text()
    with pytest.raises(Exception, match="holdout.test_share"):
        presets.apply("bad", project)
    assert (project / "params/recommend.yaml").read_text() == before
    with pytest.raises(presets.PresetError, match="no such preset; available: bad, ms-rec"):
        presets.apply("nope", project)
