"""Drift planted in the synthetic log (``SynthConfig.drift``, ingest/synth/drift.py): each kind
shows from its day on and not before, the truth stays exact across it, and a log without
drift is the log it was."""

import numpy as np
import pandas as pd
import pytest

from personalab.ingest.synth import SynthConfig, generate_log, purchase_probability
from personalab.ingest.synth.config import DriftConfig

BASE = dict(seed=7, n_users=3000, n_items=300, n_days=40, duplicate_rate=0, late_rate=0,
            malformed_rate=0, bot_users=2)  # fmt: skip
AT = 20


def drifted(**drift) -> pd.DataFrame:
    log = generate_log(SynthConfig(**BASE, drift=DriftConfig(at_day=AT, **drift)))
    events = log.events.assign(ts=pd.to_datetime(log.events["timestamp"], utc=True))
    start = SynthConfig(**BASE).start_ts
    return log, events.assign(after=events["ts"] >= start + pd.Timedelta(days=AT))


def test_a_log_without_drift_draws_nothing_for_it():
    plain = generate_log(SynthConfig(**BASE))
    none = generate_log(SynthConfig(**BASE, drift=None))
    pd.testing.assert_frame_equal(plain.events, none.events)
    assert "drift_at" not in plain.truth.columns


def test_prices_move_by_the_factor_from_the_day_on():
    _, events = drifted(price_factor=1.5)
    priced = events.dropna(subset=["item_id", "price"])
    per_item = priced.groupby(["item_id", "after"])["price"].agg(["min", "max"]).unstack()
    both = per_item.dropna()
    assert len(both) > 100
    assert (both[("min", False)] == both[("max", False)]).all()  # one price before
    np.testing.assert_allclose(both[("min", True)], np.round(both[("min", False)] * 1.5, 2))


def test_a_category_surges_from_the_day_on():
    _, events = drifted(surge_category="garden", surge_share=0.4)
    views = events[events["event_type"] == "view"]
    share = views.groupby("after")["category"].apply(lambda c: (c == "garden").mean())
    assert share[True] > share[False] + 0.25  # ~0.4 of the sessions, most of their views


def test_users_change_type_and_the_truth_stays_exact():
    log, events = drifted(type_share=0.6)
    truth = log.truth[~log.truth["is_bot"]]
    changed = (truth["user_type"] != truth["user_type_after"]).mean()
    assert changed == pytest.approx(0.6, abs=0.03)
    # the window straddles the drift: the truth's probability still matches what happened
    start = SynthConfig(**BASE).start_ts
    cutoff = start + pd.Timedelta(days=AT - 4)
    prob = purchase_probability(log.truth, cutoff, horizon_days=10)
    window = (events["event_type"] == "purchase") & (events["ts"] >= cutoff)
    window &= events["ts"] < cutoff + pd.Timedelta(days=10)
    bought = prob.index.isin(events.loc[window, "user_id"])
    assert bought.mean() == pytest.approx(prob.mean(), abs=0.015)
    # and it differs from the probability the types before the drift would give
    before = purchase_probability(log.truth.drop(columns=["drift_at"]), cutoff, horizon_days=10)
    assert np.abs(prob - before).max() > 0.05


def test_users_buy_as_their_new_type_after_the_day():
    log, events = drifted(type_share=1.0)
    truth = log.truth.set_index("user_id")
    buys = events[events["event_type"] == "purchase"].join(truth, on="user_id")
    late, early = buys[buys["after"]], buys[~buys["after"]]
    # loyal buyers buy the most: before the drift those typed loyal, after those who became so
    loyal_before = (early["user_type"] == "loyal_buyer").mean()
    assert loyal_before > 0.3
    assert (late["user_type_after"] == "loyal_buyer").mean() > 0.3
    assert (late["user_type"] == "loyal_buyer").mean() < loyal_before / 2


@pytest.mark.parametrize(
    ("drift", "message"),
    [
        ({"at_day": 40}, "not inside the log's 40 days"),
        ({"at_day": 5, "surge_category": "rockets"}, "surge_category 'rockets'"),
        ({"at_day": 5, "surge_share": 0.2}, "surge_share needs a surge_category"),
        ({"at_day": 5, "price_factor": 0}, "price_factor"),
        ({"at_day": 5, "typo": 1}, "typo"),
    ],
)
def test_impossible_drift_is_refused_by_name(drift, message):
    with pytest.raises(ValueError, match=message):
        SynthConfig(**BASE, drift=drift)


def test_the_command_line_plants_drift_and_names_a_bad_key(tmp_path, capsys):
    from personalab.ingest.synth.__main__ import main

    out, truth = tmp_path / "log.csv", tmp_path / "truth.parquet"
    args = [str(out), "--users", "200", "--days", "20", "--truth", str(truth)]
    assert main([*args, "--drift", "at_day=10", "type_share=0.5"]) == 0
    written = pd.read_parquet(truth)
    assert written["drift_at"].notna().sum() == 200  # every user; the bot has none
    with pytest.raises(SystemExit):
        main([*args, "--drift", "at_day=10", "shift=2"])
    assert "shift" in capsys.readouterr().err
