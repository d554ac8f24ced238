"""Unit tests of personalab.ingest.events: parsing raw values into canonical dtypes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from personalab.ingest.events import parse_events
from personalab.ingest.validation import find_violations
from tests.unit.ingest.event_rows import CLEAN, _raw, _reasons


def _times(
    values: list, unit: str | None = None, fmt: str | None = None, timezone: str = "UTC"
) -> list:
    rows = [{**CLEAN, "timestamp": v} for v in values]
    return parse_events(_raw(rows, unit, fmt), timezone=timezone).frame["timestamp"].tolist()


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


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


def test_infinite_numbers_become_null_and_bad_number():
    rows = [CLEAN, {**CLEAN, "price": np.inf}, {**CLEAN, "dwell_seconds": "-inf"}]
    parsed = parse_events(_raw(rows))
    assert parsed.bad_number.tolist() == [False, True, True]
    assert parsed.frame["price"].isna().tolist() == [False, True, False]
    assert parsed.frame["dwell_seconds"].isna().tolist() == [False, False, True]


def test_parsed_events_say_how_timestamps_were_read():
    assert parse_events(_raw([CLEAN])).timestamps_read_as == "iso8601"
    epochs = [{**CLEAN, "timestamp": 1_700_000_000_000}]
    assert parse_events(_raw(epochs)).timestamps_read_as == "ms"


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
