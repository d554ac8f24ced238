"""Unit tests of personalab.features.plan: what the stage decides for a log, and the lines it
says on the stage's status (adapted, left out, warnings, skipped)."""

from __future__ import annotations

import pandas as pd

from personalab.core.status import StageStatus
from personalab.features.plan import plan_features
from tests.unit.features.helpers import FUTURE, LOG, events_frame, params

START = pd.Timestamp("2024-05-01 00:00:07", tz="UTC")
KINDS = ["view", "click", "view", "add_to_cart", "purchase"]


def spread_log(hours: float, users: int = 6, every_minutes: float = 10.0) -> pd.DataFrame:
    """Events of every user every ``every_minutes`` over ``hours`` (times to the second)."""
    rows = []
    for k in range(int(hours * 60 / every_minutes) + 1):
        when = START + pd.Timedelta(minutes=k * every_minutes)
        user = f"u{k % users}"
        rows.append((user, f"{user}-{k // 3}", when, KINDS[k % len(KINDS)], f"i{1 + k % 4}"))
    return events_frame(rows)


def kinds_of(status: StageStatus) -> list[str]:
    return [note["kind"] for note in status.notes]


def messages(status: StageStatus, kind: str) -> list[str]:
    return [note["message"] for note in status.notes if note["kind"] == kind]


def test_a_six_hour_log_is_adapted_and_says_so():
    status = StageStatus("features")
    plan = plan_features(spread_log(6), params(), status=status)
    # 00:00:07 to 06:00:07: the last cut-off is 05:00, the first with history 02:00
    assert [f"{t:%H:%M}" for t in plan.cutoffs] == ["02:00", "03:00", "04:00", "05:00"]
    assert plan.horizon_days == 1 / 24 and plan.trend_days == 1 / 24
    assert messages(status, "adapted")[0] == (
        "the log spans 6.0 hours (timestamps to the second): horizon 1 hour, cut-offs every hour "
        "over the last 3 hours, the last rounded down to the hour (4 cut-offs); activity_trend "
        "over 1 hour"
    )
    (windows,) = [m for m in messages(status, "warning") if m.startswith("windows_days")]
    assert windows.startswith("windows_days 1, 7, 30 reach back past the start of the log")
    left = messages(status, "left_out")
    assert any(m.startswith("cart_abandonment_rate, seg_cart_abandoner: needs more") for m in left)
    assert status.status == "partial"


def test_a_long_log_is_not_adapted():
    status = StageStatus("features")
    plan = plan_features(events_frame(LOG + FUTURE), params(), status=status)
    assert plan.horizon_days == 7.0 and plan.trend_days == 7.0
    assert "adapted" not in kinds_of(status) and not plan.skip_reason


def test_no_cutoff_even_adapted_skips_with_the_reason():
    status = StageStatus("features")
    plan = plan_features(spread_log(1 / 60, every_minutes=0.5), params(), status=status)
    assert status.skipped and plan.skip_reason == status.skip_reason
    assert plan.skip_reason.startswith("no cut-off fits: the log spans 1.0 minutes (2024-05-01")
    assert plan.skip_reason.endswith(
        "timestamps to the second; even with a horizon of 1 minute (the shortest automatic step) "
        "no cut-off has events before it and its horizon inside the log"
    )
    assert plan.cutoffs == []


def test_an_explicit_horizon_too_long_for_the_log_skips_and_says_how_to_fit_it():
    status = StageStatus("features")
    plan = plan_features(spread_log(6), params(horizon_days=7), status=status)
    assert status.skipped
    assert "; with a horizon of 7 days no cut-off has events before it" in plan.skip_reason
    assert plan.skip_reason.endswith(
        "; horizon_days set in params/features.yaml (auto fits them to the log)"
    )


def test_an_empty_log_skips():
    status = StageStatus("features")
    plan = plan_features(events_frame([]), params(), status=status)
    assert plan.skip_reason == "the events table is empty: there is nobody to describe"
    assert status.metrics()["status"] == "skipped"


def test_a_target_the_log_never_has_is_a_warning_not_an_error():
    status = StageStatus("features")
    rate_log = [(u, s, when, "rate", item) for u, s, when, _, item, *_ in LOG + FUTURE]
    plan = plan_features(events_frame(rate_log), params(), status=status)
    assert not plan.skip_reason and plan.label == "purchased_within_horizon"
    (warning,) = [m for m in messages(status, "warning") if "no purchase events" in m]
    assert warning == (
        "the log has no purchase events: the label purchased_within_horizon is 0 at every "
        "cut-off, so the intent stage has nothing to learn; set target_event in "
        "params/features.yaml to an event type the log has (rate) or return"
    )
    status = StageStatus("features")
    plan_features(events_frame(rate_log), params(target_event="return"), status=status)
    assert not any("no return events" in m for m in messages(status, "warning"))


def test_left_out_features_are_one_line_per_reason():
    status = StageStatus("features")
    rate_log = [(u, s, when, "rate", item) for u, s, when, _, item, *_ in LOG + FUTURE]
    plan = plan_features(events_frame(rate_log), params(target_event="rate"), status=status)
    left = messages(status, "left_out")
    assert len(left) == len(set(plan.support.left_out.values()))
    assert (
        "days_since_last_purchase, purchases_1d, purchases_7d, purchases_30d, orders_total, "
        "cart_to_purchase, cart_abandonment_rate, seg_converter, seg_cart_abandoner: needs "
        "purchase events; the log has no purchase events"
    ) not in left  # carts need add_to_cart too: a reason of their own
    assert (
        "days_since_last_purchase, purchases_1d, purchases_7d, purchases_30d, orders_total, "
        "seg_converter: needs purchase events; the log has no purchase events"
    ) in left
    assert plan.priority == ["at_risk"]


def test_a_few_stray_early_events_do_not_stretch_the_automatic_step():
    """A sample whose first 1% of events lie months before the rest (Taobao's outliers): the
    cut-offs fit the six hours the log really covers, and the stray events stay history."""
    log = spread_log(6, every_minutes=2)  # 181 events over six hours
    stray = events_frame([("u0", "s-old", START - pd.Timedelta(days=60), "view", "i1")])
    status = StageStatus("features")
    plan = plan_features(pd.concat([stray, log], ignore_index=True), params(), status=status)
    assert [f"{t:%H:%M}" for t in plan.cutoffs] == ["02:00", "03:00", "04:00", "05:00"]
    (note,) = [m for m in messages(status, "adapted") if "early events" in m]
    assert "early events (1%) are spread from 2024-03-02 00:00 to 2024-05-01" in note
    assert messages(status, "adapted")[1].startswith("the log spans 6.0 hours")
    explicit = params(cutoffs={"every_days": 7, "over_last_days": 21}, horizon_days=1.0)
    kept = plan_features(pd.concat([stray, log], ignore_index=True), explicit)
    assert kept.cutoffs != plan.cutoffs  # an explicit setting is used as given


def test_a_log_of_dates_ends_with_its_last_day_so_that_days_purchases_are_labelled():
    """H&M's transactions carry dates only: the last cut-off's label window ended at the last
    date's midnight, so that day's purchases (its busiest, in a sample cut at a date) were in
    no label."""
    from personalab.features.build import build_features

    day = pd.Timestamp("2024-05-01", tz="UTC")
    rows = [
        (f"u{k}", f"u{k}-{d}", day + pd.Timedelta(days=d), "view", "i1")
        for k in range(4)
        for d in range(10)
    ]
    rows.append(("u0", "u0-9", day + pd.Timedelta(days=9), "purchase", "i1"))  # the last date
    result = build_features(events_frame(rows), params())
    plan = result.plan
    assert plan.cutoffs[-1] + pd.Timedelta(days=plan.horizon_days) == day + pd.Timedelta(days=10)
    last = result.table[result.table["cutoff"] == plan.cutoffs[-1]]
    assert last.set_index("user_id")["purchased_within_horizon"].to_dict() == {
        "u0": 1,
        "u1": 0,
        "u2": 0,
        "u3": 0,
    }


def test_a_log_whose_events_share_one_time_skips_saying_so():
    """Book-Crossing has no times: every event got one constant, and the skip reason said the
    log "spans 24.0 hours (2020-01-01 00:00:00+00:00 to 2020-01-01 00:00:00+00:00)"."""
    when = pd.Timestamp("2020-01-01", tz="UTC")
    rows = [(f"u{k}", f"s{k}", when, "rate", f"i{k % 3}") for k in range(6)]
    status = StageStatus("features")
    plan = plan_features(events_frame(rows), params(), status=status)
    assert plan.skip_reason == (
        "no cut-off fits: every event has the same time (2020-01-01 00:00:00+00:00), so no "
        "cut-off has events before it and after it (the log's times say nothing of its order)"
    )
