"""The stage's files when it skips (every output dvc.yaml declares, empty and marked) and its
figures when there is little or nothing to compare."""

import json

import pandas as pd
import pytest
import yaml

from personalab.core.paths import project_paths
from personalab.core.status import StageStatus, skip_reason_of
from personalab.recommend.comparison import compare
from personalab.recommend.io import (
    RECOMMENDATION_COLUMNS,
    empty_recommendations,
    save_recommend,
    save_skipped,
)
from personalab.recommend.learnable import NO_ITEMS
from personalab.recommend.params import RecommendParams
from personalab.recommend.plots import plot_comparison, plot_tuning
from personalab.recommend.tuning import tune

PARAMS = RecommendParams.from_mapping({})


def declared_outputs():
    """The recommend stage's outs, metrics and plots in dvc.yaml (paths relative to the root)."""
    stage = yaml.safe_load((project_paths().root / "dvc.yaml").read_text())["stages"]["recommend"]
    out = []
    for key in ("outs", "metrics", "plots"):
        for entry in stage.get(key, []):
            out.append(next(iter(entry)) if isinstance(entry, dict) else entry)
    return out


@pytest.fixture
def skipped(tmp_path):
    (tmp_path / "dvc.yaml").touch()
    paths = project_paths(tmp_path)
    stale = paths.candidates / "recommender" / "artifacts"
    stale.mkdir(parents=True)
    (stale / "model.npz").write_bytes(b"an earlier run's model")
    (paths.candidates / "recommender" / "MLmodel").write_text("old")
    status = StageStatus("recommend")
    status.skip(NO_ITEMS)
    return paths, save_skipped(status, paths, PARAMS)


def test_a_skipped_stage_writes_every_declared_output(skipped):
    paths, _ = skipped
    declared = declared_outputs()
    assert "models/candidates/recommender" in declared and len(declared) >= 7
    missing = [name for name in declared if not (paths.root / name).exists()]
    assert missing == []


def test_the_model_folder_holds_only_the_marker_with_the_reason(skipped):
    paths, written = skipped
    folder = paths.candidates / "recommender"
    assert [p.name for p in folder.iterdir()] == ["SKIPPED.json"]
    assert written["model"] == folder / "SKIPPED.json"
    assert skip_reason_of(folder) == NO_ITEMS


def test_the_tables_have_their_columns_and_no_row(skipped):
    paths, _ = skipped
    recs = pd.read_parquet(paths.processed / "recommendations.parquet")
    assert list(recs.columns) == list(RECOMMENDATION_COLUMNS) and recs.empty
    assert str(recs["rank"].dtype) == "int64" and recs["fallback"].dtype == bool
    plots = paths.plots_dir("recommend")
    assert (plots / "comparison.csv").read_text().splitlines() == ["model,ndcg_at_10"]
    assert (plots / "tuning.csv").read_text().splitlines() == ["algorithm,trial,state,value,best"]
    header = (paths.reports / "recommend" / "comparison.csv").read_text().splitlines()
    assert header[0].startswith("model,kind,champion,target,validation_ndcg_at_10")
    assert len(header) == 1
    assert "seconds" not in header[0]


def test_the_metrics_say_skipped_and_why(skipped):
    paths, written = skipped
    metrics = json.loads(written["metrics"].read_text())
    assert metrics == {
        "status": "skipped",
        "skip_reason": NO_ITEMS,
        "notes": [f"skipped: {NO_ITEMS}"],
    }
    assert written["figures"].is_dir() and not any(written["figures"].iterdir())


def test_figures_without_a_test_split_or_trials_say_why():
    status = StageStatus("recommend")
    tuning = tune(None, PARAMS)
    assert tuning.trials.empty and list(tuning.trials.columns)[:5] == [
        "algorithm",
        "number",
        "state",
        "value",
        "seconds",
    ]
    comparison = compare(pd.DataFrame(), None, tuning, PARAMS, status)
    assert comparison.champion == "popularity"
    texts = [t.get_text() for t in plot_comparison(comparison.table, PARAMS).axes[0].texts]
    assert texts == ["No comparison: no pair could be held out to evaluate a recommender"]
    texts = [t.get_text() for t in plot_tuning(tuning.trials, "ndcg_at_10").axes[0].texts]
    assert texts == ["No tuning trials: nothing was evaluated"]


def test_the_comparison_figure_of_the_baselines_alone_says_no_filter_was_learned(stage):
    params, interactions, holdout, validation = stage
    tuning = tune(validation, params, {})
    comparison = compare(interactions.ratings, holdout, tuning, params)
    figure = plot_comparison(comparison.table, params)
    assert figure.axes[1].get_title() == "precision_at_10 on the test users"  # no rating RMSE
    assert {t.get_text() for t in figure.axes[0].get_yticklabels()} == {"random", "popularity"}


def test_saved_files_hold_no_timing_and_the_run_gets_the_timings(stage, tmp_path, monkeypatch):
    import mlflow

    params, interactions, holdout, validation = stage
    tuning = tune(validation, params)
    comparison = compare(interactions.ratings, holdout, tuning, params)
    (tmp_path / "dvc.yaml").touch()
    paths = project_paths(tmp_path)
    logged = {}
    monkeypatch.setattr(mlflow, "active_run", lambda: "the stage run")
    monkeypatch.setattr(mlflow, "log_metrics", logged.update)
    metrics = {"selection_metric": "ndcg_at_10", "ndcg_at_10": 0.5}
    written = save_recommend(empty_recommendations(), comparison, tuning, metrics, tmp_path, paths)

    for name in ("comparison", "comparison_plot", "tuning"):
        assert "seconds" not in written[name].read_text(), name  # the same on every re-run
    plotted = pd.read_csv(written["comparison_plot"])
    assert list(plotted.columns) == ["model", "ndcg_at_10"]
    assert plotted["ndcg_at_10"].is_monotonic_decreasing
    assert set(plotted["model"]) == {"SVD", "BaselineOnly", "popularity", "random"}
    # only the tuned algorithm's trials, each with the best so far (no baseline at "trial 0")
    trials = pd.read_csv(written["tuning"])
    assert trials["algorithm"].tolist() == ["SVD", "SVD"] and trials["trial"].tolist() == [0, 1]
    assert trials["best"].tolist() == pytest.approx(trials["value"].cummax().tolist())
    # the timings are the run's metrics
    fitted = comparison.table.set_index("model")["fit_seconds"]
    assert logged["SVD_fit_seconds"] == fitted["SVD"]
    assert {"popularity_predict_seconds", "SVD_predict_seconds", "BaselineOnly_fit_seconds"} <= set(
        logged
    )
    assert not any(key.startswith("random_cv") for key in logged)  # a baseline has no CV

    # a re-run: the same results, other timings -> the same bytes
    before = {name: written[name].read_bytes() for name in ("comparison", "comparison_plot")}
    slower = comparison.table.assign(fit_seconds=comparison.table["fit_seconds"] * 2)
    comparison.table = slower
    again = save_recommend(empty_recommendations(), comparison, tuning, metrics, tmp_path, paths)
    assert {name: again[name].read_bytes() for name in before} == before
