"""notebooks/05_recommend.ipynb as `dvc repro` ran it with tiny params, then run again."""

import json
import subprocess

import pandas as pd
import pytest
import yaml

from personalab.core.paths import project_paths
from personalab.core.registry import current_lineage
from tests.conftest import run_notebook, stage_runs, tool_env
from tests.notebooks.outputs import assert_clean_outputs

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

ALGORITHMS = ("ALS", "BPR", "EASE", "ItemKNN", "SAR", "SVD")
CHAMPION_KEYS = (
    "algorithm", "precision_at_10", "recall_at_10", "ndcg_at_10", "map_at_10",
    "hit_rate_at_10", "coverage", "novelty", "fallback_share", "popularity_ndcg_at_10",
)  # fmt: skip


def test_recommend_notebook_compares_recommends_everyone_and_registers(pipeline_copy):
    root = pipeline_copy  # the whole pipeline ran there with tiny params
    assert_clean_outputs(root, "recommend")

    metrics = json.loads((root / "reports/metrics/recommend.json").read_text())
    models = (*ALGORITHMS, "popularity", "random")
    expected = {f"{a}_{m}" for a in models for m in ("precision_at_10", "ndcg_at_10")}
    assert expected | set(CHAMPION_KEYS) <= set(metrics), expected - set(metrics)
    assert not any(key.endswith("rmse") for key in metrics)  # implicit feedback: no rating error
    assert metrics["algorithm"] in (*ALGORITHMS, "popularity")
    assert metrics["status"] == "complete"  # the log teaches a recommender
    assert not [note for note in metrics["notes"] if "left out" in note], metrics["notes"]
    assert metrics["next_item_sessions"] > 0  # the synthetic log's sessions teach what is next
    assert metrics["ndcg_at_10"] == metrics[f"{metrics['algorithm']}_ndcg_at_10"]
    assert metrics["random_ndcg_at_10"] < metrics["ndcg_at_10"]
    assert 0 < metrics["coverage"] <= 1 and metrics["novelty"] > 0

    # every user of the event log has a top-N list; those the model cannot serve are flagged
    events = pd.read_parquet(root / "data/interim/events.parquet")
    recs = pd.read_parquet(root / "data/processed/recommendations.parquet")
    assert list(recs.columns) == ["user_id", "rank", "item_id", "score", "fallback"]
    assert set(recs["user_id"]) == set(events["user_id"])
    assert recs.groupby("user_id")["rank"].max().le(10).all()
    per_user = recs.drop_duplicates("user_id").set_index("user_id")["fallback"]
    assert metrics["fallback_share"] == pytest.approx(per_user.mean())
    # users below min_user_interactions get the popularity list (the tiny log has dozens)
    params = yaml.safe_load((root / "params/recommend.yaml").read_text())
    minimum = params["interactions"]["min_user_interactions"]
    pairs = events.groupby("user_id")["item_id"].nunique()
    below = pairs.index[pairs < minimum]
    assert len(below) >= 10, pairs.describe()
    assert per_user.loc[below].all(), per_user.loc[below][~per_user.loc[below]]
    served = recs[~recs["fallback"]]
    seen = events.dropna(subset=["item_id"])[["user_id", "item_id"]].drop_duplicates()
    clash = served.merge(seen, on=["user_id", "item_id"])
    assert clash.empty, clash.head()  # no item the user already interacted with
    for name in ("comparison", "tuning"):
        assert (root / f"reports/figures/recommend/{name}.png").stat().st_size > 10_000
    table = pd.read_csv(root / "reports/recommend/comparison.csv")
    assert set(table["model"]) == {*ALGORITHMS, "popularity", "random"}
    assert table["champion"].sum() == 1

    client, parent, children = stage_runs(root, "recommend")
    assert len(children) == 2 + 5 + 2  # ALS trials, fixed ones, baselines
    assert parent.data.tags["registry.alias"] == "champion"
    assert parent.data.tags["status"] == "complete"
    assert parent.data.tags["algorithm"] == metrics["algorithm"]
    # the champion is the stage run's choice; the trial it came from is tagged
    assert parent.data.params["chosen.algorithm"] == metrics["algorithm"]
    (chosen,) = [c for c in children if c.data.tags["chosen"] == "true"]
    assert chosen.data.params["algorithm"] == metrics["algorithm"]
    assert parent.data.tags["chosen.run_id"] == chosen.info.run_id
    for child in children:  # each run lasts as long as its trial did
        lasted = child.info.end_time - child.info.start_time
        assert lasted == pytest.approx(1000 * child.data.metrics["seconds"], abs=2)
    champion = client.get_model_version_by_alias("personalab-recommender", "champion")
    assert str(champion.version) == "1" and champion.tags["primary_metric"] == "ndcg_at_10"
    lineage = current_lineage(project_paths(root))  # of the tiny synthetic source
    assert champion.tags["lineage"] == lineage.key == parent.data.tags["registry.lineage"]
    of_lineage = client.get_model_version_by_alias(
        "personalab-recommender", lineage.alias("champion")
    )
    assert str(of_lineage.version) == "1"

    # the served model loads in a fresh process from the registry: known and unknown users, k param
    known = recs.loc[~recs["fallback"], "user_id"].iloc[0]
    check = (
        "import mlflow.pyfunc, pandas as pd\n"
        "m = mlflow.pyfunc.load_model('models:/personalab-recommender@champion')\n"
        f"out = m.predict(pd.DataFrame({{'user_id': [{known!r}, 'newcomer']}}), params={{'k': 3}})\n"
        "print(out.groupby('user_id')['fallback'].first().to_dict(), len(out))\n"
    )
    out = subprocess.run(
        ["python", "-c", check],
        cwd=root,
        env=tool_env(MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.stdout.strip().endswith(f"{{'newcomer': True, {known!r}: False}} 6"), out.stderr[
        -2000:
    ]

    # the same recipe on the same data does not beat itself: the new version is the challenger
    again = run_notebook(root, "recommend")
    assert again.returncode == 0, again.stderr[-3000:]
    assert (
        str(client.get_model_version_by_alias("personalab-recommender", "challenger").version)
        == "2"
    )
    assert (
        str(client.get_model_version_by_alias("personalab-recommender", "champion").version) == "1"
    )
