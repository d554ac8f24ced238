"""CUPED's covariates: the features rows at the experiment's start, the intent model's
probability of them, and CUPAC fitted on the earlier cut-offs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from personalab.core.paths import project_paths
from personalab.core.status import StageStatus
from personalab.experiment import ExperimentParams, load_experiment, run_experiment
from personalab.experiment.covariates import (
    CovariateError,
    covariate_columns,
    covariates_of,
    fit_cupac,
)
from tests.unit.features.helpers import events_frame

ROOT = Path(__file__).resolve().parents[3]
T0 = pd.Timestamp("2026-01-05", tz="UTC")  # a Monday
WEEKS = 10


def _log(users: int = 300, seed: int = 3) -> tuple[pd.DataFrame, dict[str, float]]:
    """A weekly session per user over ``WEEKS`` weeks: two views, and a purchase with the
    user's own probability (a fifth of the users buy most weeks, the others rarely)."""
    rng = np.random.default_rng(seed)
    rows, rate = [], {}
    for u in range(users):
        user = f"u{u:03d}"
        rate[user] = 0.7 if u % 5 == 0 else 0.05
        for week in range(WEEKS):
            when = T0 + pd.Timedelta(days=7 * week + rng.uniform(0, 6), hours=rng.uniform(8, 20))
            session = f"{user}-{week}"
            rows += [(user, session, when, "view", "i1"),
                     (user, session, when + pd.Timedelta(minutes=2), "view", "i3")]  # fmt: skip
            if rng.random() < rate[user]:
                rows.append((user, session, when + pd.Timedelta(minutes=5), "purchase", "i3"))
    return events_frame(rows), rate


def test_each_metric_names_its_column():
    assert covariate_columns({"conversion": "cupac", "revenue_per_user": "orders_total"}) == {
        "conversion": "cupac_conversion", "revenue_per_user": "orders_total"
    }  # fmt: skip


def test_covariates_are_columns_predictions_and_cupac_and_the_unmade_are_missing():
    rows = pd.DataFrame({"user_id": ["a", "b"], "orders_total": [1.0, 4.0]})
    wanted = {"conversion": "cupac", "revenue_per_user": "intent_probability"}
    out = covariates_of(rows, wanted, lambda r: r["orders_total"] / 10, {"conversion": [0.2, 0.9]})
    assert out.to_dict("list") == {
        "user_id": ["a", "b"], "cupac_conversion": [0.2, 0.9], "intent_probability": [0.1, 0.4]
    }  # fmt: skip
    assert list(covariates_of(rows, wanted | {"conversion": "orders_total"})) == [
        "user_id",
        "orders_total",
    ]  # fmt: skip  (no intent model: its column is missing, and the stage says why)
    assert covariates_of(rows, {"conversion": "cupac"}) is None


def _table(events: pd.DataFrame, cutoffs: list[pd.Timestamp]) -> pd.DataFrame:
    from personalab.features.build import features_at
    from personalab.features.plan import full_plan

    return pd.concat([features_at(events, c, full_plan()) for c in cutoffs], ignore_index=True)


def test_cupac_learns_each_metric_over_the_window_from_the_cutoffs_whose_window_fits():
    events, rate = _log()
    start = T0 + pd.Timedelta(weeks=8)
    table = _table(events, [T0 + pd.Timedelta(weeks=w) for w in (4, 5, 6, 7)])
    rows = _table(events, [start]).drop(columns="cutoff")
    status = StageStatus("experiment")
    metrics = ["conversion", "revenue_per_user"]
    out, info, unlearned = fit_cupac(
        table, events, rows, start, pd.Timedelta(weeks=2), metrics, status
    )
    assert unlearned == {}
    # weeks 4, 5 and 6 have a whole two-week window by the start; week 7 does not
    assert info == {"cupac_rows": 900, "cupac_cutoffs": 3, "cupac_window_days": 14.0}
    assert status.notes == []
    buyer = rows["user_id"].map(rate).to_numpy() > 0.5
    for metric in ("conversion", "revenue_per_user"):
        assert out[metric].shape == (300,)
        assert out[metric][buyer].mean() > 3 * out[metric][~buyer].mean()
    # a purchase probability over two weeks for those who buy most weeks
    assert 0.75 < out["conversion"][buyer].mean() < 1.0


def test_cupac_cuts_the_window_at_the_start_when_none_fits_and_needs_a_cutoff_before_it():
    events, _ = _log(users=50)
    start = T0 + pd.Timedelta(weeks=8)
    table = _table(events, [T0 + pd.Timedelta(weeks=w) for w in (6, 7)])
    rows = _table(events, [start]).drop(columns="cutoff")
    status = StageStatus("experiment")
    _, info, _ = fit_cupac(
        table, events, rows, start, pd.Timedelta(weeks=4), ["conversion"], status
    )
    assert info["cupac_window_days"] == 14.0 and info["cupac_cutoffs"] == 1
    assert "no cut-off has a whole 28 days window" in status.notes[0]["message"]
    with pytest.raises(CovariateError, match="no features cut-off before the experiment's start"):
        fit_cupac(table, events, rows, T0 + pd.Timedelta(weeks=6), pd.Timedelta(weeks=1),
                  ["conversion"], status)  # fmt: skip


def test_a_metric_with_one_value_before_the_start_is_not_learned():
    events, _ = _log(users=50)
    events = events[events["event_type"] != "purchase"]
    start = T0 + pd.Timedelta(weeks=8)
    table = _table(events, [T0 + pd.Timedelta(weeks=5)])
    rows = _table(events, [start]).drop(columns="cutoff")
    out, _, unlearned = fit_cupac(
        table, events, rows, start, pd.Timedelta(weeks=2), ["conversion", "revenue_per_user"],
        StageStatus("experiment"),
    )  # fmt: skip
    assert out == {}
    assert unlearned["conversion"].startswith("its converted is 0 for every user over the next 14")
    assert "its revenue is 0" in unlearned["revenue_per_user"]


@pytest.fixture
def experiment_project(tmp_path: Path) -> Path:
    """A project whose ingest and features stages have run on :func:`_log`, with an assignment
    table of its users at the start of the log's last two weeks (no intent model)."""
    from personalab.features.build import build_features
    from personalab.features.params import FeaturesParams
    from personalab.features.support import profile_of

    paths = project_paths(tmp_path)
    shutil.copytree(ROOT / "params", paths.root / "params")
    events, _ = _log()
    paths.interim.mkdir(parents=True)
    events.to_parquet(paths.interim / "events.parquet")
    profile = profile_of(events)
    (paths.interim / "profile.json").write_text(json.dumps(profile.data))
    params = FeaturesParams.from_yaml(paths.params_file("features"))
    table = build_features(events, params, profile).table
    paths.processed.mkdir(parents=True)
    table.to_parquet(paths.processed / "features.parquet")
    users = sorted(events["user_id"].unique())
    assignments = pd.DataFrame(
        {
            "user_id": users,
            "variant": ["control", "new"] * (len(users) // 2),
            "timestamp": T0 + pd.Timedelta(weeks=WEEKS - 2),
        }  # fmt: skip
    )
    assignments.to_csv(paths.root / "assignments.csv", index=False)
    return paths.root


def test_an_assignment_table_gets_cupac_and_says_which_covariate_it_lacks(experiment_project):
    paths = project_paths(experiment_project)
    params = ExperimentParams(assignments={"path": "assignments.csv"})
    status = StageStatus("experiment")
    data = load_experiment(paths, params, status)
    assert list(data.covariates.table) == ["user_id", "cupac_conversion"]
    assert data.covariates.info["cupac_window_days"] == pytest.approx(14, abs=1)
    result = run_experiment(data, params, status)
    assert result.metrics["conversion_cuped_narrowing"] > 0.1
    assert "revenue_per_user_cuped_narrowing" not in result.metrics
    lines = "\n".join(note["message"] for note in status.notes)
    assert (
        "CUPED of revenue_per_user: no covariate intent_probability: the intent stage made no model"
        in lines
    )
    assert status.status == "partial"
