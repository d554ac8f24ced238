"""Unit tests of personalab.features.io: the outputs written, also when the stage skips (every
output dvc.yaml declares, empty and marked)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from personalab.core.paths import project_paths
from personalab.core.status import StageStatus
from personalab.features.build import build_features
from personalab.features.io import save_features, save_skipped
from personalab.features.report import TOP_FEATURES, feature_summary_by_label
from tests.conftest import ROOT
from tests.unit.features.helpers import FUTURE, LOG, events_frame, params, t


def declared_outputs() -> list[str]:
    """The features stage's outs, metrics and plots in dvc.yaml."""
    stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["features"]
    names = []
    for key in ("outs", "metrics", "plots"):
        names += [next(iter(o)) if isinstance(o, dict) else o for o in stage.get(key, [])]
    return names


def test_a_skipped_stage_writes_every_declared_output_empty_and_marked(tmp_path):
    paths = project_paths(tmp_path)
    old = paths.figures_dir("features") / "distributions.png"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"old figure")
    status = StageStatus("features")
    log = [("u", "s", t(s=k), "view", "i1") for k in (0, 59)]  # one minute: no cut-off fits
    result = build_features(events_frame(log), params(), None, status)
    written = save_skipped(result, paths)

    for name in declared_outputs():
        assert (tmp_path / name).exists(), name
    assert written["figures"].is_dir() and not any(written["figures"].iterdir())
    table = pd.read_parquet(written["features"])
    assert table.empty and list(table.columns) == ["user_id", "cutoff", "purchased_within_horizon"]
    assert table.attrs["status"] == "skipped" and table.attrs["skip_reason"] == status.skip_reason
    metrics = json.loads(written["metrics"].read_text())
    assert metrics["status"] == "skipped" and metrics["skip_reason"] == status.skip_reason
    assert metrics["rows"] == 0 and metrics["notes"] == [f"skipped: {status.skip_reason}"]
    assert written["positive_rate"].read_text() == "cutoff,rows,positive_rate\n"
    assert written["segment_sizes"].read_text() == "segment,users,dominant\n"
    assert written["by_label"].read_text() == "feature,non_buyers,buyers,difference_sd\n"


def test_the_table_keeps_its_definition_in_parquet(tmp_path):
    result = build_features(events_frame(LOG + FUTURE), params(cutoffs={"dates": ["2024-03-01"]}))
    written = save_features(result, project_paths(tmp_path))
    table = pd.read_parquet(written["features"])
    assert table.attrs == {
        "label": "purchased_within_horizon",
        "target_event": "purchase",
        "horizon_days": 7.0,
        "features": result.feature_names,
        "left_out": {},
        "status": "complete",
        "skip_reason": None,
    }
    rates = pd.read_csv(written["positive_rate"])
    assert rates.to_dict("list") == {
        "cutoff": ["2024-03-01"],
        "rows": [3],
        "positive_rate": [pytest.approx(1 / 3, rel=1e-9)],  # to 10 significant digits
    }


def test_the_by_label_plot_data_keeps_the_features_that_differ_most_largest_first():
    label = [0, 0, 0, 1, 1, 1]
    columns = {f"same_{i}": [1.0] * 6 for i in range(3)}  # no spread: nothing to show
    # the buyers' median is i/10 above: the larger i, the more standard deviations apart
    columns |= {f"f{i:02d}": [0, 1, 2, i / 10, 1 + i / 10, 2 + i / 10] for i in range(1, 30)}
    columns["lower"] = [5.0, 5.0, 5.0, 0.0, 0.0, 0.0]
    table = pd.DataFrame({"purchased_within_horizon": label, **columns})
    out = feature_summary_by_label(table, list(columns))

    assert list(out.columns) == ["feature", "non_buyers", "buyers", "difference_sd"]
    assert len(out) == TOP_FEATURES == 15
    assert out["feature"].tolist() == ["lower", *[f"f{i:02d}" for i in range(29, 15, -1)]]
    assert out["difference_sd"].abs().is_monotonic_decreasing
    lower = out.set_index("feature").loc["lower"]
    assert (lower["non_buyers"], lower["buyers"]) == (5.0, 0.0) and lower["difference_sd"] < 0
    assert lower["difference_sd"] == pytest.approx(-5.0 / table["lower"].std())
