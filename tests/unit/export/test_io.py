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
