"""notebooks/03_segments.ipynb as `dvc repro` ran it with tiny parameters; and skipping."""

import json
import subprocess

import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from personalab.core.status import skip_reason_of
from personalab.segments.params import DEFAULT_FEATURES
from tests.conftest import run_notebook, stage_runs, tool_env
from tests.notebooks.outputs import assert_clean_outputs

pytestmark = [pytest.mark.notebook, pytest.mark.slow]


def test_segments_notebook_chooses_names_and_saves_a_model(pipeline_copy):
    root = pipeline_copy  # the whole pipeline ran there with tiny params
    assert_clean_outputs(root, "segments")

    metrics = json.loads((root / "reports/metrics/segments.json").read_text())
    for key in ("algorithm", "n_clusters", "silhouette", "davies_bouldin", "calinski_harabasz",
                "stability_ari", "min_cluster_share", "ari_vs_truth"):  # fmt: skip
        assert key in metrics, key
    assert metrics["algorithm"] in ("kmeans", "gmm", "agglomerative")
    assert 2 <= metrics["n_clusters"] <= 5
    assert 0 < metrics["ari_vs_truth"] <= 1

    assigned = pd.read_parquet(root / "data/processed/segments.parquet")
    features = pd.read_parquet(root / "data/processed/features.parquet")
    assert (
        len(assigned) == (features["cutoff"] == features["cutoff"].max()).sum() == metrics["users"]
    )
    assert assigned["segment_id"].nunique() == metrics["n_clusters"]
    assert assigned.groupby("segment_id")["segment"].nunique().eq(1).all()
    candidates = pd.read_csv(root / "reports/segments/candidates.csv")
    assert len(candidates) == metrics["candidates"] == 3 * 4

    # the saved model loads in a fresh process and reproduces the assignments; the checks run
    # here, on what the fresh process reports
    check = (
        "import json, mlflow.pyfunc, pandas as pd\n"
        "m = mlflow.pyfunc.load_model('models/segmenter')\n"
        "meta = m.metadata.metadata\n"
        "t = pd.read_parquet('data/processed/features.parquet')\n"
        "latest = t[t['cutoff'] == t['cutoff'].max()]\n"
        "predicted = m.predict(latest[meta['features']].to_numpy(dtype=float))\n"
        "print(json.dumps({'features': meta['features'], 'segment_names': meta['segment_names'],\n"
        "                  'user_id': latest['user_id'].astype(str).tolist(),\n"
        "                  'segment_id': [int(v) for v in predicted]}))\n"
    )
    out = subprocess.run(
        ["python", "-c", check],
        cwd=root,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    fresh = json.loads(out.stdout.strip().splitlines()[-1])
    params = yaml.safe_load((root / "params/segments.yaml").read_text())
    # features: null clusters on every default feature the synthetic log has: all of them
    assert params["features"] is None and params["log1p"] is None
    assert fresh["features"] == list(DEFAULT_FEATURES)
    assert metrics["status"] == "complete" and metrics["notes"] == []
    assert metrics["n_features"] == len(DEFAULT_FEATURES) and metrics["features_left_out"] == 0
    summary = pd.read_csv(root / "reports/segments/features.csv")
    assert summary["feature"].tolist() == list(DEFAULT_FEATURES) and summary["clustered"].all()
    saved = dict(zip(assigned["user_id"].astype(str), assigned["segment_id"].tolist(), strict=True))
    assert dict(zip(fresh["user_id"], fresh["segment_id"], strict=True)) == saved
    names = assigned["segment_id"].astype(str).map(fresh["segment_names"])
    assert (names == assigned["segment"]).all(), assigned[names != assigned["segment"]].head()

    _, parent, children = stage_runs(root, "segments")
    assert len(children) == metrics["candidates"]
    assert all("silhouette" in c.data.metrics for c in children)
    assert parent.data.tags["status"] == "complete"
    # the choice is on the stage run and its candidate's run is tagged
    (chosen,) = [c for c in children if c.data.tags["chosen"] == "true"]
    assert parent.data.params["chosen.algorithm"] == metrics["algorithm"]
    assert parent.data.tags["chosen.candidate"] == chosen.info.run_name
    assert parent.data.params["chosen.k"] == chosen.data.params["k"]
    assert chosen.data.metrics["n_clusters"] == metrics["n_clusters"]


def test_segments_notebook_skips_with_the_reason_and_writes_its_outputs(pipeline_copy):
    """Too few users for k_min segments: the notebook ends early, exit 0, outputs empty and
    marked."""
    root = pipeline_copy
    done = run_notebook(root, "segments", "-p", "k_min", "200", "-p", "k_max", "200")
    assert done.returncode == 0, done.stderr[-3000:]
    assert_clean_outputs(root, "segments")

    metrics = json.loads((root / "reports/metrics/segments.json").read_text())
    assert metrics["status"] == "skipped"
    assert (
        "too few for 200 segments (k_min; the sweep needs at least 400 users)"
        in (metrics["skip_reason"])
    )
    assert skip_reason_of(root / "models/segmenter") == metrics["skip_reason"]
    assert pd.read_parquet(root / "data/processed/segments.parquet").empty
    assert pd.read_parquet(root / "data/processed/segment_history.parquet").empty
    header = (root / "reports/plots/segments/sweep_kmeans.csv").read_text()
    assert (
        header == "k,silhouette,davies_bouldin,calinski_harabasz,stability_ari,min_cluster_share\n"
    )
    assert (root / "reports/runs/segments.json").is_file()  # the run finished

    record = json.loads((root / "reports/runs/segments.json").read_text())
    run = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}").get_run(record["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.tags["status"] == "skipped"
    assert run.data.tags["skip_reason"] == metrics["skip_reason"]
    executed = (root / "reports/executed/03_segments.ipynb").read_text()
    assert "the rest of this notebook does not run" in executed
