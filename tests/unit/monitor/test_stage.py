"""Unit tests of personalab.monitor: the checks on small tables whose drift is known, each check
left out with its reason, and the retraining recommendation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personalab.core.status import StageStatus
from personalab.monitor import MonitorParams, run_monitor
from personalab.monitor.hit_rate import hit_rate_drop, hit_rate_windows
from personalab.monitor.segment_drift import changed_shares, segment_psi, segment_shares
from personalab.monitor.stage import MonitorInputs
from personalab.recommend.params import RecommendParams

CUTOFFS = pd.to_datetime(["2026-03-01", "2026-03-08", "2026-03-15", "2026-03-22"], utc=True)


def _table(shift_latest: float = 0.0, users: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for i, cutoff in enumerate(CUTOFFS):
        x = rng.normal(size=users)
        y = rng.normal(shift_latest if i == len(CUTOFFS) - 1 else 0.0, 1.0, size=users)
        label = rng.random(users) < 1 / (1 + np.exp(-(2 * x - 2)))
        parts.append(
            pd.DataFrame(
                {
                    "user_id": [f"u{j}" for j in range(users)],
                    "cutoff": cutoff,
                    "x": x,
                    "y": y,
                    "bought": label,
                }  # fmt: skip
            )
        )
    return pd.concat(parts, ignore_index=True)


def _inputs(table: pd.DataFrame, **extra) -> MonitorInputs:
    return MonitorInputs(
        table=table,
        label="bought",
        recent=table.drop(columns="bought"),
        window=pd.Timedelta(days=7),
        events=pd.DataFrame(columns=["user_id", "item_id", "event_type", "timestamp"]),
        **extra,
    )


def _predict(frame: pd.DataFrame) -> np.ndarray:
    return 1 / (1 + np.exp(-(2 * frame["x"].to_numpy() - 2)))


def test_undrifted_tables_raise_no_recommendation():
    status = StageStatus("monitor")
    result = run_monitor(
        _inputs(_table(), predict=_predict, champion_roc_auc=0.87), MonitorParams(), status
    )
    m = result.metrics
    assert m["drifted_features"] == 0 and m["features_monitored"] == 2
    assert m["prediction_psi"] < 0.05
    assert m["latest_roc_auc"] == pytest.approx(0.87, abs=0.02)
    assert not result.retrain and m["retrain"] == 0
    assert result.recommendation() == (
        "No retraining needed: no check crossed its threshold in params/monitor.yaml."
    )
    assert m["checks_left_out"] == []
    assert list(result.backtest["role"]) == ["reference"] * 3 + ["latest"]
    assert result.drift_over_time["drifted"].sum() == 0


def test_a_shifted_feature_and_a_decayed_model_are_the_reasons():
    status = StageStatus("monitor")
    result = run_monitor(
        _inputs(_table(shift_latest=1.0), predict=_predict, champion_roc_auc=0.99),
        MonitorParams(),
        status,
    )
    assert result.drift.iloc[0]["feature"] == "y" and result.drift.iloc[0]["drifted"]
    assert result.metrics["drifted_features"] == 1
    assert result.retrain
    text = result.recommendation()
    assert "1 of 2 features drifted in the recent window, most: y (psi" in text
    assert "ROC-AUC at the latest cut-off is 0.1" in text  # 0.99 against about 0.87
    assert result.drift_over_time.set_index("role").loc["latest", "drifted"] == 1


def test_thresholds_come_from_the_params():
    loose = MonitorParams.from_mapping(
        {"drift": {"threshold": 5.0}, "retrain": {"roc_auc_drop": 0.5}}
    )
    result = run_monitor(
        _inputs(_table(shift_latest=1.0), predict=_predict, champion_roc_auc=0.99),
        loose,
        StageStatus("monitor"),
    )
    assert not result.retrain


def test_one_cutoff_leaves_drift_out_with_the_reason_and_still_backtests():
    table = _table()
    table = table[table["cutoff"] == CUTOFFS[0]]
    status = StageStatus("monitor")
    result = run_monitor(_inputs(table, predict=_predict), MonitorParams(), status)
    assert status.status == "partial"
    assert any(
        "1 cut-off(s): drift needs a reference before the latest" in n for n in status.lines()
    )
    assert "drifted_features" not in result.metrics and len(result.backtest) == 1


def test_missing_champions_are_left_out_with_their_reasons():
    status = StageStatus("monitor")
    inputs = _inputs(_table(), left_out={"backtest and prediction drift": "no intent champion: x"})
    result = run_monitor(inputs, MonitorParams(), status)
    assert "left out: backtest and prediction drift: no intent champion: x" in status.lines()
    assert result.backtest.empty and "prediction_psi" not in result.metrics
    # the recommendation says which checks it rests on
    assert result.metrics["checks_left_out"] == ["backtest and prediction drift"]
    assert result.recommendation() == (
        "No retraining needed from the checks that ran (not checked: backtest and prediction "
        "drift; the notes say why): none crossed its threshold in params/monitor.yaml."
    )


def test_segment_shares_changes_and_psi():
    history = pd.DataFrame(
        {
            "user_id": ["a", "b", "c", "d"] * 2,
            "cutoff": [CUTOFFS[0]] * 4 + [CUTOFFS[1]] * 4,
            "segment_id": [0, 0, 1, 1, 0, 1, 1, 1],
            "segment": ["s0", "s0", "s1", "s1", "s0", "s1", "s1", "s1"],
        }
    )
    shares = segment_shares(history)
    assert shares.loc[CUTOFFS[1], "s1"] == 0.75
    assert changed_shares(history).loc[CUTOFFS[1]] == 0.25  # b moved
    assert segment_psi(history, CUTOFFS[1]) == pytest.approx(
        0.25 * np.log(1.5) - 0.25 * np.log(0.5)
    )


def _events(days: float = 40, users: int = 60, items: int = 30, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = days * 40
    start = pd.Timestamp("2026-01-01", tz="UTC")
    return pd.DataFrame(
        {
            "user_id": [f"u{u}" for u in rng.integers(0, users, n)],
            "item_id": [f"i{int(i)}" for i in np.minimum(rng.zipf(1.5, n), items)],
            "event_type": "purchase",
            "timestamp": start + pd.to_timedelta(np.sort(rng.uniform(0, days, n)), unit="D"),
        }
    )


def test_hit_rate_windows_score_the_frozen_recipe_and_popularity():
    params = RecommendParams.from_mapping(
        {"interactions": {"min_user_interactions": 1, "min_item_interactions": 1}}
    )
    table, why = hit_rate_windows(
        _events(days=50), params, "popularity", {}, 3, pd.Timedelta(days=7)
    )
    assert why is None
    assert table["window"].tolist() == [1, 2, 3]
    assert (table["hits"] / table["users"]).tolist() == table["hit_rate"].tolist()
    assert (table["end"] - table["start"]).eq(pd.Timedelta(days=7)).all()
    assert table["users"].gt(0).all()
    # the recipe is popularity here: the two columns agree
    assert np.allclose(table["hit_rate"], table["popularity_hit_rate"])
    assert table["hit_rate"].between(0, 1).all()


def test_a_log_shorter_than_the_windows_says_so():
    table, why = hit_rate_windows(
        _events(days=10), RecommendParams(), "popularity", {}, 4, pd.Timedelta(days=7)
    )
    assert table.empty and "too short for two windows of 7 days" in why


def test_a_log_whose_events_share_one_time_says_no_window_follows_another():
    events = _events(days=10).assign(timestamp=pd.Timestamp("2020-01-01", tz="UTC"))
    table, why = hit_rate_windows(
        events, RecommendParams(), "popularity", {}, 4, pd.Timedelta(days=7)
    )
    assert table.empty
    assert why.startswith("every item event has the same time (2020-01-01 00:00)")
    assert "window_days" not in why  # no params can help


def test_windows_are_fitted_so_the_recommender_learns_half_the_log():
    from personalab.monitor.hit_rate import fitted_windows

    # Taobao's sample: 9 days in 2-day windows leaves room for 2, not 4
    assert fitted_windows(pd.Timedelta(days=9), 4, pd.Timedelta(days=2)) == 2
    assert fitted_windows(pd.Timedelta(days=90), 4, pd.Timedelta(days=7)) == 4
    assert fitted_windows(pd.Timedelta(days=3), 4, pd.Timedelta(days=2)) == 0
    params = RecommendParams.from_mapping(
        {"interactions": {"min_user_interactions": 1, "min_item_interactions": 1}}
    )
    table, why = hit_rate_windows(
        _events(days=9), params, "popularity", {}, 4, pd.Timedelta(days=2)
    )
    assert why is None and len(table) == 2
    assert table["start"].iloc[0] - _events(days=9)["timestamp"].min() >= pd.Timedelta(days=4.5)


def _windows(hits: list[int], users: list[int], mine_only: int = 0, theirs_only: int = 0):
    n = len(hits)
    return pd.DataFrame(
        {
            "window": range(1, n + 1),
            "users": users,
            "hits": hits,
            "hit_rate": np.array(hits) / np.array(users),
            "popularity_hit_rate": np.nan,
            "only_recipe_hit": [0] * (n - 1) + [mine_only],
            "only_popularity_hit": [0] * (n - 1) + [theirs_only],
        }
    )


def test_a_drop_of_a_few_hits_is_noise_a_large_one_is_not():
    from personalab.monitor.hit_rate import drop_pvalue

    assert drop_pvalue(_windows([3, 0], [251, 246])) > 0.05  # Taobao's "100% drop"
    assert drop_pvalue(_windows([60, 30], [250, 250])) < 0.01
    assert drop_pvalue(_windows([30, 60], [250, 250])) > 0.99  # a rise is no drop
    assert np.isnan(drop_pvalue(_windows([3], [250])))


def test_popularity_lead_is_tested_on_the_users_only_one_of_the_two_hit():
    from personalab.monitor.hit_rate import beaten_pvalue

    assert beaten_pvalue(_windows([3, 3], [250, 250], mine_only=1, theirs_only=15)) < 0.001
    assert beaten_pvalue(_windows([3, 3], [250, 250], mine_only=2, theirs_only=4)) > 0.3
    assert beaten_pvalue(_windows([3, 3], [250, 250])) == 1.0


def test_hit_rate_reasons_need_their_test():
    from personalab.monitor.stage import retrain_reasons

    metrics = {"hit_rate_drop": 1.0, "hit_rate_drop_pvalue": 0.12, "hit_rate_first": 0.012,
               "hit_rate_last": 0.0, "popularity_hit_rate_last": 0.03,
               "popularity_lead_pvalue": 0.2}  # fmt: skip
    assert retrain_reasons(metrics, pd.DataFrame(), MonitorParams()) == []
    metrics |= {"hit_rate_drop_pvalue": 0.001, "popularity_lead_pvalue": 0.001}
    reasons = retrain_reasons(metrics, pd.DataFrame(), MonitorParams())
    assert reasons[0].startswith("the recommender's hit rate fell by 100%")
    assert "popularity hits more often than the recommender's recipe" in reasons[1]
    loose = MonitorParams.from_mapping({"retrain": {"significance": 0.5}})
    metrics |= {"hit_rate_drop_pvalue": 0.12, "popularity_lead_pvalue": 0.2}
    assert len(retrain_reasons(metrics, pd.DataFrame(), loose)) == 2


def test_hit_rate_drop_is_relative_from_the_first_window():
    assert hit_rate_drop(pd.DataFrame({"hit_rate": [0.5, 0.4, 0.25]})) == pytest.approx(0.5)
    assert np.isnan(hit_rate_drop(pd.DataFrame({"hit_rate": [0.5]})))


def test_windows_end_at_the_log_end_rounded_up_to_their_unit():
    from personalab.monitor.hit_rate import log_end

    last = pd.Timestamp("2026-03-30 23:59:52.5", tz="UTC")
    assert log_end(last, pd.Timedelta(days=7)) == pd.Timestamp("2026-03-31", tz="UTC")
    assert log_end(last, pd.Timedelta(hours=2)) == pd.Timestamp("2026-03-31", tz="UTC")
    assert log_end(last, pd.Timedelta(seconds=90)) == pd.Timestamp("2026-03-30 23:59:53", tz="UTC")
    assert log_end(last, pd.Timedelta(milliseconds=1500)) == last + pd.Timedelta(1, "ns")


def test_rank_scores_are_not_watched_their_raw_columns_are():
    table = _table().assign(rfm_monetary=1, revenue_total=2.0)
    latest = table["cutoff"] == CUTOFFS[-1]
    table.loc[latest, "rfm_monetary"] = 4  # every tied user's quintile moved at once
    result = run_monitor(_inputs(table), MonitorParams(), StageStatus("monitor"))
    assert set(result.drift["feature"]) == {"x", "y", "revenue_total"}
    assert "rfm_monetary" not in set(result.input_drift["feature"])
    assert not result.retrain


def _history() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = [
        {"user_id": f"u{u}", "cutoff": c, "segment_id": int(s), "segment": f"s{int(s)}"}
        for i, c in enumerate(CUTOFFS)
        for u, s in enumerate(rng.random(400) < 0.1 + 0.2 * i)  # buyers pile up as the log grows
    ]
    return pd.DataFrame(rows)


def test_segment_shares_of_a_log_shorter_than_the_windows_are_shown_not_judged():
    inputs = _inputs(
        _table(),
        history=_history(),
        log_start=CUTOFFS[0] - pd.Timedelta(days=3),
        longest_window=pd.Timedelta(days=30),
    )
    status = StageStatus("monitor")
    result = run_monitor(inputs, MonitorParams(), status)
    assert "segment_psi" not in result.metrics and not result.retrain
    assert len(result.segments) == 4 and "changed_segment_share" in result.metrics
    assert any(
        "segment drift as a retraining reason: the features' 30-day windows reach before" in line
        for line in status.lines()
    )
    # the same shares on a log long enough: the latest against the full-window cut-offs
    inputs.log_start = CUTOFFS[0] - pd.Timedelta(days=40)
    result = run_monitor(inputs, MonitorParams(), StageStatus("monitor"))
    assert result.metrics["segment_psi"] > 0.2 and result.retrain


def test_reference_cutoffs_whose_recent_window_reaches_before_the_log_are_left_out():
    status = StageStatus("monitor")
    inputs = _inputs(_table(), log_start=CUTOFFS[0] - pd.Timedelta(days=3))
    result = run_monitor(inputs, MonitorParams(), status)
    assert CUTOFFS[0] not in set(result.drift_over_time["cutoff"])
    assert len(result.drift_over_time) == 3
    assert any("reference cut-off(s) 2026-03-01 00:00 left out" in n for n in status.lines())


def test_a_learn_period_the_filters_empty_leaves_the_recipe_out_with_the_reason():
    # the defaults' minimum counts (3 items per user, 5 users per item) leave nothing of a log
    # where every user touches each item once, as Taobao's first days do
    rng = np.random.default_rng(0)
    n = 600
    events = pd.DataFrame(
        {
            "user_id": [f"u{i % 200}" for i in range(n)],
            "item_id": [f"i{i}" for i in range(n)],
            "event_type": "view",
            "timestamp": pd.Timestamp("2026-01-01", tz="UTC")
            + pd.to_timedelta(np.sort(rng.uniform(0, 20, n)), unit="D"),
        }
    )
    table, why = hit_rate_windows(events, RecommendParams(), "ALS", {}, 2, pd.Timedelta(days=2))
    assert table.empty
    assert why.startswith("no collaborative filter can be learned before the first window")
    assert "min_item_interactions 5" in why
    # popularity needs no filter: it is still measured
    table, why = hit_rate_windows(
        events, RecommendParams(), "popularity", {}, 2, pd.Timedelta(days=2)
    )
    assert why is None and len(table) == 2


def test_prediction_drift_of_a_log_shorter_than_the_windows_is_shown_not_judged():
    # the latest cut-off's probabilities shift as a growing history would shift them
    table = _table()
    latest = table["cutoff"] == CUTOFFS[-1]
    table.loc[latest, "x"] += 1.0
    inputs = _inputs(
        table,
        predict=_predict,
        champion_roc_auc=0.5,
        log_start=CUTOFFS[0] - pd.Timedelta(days=3),
        longest_window=pd.Timedelta(days=30),
    )
    status = StageStatus("monitor")
    result = run_monitor(inputs, MonitorParams(), status)
    assert (
        result.metrics["prediction_psi"] > 0.25 and result.metrics["prediction_drift_judged"] == 0
    )
    assert not any("intent probabilities drifted" in reason for reason in result.reasons)
    assert any(
        "prediction drift as a retraining reason: the features' 30-day windows reach before" in line
        for line in status.lines()
    )
    # a log long enough for two of the reference cut-offs: judged against those two only
    inputs.log_start = CUTOFFS[1] - pd.Timedelta(days=30)
    result = run_monitor(inputs, MonitorParams(), StageStatus("monitor"))
    assert "prediction_drift_judged" not in result.metrics
    assert any("intent probabilities drifted" in reason for reason in result.reasons)


def test_a_few_users_in_the_recent_windows_raise_no_drift_by_chance():
    table = _table(users=6, seed=5)
    status = StageStatus("monitor")
    result = run_monitor(_inputs(table), MonitorParams(), status)
    assert result.drift["psi"].max() >= 0.2  # six users a cut-off fill ten bins unevenly
    assert result.metrics["drifted_features"] == 0 and not result.retrain
    assert any(
        "are not counted: on 18 reference and 6 latest rows" in line for line in status.lines()
    )


def _hit_rate_inputs(events: pd.DataFrame) -> MonitorInputs:
    """Inputs whose hit rate is measured on ``events``, with popularity as the recipe."""
    params = RecommendParams.from_mapping(
        {"interactions": {"min_user_interactions": 1, "min_item_interactions": 1}}
    )
    inputs = _inputs(
        _table(users=200),
        recipe={"algorithm": "popularity", "options": {}},
        recommend_params=params,
    )
    inputs.events = events
    return inputs


@pytest.mark.parametrize(("users", "warned"), [(12, True), (400, False)])
def test_hit_rate_windows_of_a_few_users_are_said_to_be_noise(users, warned):
    """Olist: the three windows held 1, 1 and 0 returning users, and the monitor reported a hit
    rate of 0.0 then 1.0 as figures like any other."""
    status = StageStatus("monitor")
    result = run_monitor(_hit_rate_inputs(_events(days=50, users=users)), MonitorParams(), status)
    counts = ", ".join(f"{n:,}" for n in result.hit_rate["users"])
    said = [
        n["message"] for n in status.notes if n["message"].startswith("recommender hit rate: the")
    ]
    assert said == (
        [
            f"recommender hit rate: the windows hold {counts} users who come back with a known "
            "item, fewer than 30 in one: its rates move by whole users, so read them with the "
            "tests' p-values, not alone"
        ]
        if warned
        else []
    )
    assert (result.hit_rate["users"].min() < 30) == warned


def test_windows_no_user_comes_back_to_leave_the_hit_rate_out():
    """Coveo's sessions stand for users: no visit comes back in a later window, and the monitor
    warned of windows of "0, 0 users" as if they had rates."""
    events = _events(days=50, users=60)
    late = events["timestamp"] >= events["timestamp"].max() - pd.Timedelta(days=25)
    events.loc[late, "user_id"] = [f"visit{k}" for k in range(int(late.sum()))]
    status = StageStatus("monitor")
    result = run_monitor(_hit_rate_inputs(events), MonitorParams(), status)
    kinds = {n["kind"] for n in status.notes if "hit rate" in n["message"]}
    (said,) = [n["message"] for n in status.notes if n["kind"] == "left_out"]
    assert "warning" not in kinds
    assert said.startswith("recommender hit rate: no user of the 3 windows comes back")
    assert result.hit_rate is None or result.hit_rate.empty
    assert "hit_rate_first" not in result.metrics
