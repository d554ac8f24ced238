"""`dvc repro` on a small log of every shape (:mod:`tests.shapes`): each completes, every stage
says what it did, and a served model comes out of each.

Params are the tiny test settings (tests.project.TINY_PARAMS) for tuning budgets only;
everything the stages adapt to the log (cut-offs, feature families, segment features, the
intent target, recommenders) is at its default. The shape projects run two at a time.
"""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from tests.conftest import copy_project, run_tool, tool_env, update_params
from tests.project import TINY_PARAMS, commit_all
from tests.shapes import clean_log, write_shapes

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
STAGES = (
    "ingest", "features", "segments", "intent", "recommend", "monitor", "experiment", "export",
)  # fmt: skip
#: tuning budgets only: the defaults that adapt to the log stay as shipped
BUDGETS = {
    "intent": TINY_PARAMS["intent"],
    "recommend": {"tuning": {"n_trials": 2}, "cross_validation": {"folds": 3, "max_pairs": 5000}},
    "segments": {k: v for k, v in TINY_PARAMS["segments"].items()},
}

#: shape -> {stage: expected status, or (status, words the reason or notes must hold)}
EXPECTED = {
    "ratings": {
        "features": ("partial", "dwell_mean"),
        "intent": ("skipped", "purchase"),
        "recommend": "complete",
        "monitor": ("partial", "no intent champion: the intent stage skipped"),
        "experiment": ("skipped", "name an assignment table"),
        "export": ("partial", "intent"),
    },
    "sessions": {
        "ingest": ("complete", "sessions stand for users"),
        "intent": ("skipped", "purchase"),
        "monitor": ("partial", "no intent champion: the intent stage skipped"),
        "export": ("partial", "intent"),
    },
    "orders": {"features": ("partial", "dwell_mean")},
    "short": {
        "features": ("partial", "horizon 1 hour, cut-offs every hour"),
        "intent": "complete",
        "export": "complete",
    },
}
#: each kind of log once (ratings only; sessions without users; purchases only, coarse-timed;
#: a short full funnel). The purchase, funnel and pages shapes are left to the stage tests
#: (ingest, features, online parity on both engines): the orders shape is a log of purchases
#: only too, and a full funnel runs end to end in test_dvc_repro.py and as the short shape.
#: (A pipeline costs about 90 core-seconds, most of it each stage's start: its kernel, MLflow.)


def repro(root):
    """Commit the project copy (as a user's clone is), then `dvc repro`."""
    run_tool(["git", "init", "-q"], root)
    commit_all(root, "log")
    done = subprocess.run(
        ["dvc", "repro"], cwd=root, env=tool_env(), capture_output=True, text=True, timeout=1200
    )
    return done.returncode, done.stdout + done.stderr


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """{shape: (project root, dvc repro exit code, its output)}, all shapes run."""
    events = clean_log()
    roots = {}
    for shape in EXPECTED:
        root = copy_project(tmp_path_factory.mktemp(shape) / "project")
        source = write_shapes(root / "data", [shape], events)[shape]
        update_params(root, "ingest", {"source": source})
        for stage, update in BUDGETS.items():
            update_params(root, stage, update)
        roots[shape] = root
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(roots, pool.map(repro, roots.values()), strict=True))
    return {shape: (roots[shape], *results[shape]) for shape in roots}


def statuses(root):
    return {s: json.loads((root / f"reports/metrics/{s}.json").read_text()) for s in STAGES}


@pytest.mark.parametrize("shape", list(EXPECTED))
def test_every_shape_completes_and_each_stage_says_what_it_did(shapes, shape):
    root, code, output = shapes[shape]
    assert code == 0, f"dvc repro on the {shape} log failed:\n{output[-5000:]}"
    metrics = statuses(root)
    for stage in STAGES:
        assert metrics[stage]["status"] in ("complete", "partial", "skipped"), stage
        if metrics[stage]["status"] == "skipped":
            assert metrics[stage]["skip_reason"], stage
    for stage, expected in EXPECTED[shape].items():
        status, words = expected if isinstance(expected, tuple) else (expected, "")
        said = " ".join([metrics[stage].get("skip_reason") or "", *metrics[stage]["notes"]])
        assert metrics[stage]["status"] == status, (stage, metrics[stage])
        assert words in said, (stage, said)
    table = pd.read_csv(root / "reports/recommend/comparison.csv").set_index("model")
    if len(table):  # the served recommender never ranks below popularity on validation
        metric = f"validation_{metrics['recommend']['selection_metric']}"
        champion = table.loc[table["champion"], metric].iloc[0]
        assert champion >= table.loc["popularity", metric], table[[metric, "champion"]]
    # the end of `dvc repro` says what each stage did
    for stage in STAGES:
        assert f"{stage:<10} {metrics[stage]['status']}" in output, stage
    # a served model comes out of every log with items
    served = [
        m for m in ("recommender", "personalise") if (root / "models" / m / "MLmodel").is_file()
    ]
    assert "personalise" in served, served
    summary = (root / "reports/summary.md").read_text()
    for stage in STAGES:
        assert stage in summary


def test_a_users_own_csv_is_mapped_and_is_a_dependency(shapes):
    """The short log is a shop's CSV under its own column names (the README's mapping)."""
    root, code, _ = shapes["short"]
    assert code == 0
    metrics = statuses(root)
    assert metrics["ingest"]["rows_read"] == len(pd.read_csv(root / "data/short/shop.csv"))
    assert len(pd.read_parquet(root / "data/interim/truth.parquet")) == 0  # no ground truth
    assert "ari_vs_truth" not in metrics["segments"] and "oracle_roc_auc" not in metrics["intent"]
    assert metrics["intent"]["test_rows"] > 0 and metrics["recommend"]["test_users"] > 0
    recs = pd.read_parquet(root / "data/processed/recommendations.parquet")
    events = pd.read_parquet(root / "data/interim/events.parquet")
    assert set(recs["user_id"]) <= set(events["user_id"])
    # changing the data file makes the pipeline stale
    with open(root / "data/short/shop.csv", "a") as handle:
        handle.write(
            "e99999999,u000001,2026-01-01T05:00:00Z,view,i00001,books,9.99,,,12.0,,mobile,direct\n"
        )
    status = subprocess.run(["dvc", "status"], cwd=root, env=tool_env(), capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    assert "ingest" in status and "data/short/shop.csv" in status
