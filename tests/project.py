"""The tiny project the end-to-end and notebook tests share: the project's files with tiny but
complete params (:data:`TINY_PARAMS`), committed to git, after one ``dvc repro`` of the whole
pipeline. It is built once per test run (:func:`built_project`), and each test that changes it
works in a copy of its own (:func:`project_after_repro`).
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import TINY_SYNTH, copy_project, run_tool, tool_env, update_params

#: tiny but complete settings per stage
TINY_PARAMS = {
    "ingest": {"synthetic": TINY_SYNTH},
    # 4 cut-offs 3 days apart with a 3-day label horizon: enough for a temporal intent split
    "features": {"cutoffs": {"every_days": 3, "over_last_days": 9}, "horizon_days": 3.0},
    "segments": {
        "algorithms": ["kmeans", "gmm", "agglomerative"],
        "k_min": 2,
        "k_max": 5,
        "agglomerative_sample": 500,
        "stability_resamples": 2,
        "stability_sample": 500,
        "silhouette_sample": 1000,
    },
    # one XGBoost thread: the e2e tests run two pipelines at once on two cores, and two
    # processes each spinning on every core made a 1-second fit take 24
    "intent": {"tuning": {"n_trials": 3, "max_rounds": 60, "startup_trials": 2, "n_jobs": 1}},
    "recommend": {
        "algorithms": {  # the default entries, smaller
            "ALS": {"class": "AlternatingLeastSquares", "factors": 8, "iterations": 5},
            "BPR": {"class": "BayesianPersonalizedRanking", "factors": 8, "iterations": 20},
            "EASE": {"class": "EASE", "l2": 50.0, "neighbours": 100, "max_items": 1000},
            "ItemKNN": {"class": "CosineRecommender", "K": 20},
            "SAR": {"class": "SAR"},
            "SVD": {"n_factors": 8, "n_epochs": 10},
        },
        "tuning": {"n_trials": 2},
        "cross_validation": {"folds": 3, "max_pairs": 5000},
    },
}
#: where the built project's `dvc repro` output is kept, beside the project
REPRO_LOG = "repro.log"


def tiny_project(root: Path) -> Path:
    """The project's files at ``root`` with :data:`TINY_PARAMS`, committed to a new git
    repository (as a user's clone is)."""
    copy_project(root)
    for stage, update in TINY_PARAMS.items():
        update_params(root, stage, update)
    run_tool(["git", "init", "-q"], root)
    commit_all(root, "tiny")
    return root


def commit_all(root: Path, message: str) -> None:
    """Commit everything in ``root``'s git repository (a test's author and e-mail)."""
    run_tool(["git", "add", "-A"], root)
    who = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    run_tool(["git", *who, "commit", "-qm", message], root)


def _build(root: Path) -> None:
    tiny_project(root)
    done = subprocess.run(
        ["dvc", "repro"], cwd=root, env=tool_env(), capture_output=True, text=True, timeout=1800
    )
    (root.parent / REPRO_LOG).write_text(done.stdout + done.stderr)
    assert done.returncode == 0, f"dvc repro failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"


def built_project(factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """:func:`tiny_project` after `dvc repro`, built once per test run: under pytest-xdist the
    first worker to ask builds it in the run's common folder while the others wait. Read it,
    do not change it (copy it: :func:`project_after_repro`)."""
    # the run's common folder under pytest-xdist; this session's own when not distributed
    common = factory.getbasetemp() if worker_id == "master" else factory.getbasetemp().parent
    built = common / "built" / "project"
    with open(common / "built.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (common / "built.done").is_file():
            if built.parent.exists():  # a build that failed in another worker: again, here
                shutil.rmtree(built.parent)
            built.parent.mkdir(parents=True)
            _build(built)
            (common / "built.done").touch()
    return built


def project_after_repro(
    factory: pytest.TempPathFactory, worker_id: str, dest: Path
) -> tuple[Path, str]:
    """A copy at ``dest`` of :func:`built_project` (its git repository, DVC cache, tracking
    store and artifacts; the store pointed at the copy's artifacts) and the build's
    `dvc repro` output."""
    from personalab.core.experiments import relocate_artifacts
    from personalab.core.paths import project_paths

    built = built_project(factory, worker_id)
    shutil.copytree(built, dest, symlinks=True)
    moved = relocate_artifacts(project_paths(dest))
    assert moved, f"the store copied to {dest} still points at {built}"
    return dest, (built.parent / REPRO_LOG).read_text()
