"""Unit tests of personalab.features.cutoffs: cut-off placement (automatic ones fitted to the
log's span and granularity, explicit ones as given) and the share categories."""

from __future__ import annotations

import pandas as pd
import pytest

from personalab.features.cutoffs import (
    automatic_steps,
    duration_text,
    every_text,
    fit_cutoffs,
    place_cutoffs,
    span_text,
    top_categories,
)
from personalab.features.schema import category_share_column
from tests.unit.features.helpers import LOG, T, events_frame, params, t

DAY = pd.Timedelta(days=1)


def utc(*stamps: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(s, tz="UTC") for s in stamps]


def test_place_cutoffs_every_7_days_over_the_last_21():
    start = pd.Timestamp("2024-01-01 08:00", tz="UTC")
    end = pd.Timestamp("2024-03-31 15:00", tz="UTC")
    kept, dropped = place_cutoffs(start, end, 7 * DAY, 21 * DAY, 7 * DAY)
    # last = midnight of end - 7 d = 2024-03-24
    assert kept == utc("2024-03-03", "2024-03-10", "2024-03-17", "2024-03-24")
    assert dropped == []


def test_place_cutoffs_fractional_horizon_and_cutoffs_before_the_log_start():
    start = pd.Timestamp("2024-03-12", tz="UTC")
    end = pd.Timestamp("2024-03-31 15:00", tz="UTC")
    # end - 2.5 d = 2024-03-29 03:00 -> 2024-03-29; every 10 d over 25 d -> 3 dates
    kept, dropped = place_cutoffs(start, end, 10 * DAY, 25 * DAY, 2.5 * DAY)
    assert kept == utc("2024-03-19", "2024-03-29")
    assert dropped == utc("2024-03-09")


def test_a_periodic_cutoff_needs_half_a_step_of_history():
    # Taobao's shape: the log starts at 16:00 UTC (midnight in Beijing); a cut-off at the next
    # midnight would describe users by their first 8 hours
    start = pd.Timestamp("2017-11-24 16:00", tz="UTC")
    end = pd.Timestamp("2017-12-03 15:59", tz="UTC")
    kept, dropped = place_cutoffs(start, end, 2 * DAY, 6 * DAY, 2 * DAY)
    assert kept == utc("2017-11-27", "2017-11-29", "2017-12-01")
    assert dropped == utc("2017-11-25")
    # a day of history is half the step: kept
    kept, _ = place_cutoffs(start - pd.Timedelta(hours=16), end, 2 * DAY, 6 * DAY, 2 * DAY)
    assert kept[0] == pd.Timestamp("2017-11-25", tz="UTC")


def test_explicit_dates_sorted_and_in_utc_with_their_horizon():
    start = pd.Timestamp("2024-01-01", tz="UTC")
    end = pd.Timestamp("2024-03-31", tz="UTC")
    cut = {"dates": ["2024-03-10", "2024-03-01T01:00+01:00", "2024-03-30"]}
    plan = fit_cutoffs(start, end, params(cutoffs=cut))
    assert plan.cutoffs == utc("2024-03-01", "2024-03-10")
    assert plan.dropped == utc("2024-03-30")
    assert plan.horizon == 7 * DAY and plan.every is None and not plan.adapted


# --- automatic cut-offs fitted to the log ---------------------------------------------------


def test_a_long_log_keeps_the_defaults_exactly():
    start = pd.Timestamp("2024-01-01 00:00:03", tz="UTC")
    end = pd.Timestamp("2024-03-30 23:59:58", tz="UTC")  # 90 days to the second
    auto = fit_cutoffs(start, end, params(), granularity_seconds=1.0)
    explicit = fit_cutoffs(
        start, end, params(horizon_days=7, cutoffs={"every_days": 7, "over_last_days": 21})
    )
    assert (
        auto.cutoffs
        == explicit.cutoffs
        == utc("2024-03-02", "2024-03-09", "2024-03-16", "2024-03-23")
    )
    assert auto.horizon == explicit.horizon == 7 * DAY
    assert auto.step == 7 * DAY and not auto.adapted and explicit.step is None
    assert auto.describe() == (
        "horizon 7 days, cut-offs every 7 days over the last 21 days, the last rounded down to "
        "the day"
    )


def test_a_month_long_log_keeps_the_7_day_step_with_three_cutoffs():
    start = pd.Timestamp("2024-01-01 10:00", tz="UTC")
    end = pd.Timestamp("2024-01-29 09:00", tz="UTC")  # 28 days: the 4th cut-off has no history
    plan = fit_cutoffs(start, end, params())
    assert plan.cutoffs == utc("2024-01-08", "2024-01-15", "2024-01-22")
    assert plan.dropped == utc("2024-01-01")
    assert plan.horizon == 7 * DAY and not plan.adapted


def test_a_six_hour_log_gets_hourly_cutoffs_and_a_one_hour_horizon():
    start = pd.Timestamp("2024-05-01 00:00:00.250", tz="UTC")
    end = pd.Timestamp("2024-05-01 05:59:40", tz="UTC")
    plan = fit_cutoffs(start, end, params(), granularity_seconds=0.001)
    assert plan.cutoffs == utc(
        "2024-05-01 01:00", "2024-05-01 02:00", "2024-05-01 03:00", "2024-05-01 04:00"
    )
    assert plan.horizon == pd.Timedelta(hours=1) and plan.adapted
    assert plan.describe() == (
        "horizon 1 hour, cut-offs every hour over the last 3 hours, the last rounded down to the "
        "hour"
    )


def test_a_day_granular_ten_day_log_gets_whole_days():
    start = pd.Timestamp("2024-05-01", tz="UTC")
    end = pd.Timestamp("2024-05-10", tz="UTC")  # dates only: 2024-05-01 to 2024-05-10
    plan = fit_cutoffs(start, end, params(), granularity_seconds=86400.0)
    assert plan.horizon == 2 * DAY and plan.every == 2 * DAY and plan.unit == "day"
    assert plan.cutoffs == utc("2024-05-02", "2024-05-04", "2024-05-06", "2024-05-08")
    assert all(t == t.floor("D") for t in plan.cutoffs)


def test_cutoffs_are_never_finer_than_the_log_granularity():
    start = pd.Timestamp("2024-05-01 00:00", tz="UTC")
    end = pd.Timestamp("2024-05-01 03:00", tz="UTC")
    # to the second: half-hourly cut-offs fit; to the hour: hourly ones only, two of them
    fine = fit_cutoffs(start, end, params(), granularity_seconds=1.0)
    assert fine.horizon == pd.Timedelta(minutes=30) and len(fine.cutoffs) == 4
    assert fine.unit == "minute"
    hourly = fit_cutoffs(start, end, params(), granularity_seconds=3600.0)
    assert hourly.horizon == pd.Timedelta(hours=1)
    assert hourly.cutoffs == utc("2024-05-01 01:00", "2024-05-01 02:00")
    assert automatic_steps(86400.0) == [7 * DAY, 3 * DAY, 2 * DAY, DAY]
    assert automatic_steps(3600.0)[-1] == pd.Timedelta(hours=1)


def test_an_explicit_setting_wins_over_auto():
    start = pd.Timestamp("2024-05-01 00:00:00.250", tz="UTC")
    end = pd.Timestamp("2024-05-01 05:59:40", tz="UTC")
    two_hours = 2 / 24
    plan = fit_cutoffs(start, end, params(horizon_days=two_hours), granularity_seconds=0.001)
    assert plan.horizon == pd.Timedelta(hours=2)  # the explicit horizon ...
    assert plan.every == pd.Timedelta(hours=1)  # ... with cut-offs fitted around it
    assert plan.cutoffs == utc("2024-05-01 01:00", "2024-05-01 02:00", "2024-05-01 03:00")
    seven = fit_cutoffs(start, end, params(horizon_days=7), granularity_seconds=0.001)
    assert seven.cutoffs == [] and seven.horizon == 7 * DAY  # nothing fits: the caller skips


def test_a_log_with_no_room_for_any_cutoff_gives_none():
    start = pd.Timestamp("2024-05-01 00:00:00", tz="UTC")
    end = pd.Timestamp("2024-05-01 00:01:00", tz="UTC")
    plan = fit_cutoffs(start, end, params(), granularity_seconds=60.0)
    assert plan.cutoffs == [] and plan.horizon == pd.Timedelta(minutes=1)


@pytest.mark.parametrize(
    ("length", "text"),
    [
        ("7D", "7 days"),
        ("1D", "1 day"),
        ("36h", "1.5 days"),
        ("1h", "1 hour"),
        ("30min", "30 minutes"),
        ("90s", "1.5 minutes"),
    ],  # fmt: skip
)
def test_duration_text(length, text):
    assert duration_text(pd.Timedelta(length)) == text


def test_span_and_every_text():
    assert span_text(pd.Timedelta(hours=6)) == "6.0 hours"
    assert span_text(pd.Timedelta(days=90)) == "90.0 days"
    assert span_text(pd.Timedelta(minutes=17)) == "17.0 minutes"
    assert every_text(pd.Timedelta(hours=1)) == "hour"
    assert every_text(pd.Timedelta(hours=2)) == "2 hours"


def test_top_categories_by_events_before_the_cutoff():
    events = events_frame(LOG + [("c", "c9", t(d=1), "view", None, {"category": "toys"})] * 20)
    assert top_categories(events, T, 2) == ["books", "games"]  # 10, 5; later toys ignored
    assert top_categories(events, T, 5) == ["books", "games", "toys"]
    assert top_categories(events, T, 0) == []


def test_category_column_names_are_identifiers_and_collisions_keep_the_commoner():
    assert category_share_column("Home & Garden") == "category_share_home_garden"
    log = [
        ("u", "s", t(m=-k - 1), "view", None, {"category": c})
        for k, c in enumerate(["a.b"] * 3 + ["a b"] * 2 + ["z"])
    ]
    assert top_categories(events_frame(log), T, 2) == ["a.b", "z"]
