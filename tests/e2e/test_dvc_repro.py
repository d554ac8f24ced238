"""`dvc repro` in a temporary copy of the project: twice on the default source, then on a user's CSV."""

import json
import subprocess

import pandas as pd
import pytest
import yaml

from tests.conftest import tool_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def run(cmd, root, timeout=900):
    done = subprocess.run(
        cmd, cwd=root, env=tool_env(), capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, (
        f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    )
    return done.stdout + done.stderr


def edit_params(root, update):
    path = root / "params" / "ingest.yaml"
    params = yaml.safe_load(path.read_text())
    for key, value in update.items():
        params[key] = {**params[key], **value} if isinstance(value, dict) else value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def test_repro_is_idempotent_and_follows_the_data(project_copy):
    root = project_copy
    edit_params(root, {"synthetic": {"n_users": 250, "n_items": 120, "n_days": 21, "bot_users": 2}})
    run(["git", "init", "-q"], root)
    run(["git", "add", "-A"], root)
    run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "tiny"],
        root,
    )

    run(["dvc", "repro"], root)
    metrics = json.loads((root / "reports/metrics/ingest.json").read_text())
    lock = (root / "dvc.lock").read_text()
    assert metrics["bot_users"] == 2 and metrics["rows_valid"] > 0

    second = run(["dvc", "repro"], root)
    assert "didn't change, skipping" in second
    assert (root / "dvc.lock").read_text() == lock
    assert json.loads((root / "reports/metrics/ingest.json").read_text()) == metrics
    assert "up to date" in run(["dvc", "status"], root)

    # a user's own export, with other column names (the README's example)
    run(["python", "-m", "personalab.synth", "data/raw/shop.csv", "--users", "150", "--days", "14",
         "--rename", "user_id=visitor", "timestamp=ts", "event_type=action", "item_id=sku"], root)  # fmt: skip
    edit_params(root, {"source": {"format": "csv", "path": "data/raw/shop.csv",
                                  "columns": {"visitor": "user_id", "ts": "timestamp", "action": "event_type", "sku": "item_id"}}})  # fmt: skip
    run(["dvc", "repro"], root)
    own = json.loads((root / "reports/metrics/ingest.json").read_text())
    assert own["rows_read"] == len(pd.read_csv(root / "data/raw/shop.csv"))
    assert (
        len(pd.read_parquet(root / "data/interim/truth.parquet")) == 0
    )  # no ground truth for real data

    # replacing the data file makes the stage stale
    with open(root / "data/raw/shop.csv", "a") as handle:
        handle.write(
            "e99999999,u000001,2026-01-05T10:00:00Z,view,i00001,books,9.99,,,12.0,,mobile,direct\n"
        )
    status = run(["dvc", "status"], root)
    assert "ingest" in status and "data/raw/shop.csv" in status
