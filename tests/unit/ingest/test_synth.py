import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from personalab.ingest.events import EVENT_TYPES
from personalab.ingest.synth import (
    USER_TYPES,
    SynthConfig,
    expected_sessions,
    generate_log,
    purchase_probability,
)

SMALL = SynthConfig(seed=3, n_users=1500, n_items=300, n_days=40, bot_users=3)


@pytest.fixture(scope="module")
def log():
    return generate_log(SMALL)


def test_same_seed_gives_identical_log(log):
    again = generate_log(SMALL)
    pd.testing.assert_frame_equal(log.events, again.events)
    pd.testing.assert_frame_equal(log.truth, again.truth)


def test_other_seed_gives_other_log(log):
    other = generate_log(SMALL.model_copy(update={"seed": 4}))
    assert len(other.events) != len(log.events) or not other.events.equals(log.events)


def test_shapes_and_columns(log):
    assert list(log.events.columns) == [
        "event_id", "user_id", "timestamp", "event_type", "item_id", "category", "price",
        "quantity", "rating", "dwell_seconds", "scroll_depth", "device", "channel",
    ]  # fmt: skip
    assert len(log.truth) == SMALL.n_users + SMALL.bot_users
    assert log.truth["user_id"].is_unique
    assert len(log.items) == SMALL.n_items
    types = set(log.events["event_type"].dropna())
    assert set(EVENT_TYPES) <= types | {"hover"}
    assert set(log.truth["user_type"]) == {t.name for t in USER_TYPES} | {"bot"}


def test_events_stay_inside_the_log_window(log):
    ts = pd.to_datetime(
        log.events["timestamp"], utc=True, errors="coerce", format="ISO8601"
    ).dropna()
    assert ts.min() >= SMALL.start_ts
    assert ts.max() < SMALL.end_ts


def test_dirt_rates_within_tolerance():
    config = SynthConfig(
        seed=5,
        n_users=3000,
        n_items=300,
        n_days=30,
        duplicate_rate=0.02,
        malformed_rate=0.01,
        bot_users=4,
    )
    log = generate_log(config)
    rows = len(log.events)
    clean = rows - log.counts["duplicates"]
    assert log.counts["duplicates"] / clean == pytest.approx(0.02, rel=0.15)
    repeated = log.events["event_id"].duplicated().sum()
    assert repeated == log.counts["duplicates"]
    bad_ts = (
        pd.to_datetime(log.events["timestamp"], utc=True, errors="coerce", format="ISO8601")
        .isna()
        .sum()
    )
    assert bad_ts == log.counts["malformed_bad_timestamp"]
    malformed = sum(v for k, v in log.counts.items() if k.startswith("malformed_"))
    assert malformed / rows == pytest.approx(0.01, rel=0.2)
    assert log.events["user_id"].isna().sum() == log.counts["malformed_missing_user_id"]
    assert (log.events["event_type"] == "hover").sum() == log.counts["malformed_unknown_event_type"]
    assert (log.events["price"] < 0).sum() == log.counts["malformed_negative_price"]
    bots = log.truth.loc[log.truth["is_bot"], "user_id"]
    assert len(bots) == 4
    bot_rows = log.events[log.events["user_id"].isin(bots)]
    assert (bot_rows["dwell_seconds"] == 0).all()


def test_file_order_is_arrival_order_with_late_events():
    log = generate_log(SynthConfig(seed=1, n_users=800, n_items=200, n_days=20, late_rate=0.02))
    ts = pd.to_datetime(log.events["timestamp"], utc=True, errors="coerce", format="ISO8601")
    behind = ts.cummax().shift() - ts
    assert (behind > pd.Timedelta(hours=1)).sum() > 0.5 * log.counts["late_delivered"]
    assert not ts.dropna().is_monotonic_increasing


def test_purchases_follow_the_funnel(log):
    e = log.events.dropna(subset=["user_id"])
    bought = e[e["event_type"] == "purchase"][["user_id", "item_id"]].drop_duplicates()
    carted = e[e["event_type"] == "add_to_cart"][["user_id", "item_id"]].drop_duplicates()
    viewed = e[e["event_type"] == "view"][["user_id", "item_id"]].drop_duplicates()
    assert len(bought.merge(carted)) >= 0.97 * len(bought)
    assert len(bought.merge(viewed)) >= 0.97 * len(bought)
    ratings = e.loc[e["event_type"] == "rate", "rating"]
    assert ratings.between(1, 5).all() and ratings.nunique() >= 3


def test_types_differ_in_behaviour(log):
    e = log.events.merge(log.truth[["user_id", "user_type"]], on="user_id")
    dwell = e[e["event_type"] == "view"].groupby("user_type")["dwell_seconds"].median()
    assert dwell["window_shopper"] > 2 * dwell["bargain_hunter"]
    buy_rate = (
        e[e["event_type"] == "purchase"].groupby("user_type").size()
        / e.groupby("user_type")["user_id"].nunique()
    )
    assert buy_rate["loyal_buyer"] > 4 * buy_rate["window_shopper"]


def test_truth_probability_is_calibrated_and_informative():
    config = SynthConfig(
        seed=11,
        n_users=8000,
        n_items=500,
        n_days=60,
        malformed_rate=0,
        duplicate_rate=0,
        late_rate=0,
    )
    log = generate_log(config)
    cutoff = config.start_ts + pd.Timedelta(days=40)
    prob = purchase_probability(log.truth, cutoff, horizon_days=7)
    e = log.events
    ts = pd.to_datetime(e["timestamp"], utc=True, format="ISO8601")
    window = (e["event_type"] == "purchase") & (ts >= cutoff) & (ts < cutoff + pd.Timedelta(days=7))
    observed = prob.index.isin(e.loc[window, "user_id"])
    assert observed.mean() == pytest.approx(prob.mean(), abs=0.01)
    deciles = pd.qcut(prob.rank(method="first"), 5, labels=False)
    by_bin = (
        pd.DataFrame({"p": prob.to_numpy(), "y": observed, "bin": deciles.to_numpy()})
        .groupby("bin")
        .mean()
    )
    assert np.allclose(by_bin["p"], by_bin["y"], atol=0.03)
    assert roc_auc_score(observed, prob) > 0.75


def test_expected_sessions_closed_form():
    start = pd.Timestamp("2026-01-01", tz="UTC")
    truth = pd.DataFrame(
        {
            "user_id": ["steady", "new", "lapsing"],
            "base_rate": [2.0, 2.0, 2.0],
            "purchase_prob": [0.5, 0.5, 0.5],
            "active_from": [start, start + pd.Timedelta(days=5), start],
            "lapse_start": [pd.NaT, pd.NaT, start + pd.Timedelta(days=1)],
            "lapse_tau_days": [np.nan, np.nan, 2.0],
        }
    )
    got = expected_sessions(truth, start, start + pd.Timedelta(days=3))
    assert got[0] == pytest.approx(6.0)
    assert got[1] == pytest.approx(0.0)  # signs up after the window
    assert got[2] == pytest.approx(2.0 * (1 + 2.0 * (1 - np.exp(-1.0))))
    prob = purchase_probability(truth, start, 3)
    assert prob["steady"] == pytest.approx(1 - np.exp(-3.0))
    assert prob["new"] == 0.0


def test_purchase_probability_rejects_bad_input(log):
    with pytest.raises(ValueError, match="horizon_days must be positive"):
        purchase_probability(log.truth, "2026-01-10", 0)
    with pytest.raises(KeyError, match="base_rate"):
        purchase_probability(log.truth.drop(columns="base_rate"), "2026-01-10", 7)


def test_config_rejects_impossible_values():
    with pytest.raises(ValueError, match="n_users"):
        SynthConfig(n_users=0)
    with pytest.raises(ValueError, match="start"):
        SynthConfig(start="not a date")
