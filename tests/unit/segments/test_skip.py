"""When nothing can be clustered the stage skips with the reason and writes every output it
declares in dvc.yaml, empty and marked; when no candidate clears the choice floors it falls
back to the best score (a warning, not a skip)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from personalab.core.paths import ProjectPaths, project_paths
from personalab.core.status import SKIP_MARKER, StageStatus, skip_reason_of
from personalab.features.schema import LABEL
from personalab.segments.io import save_segments, save_skipped
from personalab.segments.params import DEFAULT_FEATURES, STAGE
from tests.unit.segments.helpers import T, build, default_table, seg_params


def features_skipped() -> pd.DataFrame:
    """What the features stage writes when it skips: keys and label, no rows, attrs."""
    table = pd.DataFrame(
        {
            "user_id": pd.Series(dtype="object"),
            "cutoff": pd.Series(dtype="datetime64[ns, UTC]"),
            LABEL: pd.Series(dtype="int64"),
        }
    )
    table.attrs.update(status="skipped", skip_reason="no cut-off fits a log of 2 hours")
    return table


def one_feature_varies() -> pd.DataFrame:
    return default_table(zero=tuple(f for f in DEFAULT_FEATURES if f != "sessions_30d"))


#: (table, params, the start of the skip reason)
SKIPS = {
    "features skipped": (
        features_skipped,
        {},
        "the features stage skipped (no cut-off fits a log of 2 hours): no users to cluster",
    ),
    "no rows": (
        lambda: default_table().iloc[:0],
        {},
        "the features table has no rows: no users to cluster",
    ),
    "one usable feature": (
        one_feature_varies,
        {},
        "fewer than 2 usable features (usable: sessions_30d): nothing to cluster on",
    ),
    "no usable feature": (
        lambda: default_table(zero=DEFAULT_FEATURES),
        {},
        "fewer than 2 usable features (usable: none)",
    ),
    "too few users": (
        lambda: default_table(n=5),
        {"k_min": 3, "k_max": 4},
        f"only 5 user(s) at the latest cut-off {T}: too few for 3 segments",
    ),
    "no candidate with two segments": (
        lambda: default_table(n=40),
        {"algorithms": ["hdbscan"], "hdbscan_min_cluster_share": 0.6},
        "no candidate clustering (1 tried) found two or more segments with a silhouette score",
    ),
}


def declared_outputs() -> list[str]:
    """Every out, metric and plot of the segments stage in dvc.yaml."""
    stage = yaml.safe_load((project_paths().root / "dvc.yaml").read_text())["stages"][STAGE]
    entries = stage["outs"] + stage["metrics"] + stage["plots"]
    return [entry if isinstance(entry, str) else next(iter(entry)) for entry in entries]


@pytest.mark.parametrize("case", list(SKIPS))
def test_each_skip_reason_and_the_outputs_it_writes(case, tmp_path):
    make, values, reason = SKIPS[case]
    params = seg_params(**{"features": None, "log1p": None, **values})
    result, status = build(make(), params)
    assert result is None
    assert status.status == "skipped" and status.skip_reason.startswith(reason)

    paths = ProjectPaths(tmp_path)
    written = save_skipped(status, paths)
    for output in declared_outputs():
        assert (tmp_path / output).exists(), output
    assert skip_reason_of(paths.models / "segmenter") == status.skip_reason
    assert [p.name for p in (paths.models / "segmenter").iterdir()] == [SKIP_MARKER]
    metrics = json.loads(written["metrics"].read_text())
    assert metrics["status"] == "skipped" and metrics["skip_reason"] == status.skip_reason
    assigned = pd.read_parquet(written["segments"])
    assert assigned.empty
    assert assigned.columns.tolist() == [
        "user_id", "cutoff", "segment_id", "segment", "distance", "probability"
    ]  # fmt: skip
    history = pd.read_parquet(written["history"])
    assert history.empty and history.columns.tolist() == [
        "user_id",
        "cutoff",
        "segment_id",
        "segment",
    ]
    plots = paths.plots_dir(STAGE)
    assert (plots / "changed_share.csv").read_text() == "cutoff,users,changed_share\n"
    for algorithm in ("kmeans", "gmm", "agglomerative"):
        assert (plots / f"sweep_{algorithm}.csv").read_text() == (
            "k,silhouette,davies_bouldin,calinski_harabasz,stability_ari,min_cluster_share\n"
        )
    assert paths.figures_dir(STAGE).is_dir()
    assert (paths.reports / "segments" / "candidates.csv").is_file()


def test_no_candidate_clearing_the_floors_falls_back_with_a_warning():
    params = seg_params(features=None, log1p=None, k_max=3, choice={"min_cluster_share": 0.9})
    result, status = build(default_table(n=40), params)
    assert result is not None and result.fallback
    assert result.metrics["choice_fallback"] == 1
    assert result.chosen.name == "kmeans-k2"  # the best silhouette of all
    assert status.status == "complete"
    assert status.lines() == [
        "warning: no candidate cleared the choice floors (stability ARI >= 0.8, smallest "
        "segment >= 90%): took kmeans-k2, the best silhouette of all"
    ]


def test_a_run_after_a_skip_writes_the_model_and_every_sweep_file(tmp_path):
    paths = ProjectPaths(tmp_path)
    skipped = StageStatus(STAGE)
    skipped.skip("the features table has no rows")
    save_skipped(skipped, paths)

    params = seg_params(features=None, log1p=None, k_max=3)
    result, status = build(default_table(n=40, zero=("dwell_mean",)), params)
    written = save_segments(result, status, paths)
    assert skip_reason_of(paths.models / "segmenter") is None
    assert (paths.models / "segmenter" / "MLmodel").is_file()
    metrics = json.loads(written["metrics"].read_text())
    assert metrics["status"] == "partial" and metrics["n_features"] == 14
    assert metrics["notes"] == [
        "left out: feature(s) dwell_mean: the same value (0) for every user at the latest cut-off"
    ]
    features = pd.read_csv(written["features"])
    assert features["feature"].tolist() == [*result.features, "dwell_mean"]
    assert features["clustered"].tolist() == [True] * 14 + [False]
    # only kmeans ran: the other swept algorithms' plot files hold the header only
    plots = paths.plots_dir(STAGE)
    assert len(pd.read_csv(plots / "sweep_kmeans.csv")) == 2
    assert pd.read_csv(plots / "sweep_gmm.csv").empty
    assert pd.read_csv(plots / "sweep_agglomerative.csv").empty
