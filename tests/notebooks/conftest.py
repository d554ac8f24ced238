"""A project copy where the upstream notebooks have run with tiny parameters, shared by the notebook tests."""

import fcntl
import shutil

import pytest

from tests.conftest import TINY_SYNTH, copy_project, run_notebook, update_params

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


def build_pipeline(root):
    """A project copy at ``root`` with tiny params in which ingest and features have run
    (their notebooks, each attached to its run)."""
    copy_project(root)
    for stage, update in TINY_PARAMS.items():
        update_params(root, stage, update)
    for stage in ("ingest", "features"):
        done = run_notebook(root, stage)
        assert done.returncode == 0, done.stderr[-3000:]
    return root


@pytest.fixture(scope="session")
def pipeline_copy(tmp_path_factory, worker_id):
    """:func:`build_pipeline`'s project, built once per test run: under pytest-xdist the first
    worker to ask builds it in the run's common folder while the others wait, and each worker
    gets a copy of its own (the tests run more stages in it; a copied project's tracking store
    points itself into the copy)."""
    own = tmp_path_factory.mktemp("pipeline") / "project"
    if worker_id == "master":  # not distributed
        return build_pipeline(own)
    common = tmp_path_factory.getbasetemp().parent
    built = common / "pipeline-built" / "project"
    with open(common / "pipeline-built.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (common / "pipeline-built.done").is_file():
            build_pipeline(built)
            (common / "pipeline-built.done").touch()
    shutil.copytree(built, own)
    return own
