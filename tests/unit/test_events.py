"""Unit tests of personalab.ingest.events: parsing, validation reasons, late events, ids, bots."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from personalab.ingest.events import (
    RULE_ORDER,
    BotRules,
    content_event_ids,
    duplicated_ids,
    find_bot_users,
    find_violations,
    flag_late,
    hex64,
    parse_events,
    reasons_text,
    summarise_reasons,
)
from personalab.ingest.sources import RawEvents

CLEAN = {
    "user_id": "u1",
    "timestamp": "2024-01-01T12:00:00Z",
    "event_type": "view",
    "item_id": "i1",
    "price": 9.5,
    "quantity": 1.0,
    "rating": np.nan,
    "dwell_seconds": 3.0,
    "scroll_depth": 0.5,
}
T0 = pd.Timestamp("2024-01-01 12:00", tz="UTC")


def _raw(rows: list[dict], unit: str | None = None, fmt: str | None = None) -> RawEvents:
    return RawEvents(
        frame=pd.DataFrame(rows), description="test.csv", timestamp_unit=unit, timestamp_format=fmt
    )


def _reasons(rows: list[dict], rating_range=(0.0, 5.0), timezone: str = "UTC") -> dict[int, str]:
    """Row position -> reason text, for the rows that broke a rule."""
    flags = find_violations(parse_events(_raw(rows), timezone=timezone), rating_range)
    return reasons_text(flags).to_dict()


def _times(
    values: list, unit: str | None = None, fmt: str | None = None, timezone: str = "UTC"
) -> list:
    rows = [{**CLEAN, "timestamp": v} for v in values]
    return parse_events(_raw(rows, unit, fmt), timezone=timezone).frame["timestamp"].tolist()


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


# --- validation rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "broken"),
    [
        ("missing_user_id", {"user_id": None}),
        ("missing_user_id", {"user_id": "   "}),
        ("bad_timestamp", {"timestamp": "not a time"}),
        ("bad_timestamp", {"timestamp": None}),
        ("unknown_event_type", {"event_type": "teleport"}),
        ("unknown_event_type", {"event_type": None}),
        ("missing_item_id", {"item_id": None}),
        ("missing_item_id", {"event_type": "purchase", "item_id": ""}),
        ("bad_number", {"price": "abc"}),
        ("bad_number", {"dwell_seconds": "fast"}),
        ("negative_price", {"price": -0.01}),
        ("non_positive_quantity", {"quantity": 0}),
        ("non_positive_quantity", {"quantity": -2}),
        ("missing_rating", {"event_type": "rate", "rating": None}),
        ("rating_out_of_range", {"event_type": "rate", "rating": 5.5}),
        ("rating_out_of_range", {"event_type": "rate", "rating": -1}),
        ("negative_dwell", {"dwell_seconds": -1}),
        ("scroll_depth_out_of_range", {"scroll_depth": 1.01}),
        ("scroll_depth_out_of_range", {"scroll_depth": -0.1}),
    ],
)
def test_each_rule_yields_exactly_its_reason(reason, broken):
    assert _reasons([CLEAN, {**CLEAN, **broken}]) == {1: reason}


def test_clean_rows_have_no_violations():
    flags = find_violations(parse_events(_raw([CLEAN, CLEAN])))
    assert list(flags.columns) == list(RULE_ORDER)
    assert not flags.to_numpy().any()
    assert reasons_text(flags).empty


def test_boundary_values_are_valid():
    rows = [
        {**CLEAN, "price": 0, "dwell_seconds": 0, "scroll_depth": 0},
        {**CLEAN, "scroll_depth": 1},
        {**CLEAN, "event_type": "rate", "rating": 0},
        {**CLEAN, "event_type": "rate", "rating": 5},
    ]
    assert _reasons(rows) == {}


def test_events_without_items_need_no_item_id():
    rows = [
        {**CLEAN, "event_type": "search", "item_id": None},
        {**CLEAN, "event_type": "scroll", "item_id": None},
    ]
    assert _reasons(rows) == {}


def test_rating_range_parameter_is_used():
    rows = [
        CLEAN,
        {**CLEAN, "event_type": "rate", "rating": 0.5},
        {**CLEAN, "event_type": "rate", "rating": 10},
    ]
    assert _reasons(rows, rating_range=(1.0, 10.0)) == {1: "rating_out_of_range"}


def test_row_breaking_two_rules_lists_both_in_rule_order():
    rows = [
        CLEAN,
        {**CLEAN, "user_id": None, "price": -2},
        {**CLEAN, "scroll_depth": 3, "timestamp": "garbage"},
        {**CLEAN, "dwell_seconds": -1, "quantity": 0, "event_type": "rate", "rating": 9},
    ]
    assert _reasons(rows) == {
        1: "missing_user_id;negative_price",
        2: "bad_timestamp;scroll_depth_out_of_range",
        3: "non_positive_quantity;rating_out_of_range;negative_dwell",
    }


def test_reasons_text_puts_adapter_reasons_first():
    rows = [CLEAN, {**CLEAN, "price": -1}, CLEAN]
    flags = find_violations(parse_events(_raw(rows)))
    extra = pd.Series([None, "cancelled_invoice", "cancelled_invoice"], dtype=object)
    assert reasons_text(flags, extra).to_dict() == {
        1: "cancelled_invoice;negative_price",
        2: "cancelled_invoice",
    }


# --- parsing -------------------------------------------------------------------------------


def test_numeric_strings_parse_as_numbers():
    rows = [{**CLEAN, "price": "12.5", "quantity": "3", "dwell_seconds": " 4.25"}]
    parsed = parse_events(_raw(rows))
    row = parsed.frame.iloc[0]
    assert (row["price"], row["quantity"], row["dwell_seconds"]) == (12.5, 3.0, 4.25)
    assert not parsed.bad_number.any()


def test_non_numeric_price_becomes_null_and_bad_number():
    parsed = parse_events(_raw([CLEAN, {**CLEAN, "price": "abc"}]))
    assert parsed.bad_number.tolist() == [False, True]
    assert np.isnan(parsed.frame["price"].iloc[1])


def test_missing_number_is_not_bad_number():
    parsed = parse_events(_raw([{**CLEAN, "price": None, "quantity": np.nan}]))
    assert parsed.bad_number.tolist() == [False]


def test_iso_timestamp_with_z():
    assert _times(["2024-03-01T12:34:56Z"]) == [_utc("2024-03-01 12:34:56")]


def test_iso_timestamps_with_offsets_are_converted_to_utc():
    got = _times(["2024-03-01T12:00:00+02:00", "2024-03-01T12:00:00-05:00"])
    assert got == [_utc("2024-03-01 10:00"), _utc("2024-03-01 17:00")]


def test_epoch_seconds():
    assert _times([1_700_000_000, 1_700_000_060]) == [
        _utc("2023-11-14 22:13:20"),
        _utc("2023-11-14 22:14:20"),
    ]


def test_epoch_milliseconds_with_timestamp_unit():
    assert _times([1_700_000_000_123], unit="ms") == [_utc("2023-11-14 22:13:20.123")]


def test_epoch_seconds_as_strings_with_timestamp_unit():
    assert _times(["1700000000", "soon"], unit="s") == [_utc("2023-11-14 22:13:20"), pd.NaT]


def test_strptime_format():
    got = _times(["01/03/2024 12:34", "31/02/2024 00:00"], fmt="%d/%m/%Y %H:%M")
    assert got == [_utc("2024-03-01 12:34"), pd.NaT]


def test_naive_timestamps_in_berlin_are_converted_to_utc():
    got = _times(["2024-01-15 12:00:00", "2024-07-15 12:00:00"], timezone="Europe/Berlin")
    assert got == [_utc("2024-01-15 11:00"), _utc("2024-07-15 10:00")]  # CET +1, CEST +2


def test_parsed_timestamps_are_utc():
    frame = parse_events(_raw([CLEAN]), timezone="Europe/Berlin").frame
    assert str(frame["timestamp"].dt.tz) == "UTC"


def test_offsets_in_a_non_utc_source_are_converted_to_utc():
    got = _times(
        ["2024-01-15T12:00:00+01:00", "2024-07-15T12:00:00+02:00"], timezone="Europe/Berlin"
    )
    assert got == [_utc("2024-01-15 11:00"), _utc("2024-07-15 10:00")]


def test_ambiguous_naive_datetime_becomes_nat_like_strings_do():
    values = pd.to_datetime(
        ["2024-01-15 12:00", "2024-10-27 02:30"]
    )  # 02:30 happens twice in Berlin
    got = _times(list(values), timezone="Europe/Berlin")
    assert got == [_utc("2024-01-15 11:00"), pd.NaT]


def test_ambiguous_naive_string_becomes_bad_timestamp():
    clean = {**CLEAN, "timestamp": "2024-10-27 12:00:00"}
    rows = [clean, {**clean, "timestamp": "2024-10-27 02:30:00"}]  # 02:30 happens twice in Berlin
    assert _reasons(rows, timezone="Europe/Berlin") == {1: "bad_timestamp"}


def test_float_user_ids_lose_their_decimal_point():
    rows = [{**CLEAN, "user_id": 17850.0}, {**CLEAN, "user_id": 12.0}, {**CLEAN, "user_id": np.nan}]
    assert parse_events(_raw(rows)).frame["user_id"].tolist()[:2] == ["17850", "12"]


def test_blank_ids_become_null_and_ids_are_stripped():
    rows = [{**CLEAN, "user_id": " u7 ", "item_id": ""}, {**CLEAN, "user_id": "", "item_id": "  "}]
    frame = parse_events(_raw(rows)).frame
    assert frame["user_id"].iloc[0] == "u7"
    assert frame["user_id"].isna().tolist() == [False, True]
    assert frame["item_id"].isna().tolist() == [True, True]


def test_event_types_are_stripped_and_lower_cased():
    rows = [{**CLEAN, "event_type": t} for t in (" View ", "CLICK", "Add_To_Cart ", "view")]
    parsed = parse_events(_raw(rows))
    assert parsed.frame["event_type"].astype(str).tolist() == [
        "view",
        "click",
        "add_to_cart",
        "view",
    ]
    assert not find_violations(parsed).to_numpy().any()


def test_all_null_event_types_are_flagged_not_crash():
    rows = [{**CLEAN, "event_type": None}, {**CLEAN, "event_type": None}]
    assert _reasons(rows) == {0: "unknown_event_type", 1: "unknown_event_type"}


# --- late events ---------------------------------------------------------------------------


def _minutes(*offsets) -> pd.Series:
    return pd.Series(
        [pd.NaT if m is None else T0 + pd.Timedelta(minutes=m) for m in offsets],
        dtype="datetime64[ns, UTC]",
    )


HOUR = pd.Timedelta(minutes=60)


def test_exactly_allowed_lateness_is_not_late_one_minute_more_is():
    # max seen is 100; 40 is exactly 60 min behind, 39 is 61 min behind
    assert flag_late(_minutes(0, 100, 40, 39), HOUR).tolist() == [False, False, False, True]


def test_one_second_past_allowed_lateness_is_late():
    times = pd.Series([T0, T0 - HOUR - pd.Timedelta(seconds=1)])
    assert flag_late(times, HOUR).tolist() == [False, True]


def test_watermark_is_max_seen_not_previous_row():
    # 170 is 30 behind the max (200) but the earlier 130 is 70 behind it
    late = flag_late(_minutes(200, 170, 130, 250, 189), HOUR)
    assert late.tolist() == [False, False, True, False, True]


def test_first_row_is_never_late():
    assert flag_late(_minutes(-10_000, 0), HOUR).tolist() == [False, False]


def test_nat_rows_are_not_late_and_do_not_advance_the_watermark():
    assert flag_late(_minutes(None, 0, None, -61), HOUR).tolist() == [False, False, False, True]
    assert flag_late(_minutes(None, -1000), HOUR).tolist() == [False, False]


# --- duplicates and ids --------------------------------------------------------------------


def test_duplicated_ids_keep_first_arrival():
    assert duplicated_ids(pd.Series(["a", "a", "a"])).tolist() == [False, True, True]


def test_duplicated_ids_with_interleaved_repeats():
    ids = pd.Series(["a", "b", "a", "c", "b", "a", "d"])
    assert duplicated_ids(ids).tolist() == [False, False, True, False, True, True, False]


def test_duplicated_ids_without_repeats():
    assert duplicated_ids(pd.Series(["z", "y", "x"])).tolist() == [False, False, False]


def _parsed_frame(rows: list[dict]) -> pd.DataFrame:
    return parse_events(_raw(rows)).frame


def test_content_ids_are_16_hex_chars_and_deterministic():
    frame = _parsed_frame([CLEAN, {**CLEAN, "user_id": "u2"}])
    first = content_event_ids(frame)
    assert all(re.fullmatch(r"[0-9a-f]{16}", v) for v in first)
    assert content_event_ids(frame.copy()).tolist() == first.tolist()


def test_content_ids_equal_for_identical_content():
    ids = content_event_ids(_parsed_frame([CLEAN, {**CLEAN, "dwell_seconds": 99.0}, CLEAN]))
    assert ids.iloc[0] == ids.iloc[1] == ids.iloc[2]  # dwell is not part of the content


@pytest.mark.parametrize(
    "change",
    [
        {"user_id": "u2"},
        {"session_id": "s9"},
        {"timestamp": "2024-01-01T12:00:01Z"},
        {"event_type": "click"},
        {"item_id": "i2"},
        {"price": 9.51},
        {"quantity": 2.0},
        {"rating": 4.0},
    ],
)
def test_content_ids_differ_when_any_field_differs(change):
    ids = content_event_ids(
        _parsed_frame([{**CLEAN, "session_id": "s1"}, {**CLEAN, "session_id": "s1", **change}])
    )
    assert ids.iloc[0] != ids.iloc[1]


_RANDOM = np.random.default_rng(7).integers(0, 2**64 - 1, size=50, dtype=np.uint64, endpoint=True)


@pytest.mark.parametrize("value", [0, 1, 15, 16, 2**63, 2**64 - 1, 0x0123456789ABCDEF])
def test_hex64_edge_values(value):
    assert hex64(np.array([value], dtype=np.uint64)).tolist() == [format(value, "016x")]


def test_hex64_random_values():
    assert hex64(_RANDOM).tolist() == [format(int(v), "016x") for v in _RANDOM]


# --- bots ----------------------------------------------------------------------------------


def _user(user: str, seconds, event_type: str = "click", dwell=np.nan) -> pd.DataFrame:
    times = [T0 + pd.Timedelta(seconds=s) for s in seconds]
    return pd.DataFrame(
        {"user_id": user, "timestamp": times, "event_type": event_type, "dwell_seconds": dwell}
    )


def _bots(*frames: pd.DataFrame, **rules) -> dict[str, str]:
    found = find_bot_users(pd.concat(frames, ignore_index=True), BotRules(**rules))
    return dict(zip(found["user_id"], found["rules"], strict=True))


NORMAL = _user("normal", range(0, 25 * 60, 60), "view", 12.0)  # 25 views, one a minute


def test_41_events_in_one_clock_minute_is_a_bot_40_is_not():
    assert _bots(_user("b41", range(41)), _user("b40", range(40)), NORMAL) == {
        "b41": "events_per_minute"
    }


def test_events_per_minute_counts_clock_minutes_not_sliding_windows():
    # 41 events within 41 seconds, but 30 in 12:00 and 11 in 12:01
    assert _bots(_user("split", range(30, 71)), NORMAL) == {}


def test_zero_dwell_on_90_percent_of_20_views_is_a_bot():
    bot = _user("z20", range(0, 1200, 60), "view", [0.0] * 18 + [5.0] * 2)
    found = find_bot_users(pd.concat([bot, NORMAL]), BotRules())
    assert found["user_id"].tolist() == ["z20"]
    assert found["rules"].tolist() == ["zero_dwell"]
    assert found["views_with_dwell"].tolist() == [20]
    assert found["zero_dwell_share"].tolist() == pytest.approx([0.9])


def test_zero_dwell_needs_20_views_with_dwell():
    few = _user("z19", range(0, 1140, 60), "view", 0.0)  # 19 views, all zero dwell
    no_dwell = _user("nodwell", range(0, 1800, 60), "view", [0.0] * 19 + [np.nan] * 11)
    assert _bots(few, no_dwell, NORMAL) == {}


def test_zero_dwell_share_below_threshold_is_not_a_bot():
    user = _user("z17", range(0, 1200, 60), "view", [0.0] * 17 + [5.0] * 3)  # 85%
    assert _bots(user, NORMAL) == {}


def test_events_per_day_rule():
    eleven = _user("d11", range(0, 11 * 600, 600))  # 11 events, 10 minutes apart
    ten = _user("d10", range(0, 10 * 600, 600))
    across_midnight = _user(
        "night", range(11 * 3600 + 55 * 60, 11 * 3600 + 66 * 60, 60)
    )  # 6 + 5 events
    normal = _user("normal", range(0, 300, 60))
    assert _bots(eleven, ten, across_midnight, normal, max_events_per_day=10) == {
        "d11": "events_per_day"
    }


def test_normal_user_is_not_flagged():
    found = find_bot_users(NORMAL, BotRules())
    assert found.empty
    assert "rules" in found.columns


def test_rules_column_names_every_rule_hit():
    burst = _user("burst", range(41), "view", 0.0)
    assert _bots(burst, NORMAL, max_events_per_day=40) == {
        "burst": "events_per_minute;events_per_day;zero_dwell"
    }


def test_bot_stats_columns():
    found = find_bot_users(pd.concat([_user("b", range(45)), NORMAL]), BotRules())
    row = found.iloc[0]
    stats = row[["events", "peak_per_minute", "peak_per_day"]].tolist()
    assert (row["user_id"], stats) == ("b", [45, 45, 45])


def test_no_events_no_bots():
    assert find_bot_users(NORMAL.iloc[:0], BotRules()).empty


# --- summaries -----------------------------------------------------------------------------


def test_summarise_reasons_counts_a_two_rule_row_for_both_rules():
    reasons = pd.Series(["missing_user_id;negative_price", "negative_price", "bad_number"])
    assert summarise_reasons(reasons).to_dict() == {
        "negative_price": 2,
        "missing_user_id": 1,
        "bad_number": 1,
    }
    assert summarise_reasons(reasons, top=1).to_dict() == {"negative_price": 2}


def test_summarise_reasons_from_validation():
    reasons = pd.Series(
        _reasons([CLEAN, {**CLEAN, "user_id": None, "price": -2}, {**CLEAN, "price": -1}])
    )
    assert summarise_reasons(reasons).to_dict() == {"negative_price": 2, "missing_user_id": 1}
