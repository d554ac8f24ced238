"""Unit tests of personalab.experiment: outcomes, tea-tasting's tests, the simulation, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personalab.experiment.analysis import analyze, user_outcomes
from personalab.experiment.params import ExperimentError, ExperimentParams
from personalab.experiment.simulate import UserArms, expected, simulate
from personalab.experiment.stage import choose_control, read_assignments, trending_unseen

T0 = pd.Timestamp("2026-04-01", tz="UTC")


def test_outcomes_count_from_the_assignment_within_the_window():
    assignments = pd.DataFrame(
        {
            "user_id": ["a", "b", "c", "a"],
            "variant": ["control", "new", "new", "new"],
            "timestamp": [T0, T0, T0 + pd.Timedelta(days=1), T0 + pd.Timedelta(days=3)],
        }  # fmt: skip
    )
    events = pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "b", "c", "c"],
            "timestamp": [
                T0 - pd.Timedelta(hours=1),
                T0 + pd.Timedelta(hours=1),
                T0 + pd.Timedelta(days=2),
                T0 + pd.Timedelta(days=9),
                T0 + pd.Timedelta(days=2),
                T0 + pd.Timedelta(days=2),
            ],  # fmt: skip
            "event_type": ["purchase", "purchase", "purchase", "purchase", "click", "click"],
            "item_id": ["x", "x", "y", "y", "shown", "other"],
            "price": [100.0, 10.0, 5.0, 7.0, np.nan, np.nan],
        }
    )
    impressions = pd.DataFrame(
        {"user_id": ["c", "b"], "item_id": ["shown", "y"], "impressions": [4, 2]}
    )
    covariates = pd.DataFrame({"user_id": ["a"], "orders_total": [3]})
    out = user_outcomes(assignments, events, impressions, pd.Timedelta(days=7), covariates)
    out = out.set_index("user_id")
    assert out.loc["a", "variant"] == "control"  # the first assignment counts
    assert out["converted"].to_dict() == {"a": 1.0, "b": 1.0, "c": 0.0}
    assert out["revenue"].to_dict() == {
        "a": 10.0,
        "b": 5.0,
        "c": 0.0,
    }  # before / past the window: no
    assert (
        out.loc["c", "rec_clicks"] == 1 and out.loc["c", "impressions"] == 4
    )  # on shown items only
    assert out["orders_total"].to_dict() == {"a": 3.0, "b": 0.0, "c": 0.0}


def _outcomes(n: int, share: float, effect: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    activity = rng.random(n)
    treated = rng.random(n) < share
    p = (0.05 + 0.7 * activity) * np.where(treated, 1 + effect, 1.0)
    converted = (rng.random(n) < p).astype(float)
    return pd.DataFrame(
        {
            "user_id": np.arange(n).astype(str),
            "variant": np.where(treated, "new", "control"),
            "converted": converted,
            "revenue": (activity * 50 + rng.normal(0, 10, n)) * np.where(treated, 1 + effect, 1.0),
            "pre": rng.poisson(activity * 100).astype(float),
        }  # fmt: skip
    )


def test_a_52_48_split_at_20000_users_is_a_sample_ratio_mismatch_and_50_50_is_not():
    skewed = analyze(_outcomes(20_000, 0.48, 0.0, 1), "control", {})
    assert bool(skewed.srm["mismatch"].item()) and skewed.srm["pvalue"].item() < 1e-4
    fair = analyze(_outcomes(20_000, 0.5, 0.0, 2), "control", {})
    assert not fair.srm["mismatch"].item()
    designed = analyze(
        _outcomes(20_000, 0.48, 0.0, 1), "control", {}, {"control": 0.52, "new": 0.48}
    )
    assert not designed.srm["mismatch"].item()


def test_uplift_interval_cuped_narrowing_and_power():
    result = analyze(
        _outcomes(40_000, 0.5, 0.2, 3), "control", {"conversion": "pre", "revenue_per_user": "pre"}
    )
    rows = result.results.set_index("metric")
    assert (
        rows.loc["conversion", "uplift_ci_lower"] < 0.2 < rows.loc["conversion", "uplift_ci_upper"]
    )
    assert rows.loc["conversion", "pvalue"] < 1e-6
    narrowing = result.cuped.set_index("metric")["narrowing"]
    assert narrowing["revenue_per_user"] > 0.3  # the covariate predicts the outcome closely
    assert 0 < narrowing["conversion"] < narrowing["revenue_per_user"]  # a 0/1 outcome: less
    assert "ctr" not in rows.index  # no impressions
    plain = analyze(_outcomes(40_000, 0.5, 0.2, 3), "control", {})
    assert "conversion_cuped" not in set(plain.results["metric"])  # no covariate named
    mde = result.power.set_index("metric")["min_detectable_uplift"]
    assert 0 < mde["conversion_cuped"] < mde["conversion"] < 0.2


def _arms(n: int = 4000) -> UserArms:
    rng = np.random.default_rng(0)
    k = 3
    return UserArms(
        user_id=np.array([f"u{i}" for i in range(n)], dtype=object),
        sessions=rng.gamma(2.0, 1.0, n),
        purchase={"old": np.full(n, 0.1), "new": np.full(n, 0.15)},
        items={
            p: np.tile(np.array(["i1", "i2", "i3"], dtype=object), (n, 1)) for p in ("old", "new")
        },
        clicks={"old": np.full((n, k), 0.1), "new": np.full((n, k), 0.2)},
        prices={p: np.tile([10.0, 20.0, 30.0], (n, 1)) for p in ("old", "new")},
    )


def test_the_simulation_draws_what_its_truth_says():
    arms = _arms()
    sims = [simulate(arms, "old", "new", T0, 14, 0.5, seed=s) for s in range(30)]
    truth = sims[0].truth
    assert truth == {p: expected(arms, p) for p in ("old", "new")}
    bought = [
        s.events[s.events["event_type"] == "purchase"]["user_id"].isin(
            s.assignments.loc[s.assignments["variant"] == "new", "user_id"]
        )
        for s in sims
    ]
    assert all(len(b) for b in bought)
    outcomes = [user_outcomes(s.assignments, s.events, s.impressions) for s in sims]
    observed = np.mean([o.loc[o["variant"] == "new", "converted"].mean() for o in outcomes])
    assert observed == pytest.approx(truth["new"]["conversion"], rel=0.02)
    clicks = np.mean(
        [
            o.loc[o["variant"] == "old", "rec_clicks"].sum()
            / o.loc[o["variant"] == "old", "impressions"].sum()
            for o in outcomes
        ]
    )
    assert clicks == pytest.approx(0.1, rel=0.02)
    assert sims[0].true_uplift("conversion", "old", "new") > 0
    again = simulate(arms, "old", "new", T0, 14, 0.5, seed=0)
    pd.testing.assert_frame_equal(again.events, sims[0].events)


def test_trending_leaves_out_what_each_user_has_seen():
    events = pd.DataFrame(
        {
            "user_id": ["a", "b", "b", "c"],
            "item_id": ["x", "x", "y", "z"],
            "timestamp": [T0] * 4,
        }  # fmt: skip
    )
    lists = trending_unseen(events, pd.Series(["a", "b"]), k=2)
    assert lists[lists["user_id"] == "a"]["item_id"].tolist() == ["y", "z"]
    assert lists[lists["user_id"] == "b"]["item_id"].tolist() == ["z"]


def test_bad_assignment_tables_name_the_file_and_the_column_or_row(tmp_path):
    params = ExperimentParams()
    path = tmp_path / "ab.csv"
    pd.DataFrame({"user": ["a"], "variant": ["x"], "timestamp": ["2026-01-01"]}).to_csv(
        path, index=False
    )
    with pytest.raises(ExperimentError, match=r"ab.csv: column\(s\) \['user_id'\] not found"):
        read_assignments(path, params)
    pd.DataFrame(
        {"user_id": ["a", "b"], "variant": ["x", "y"], "timestamp": ["2026-01-01", "soon"]}
    ).to_csv(path, index=False)
    with pytest.raises(
        ExperimentError, match=r"ab.csv: row 3: column 'timestamp': 'soon' is not a time"
    ):
        read_assignments(path, params)
    pd.DataFrame({"user_id": ["a"], "variant": ["x"], "timestamp": ["2026-01-01"]}).to_csv(
        path, index=False
    )
    with pytest.raises(ExperimentError, match="has 1 variant"):
        read_assignments(path, params)


def test_the_control_is_named_or_called_control_or_the_first():
    assert choose_control(["b", "control"], ExperimentParams()) == "control"
    assert choose_control(["b", "a"], ExperimentParams()) == "a"
    assert choose_control(["b", "a"], ExperimentParams(control="b")) == "b"
    with pytest.raises(ExperimentError, match="control 'z' is not a variant"):
        choose_control(["b", "a"], ExperimentParams(control="z"))
