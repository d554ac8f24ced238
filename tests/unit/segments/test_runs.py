"""What the segments stage records in MLflow: a nested run per candidate with its real times,
the chosen one tagged, and the choice on the stage run."""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient

from personalab.core import tracking
from personalab.core.paths import ProjectPaths
from personalab.segments.runs import log_candidate_runs
from tests.unit.segments.helpers import blobs, build, feature_table, seg_params


def test_candidate_runs_carry_their_times_and_the_chosen_one_is_tagged(tmp_path, mlflow_tmp):
    X, _ = blobs(n=200)
    params = seg_params(algorithms=["kmeans", "hdbscan"], k_max=5)
    result = build(feature_table(X), params)[0]
    assert result.chosen.name == "kmeans-k4"
    (tmp_path / "proj" / "params").mkdir(parents=True)
    parent = tracking.start_stage_run("segments", params, paths=ProjectPaths(tmp_path / "proj"))
    ids = log_candidate_runs(result)
    tracking.end_stage_run()

    client = MlflowClient()
    runs = {client.get_run(i).info.run_name: client.get_run(i) for i in ids}
    assert (
        list(runs) == [c.name for c in result.candidates] == result.comparison["candidate"].tolist()
    )
    assert "hdbscan" in runs and runs["hdbscan"].data.params["k"] == "auto"
    for candidate in result.candidates:
        run = runs[candidate.name]
        assert run.info.start_time == int(round(candidate.started * 1000))
        assert run.info.end_time - run.info.start_time == pytest.approx(
            candidate.scores["seconds"] * 1000, abs=5
        )  # when it was fitted and scored, not when it was logged
        assert run.data.tags["chosen"] == ("true" if candidate is result.chosen else "false")
    stage = client.get_run(parent)
    expected = {"candidate": "kmeans-k4", "algorithm": "kmeans", "k": "4", "fallback": "false"}
    assert {k: stage.data.params[f"chosen.{k}"] for k in expected} == expected
    assert {k: stage.data.tags[f"chosen.{k}"] for k in expected} == expected
    assert stage.data.tags["chosen.run_id"] == runs["kmeans-k4"].info.run_id
