"""`dvc repro` in a temporary copy of the project: twice on the default source, then on a user's CSV."""

import json
import subprocess

import pandas as pd
import pytest

from tests.conftest import TINY_SYNTH, tool_env, update_params
from tests.notebooks.conftest import TINY_PARAMS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
STAGES = ("ingest", "features", "segments", "intent", "recommend")


def run(cmd, root, timeout=900):
    done = subprocess.run(
        cmd, cwd=root, env=tool_env(), capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, (
        f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    )
    return done.stdout + done.stderr


def metrics_of(root):
    return {
        stage: json.loads((root / f"reports/metrics/{stage}.json").read_text()) for stage in STAGES
    }


def test_repro_is_idempotent_and_follows_the_data(project_copy):
    root = project_copy
    for stage, update in TINY_PARAMS.items():
        update_params(root, stage, update)
    run(["git", "init", "-q"], root)
    run(["git", "add", "-A"], root)
    run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "tiny"],
        root,
    )

    first = run(["dvc", "repro"], root)
    assert all(f"Running stage '{stage}'" in first for stage in STAGES)
    metrics = metrics_of(root)
    lock = (root / "dvc.lock").read_text()
    assert metrics["ingest"]["bot_users"] == TINY_SYNTH["bot_users"]
    assert metrics["features"]["cutoffs"] == 4 and metrics["features"]["rows"] > 0
    assert metrics["segments"]["users"] > 0 and "ari_vs_truth" in metrics["segments"]
    assert metrics["intent"]["n_trials"] == 3 and "oracle_roc_auc" in metrics["intent"]
    assert (root / "models/candidates/intent/MLmodel").is_file()
    assert metrics["recommend"]["ndcg_at_10"] > metrics["recommend"]["random_ndcg_at_10"]
    assert (root / "models/candidates/recommender/MLmodel").is_file()
    recs = pd.read_parquet(root / "data/processed/recommendations.parquet")
    events = pd.read_parquet(root / "data/interim/events.parquet")
    assert set(recs["user_id"]) == set(events["user_id"])

    second = run(["dvc", "repro"], root)
    assert all(f"Stage '{stage}' didn't change, skipping" in second for stage in STAGES)
    assert (root / "dvc.lock").read_text() == lock
    assert metrics_of(root) == metrics
    assert "up to date" in run(["dvc", "status"], root)

    # a user's own export with other column names (the README's example) re-runs both stages
    run(["python", "-m", "personalab.synth", "data/raw/shop.csv", "--users", "150", "--days", "14",
         "--rename", "user_id=visitor", "timestamp=ts", "event_type=action", "item_id=sku"], root)  # fmt: skip
    mapping = {"visitor": "user_id", "ts": "timestamp", "action": "event_type", "sku": "item_id"}
    update_params(
        root,
        "ingest",
        {"source": {"format": "csv", "path": "data/raw/shop.csv", "columns": mapping}},
    )
    third = run(["dvc", "repro"], root)
    assert all(f"Running stage '{stage}'" in third for stage in STAGES)
    own = metrics_of(root)
    assert own["ingest"]["rows_read"] == len(pd.read_csv(root / "data/raw/shop.csv"))
    assert own["features"]["cutoffs"] >= 1
    assert "ari_vs_truth" not in own["segments"]  # no truth for a user's own data
    assert "oracle_roc_auc" not in own["intent"] and own["intent"]["test_rows"] > 0
    assert own["recommend"]["test_users"] > 0 and own["recommend"]["interaction_users"] <= 150
    assert (
        len(pd.read_parquet(root / "data/interim/truth.parquet")) == 0
    )  # no ground truth for real data

    # changing the data file makes the pipeline stale
    with open(root / "data/raw/shop.csv", "a") as handle:
        handle.write(
            "e99999999,u000001,2026-01-05T10:00:00Z,view,i00001,books,9.99,,,12.0,,mobile,direct\n"
        )
    status = run(["dvc", "status"], root)
    assert "ingest" in status and "data/raw/shop.csv" in status
