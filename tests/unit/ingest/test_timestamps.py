"""Unit tests of personalab.ingest.timestamps, and bad timestamps ingested as a user would.

The table at the end writes small CSV / JSONL files and runs the stage on them through params;
each case ends in a named error or in quarantine reasons, with every row accounted for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from personalab.core.params import ParamsError
from personalab.ingest.messages import QuarantineRateError
from personalab.ingest.params import IngestParams
from personalab.ingest.pipeline import IngestResult, run_ingest
from personalab.ingest.sources import SourceError
from personalab.ingest.timestamps import (
    NS_BOUNDS,
    Reading,
    UndatedNumbersError,
    apply_reading,
    decide_reading,
    infer_epoch_unit,
    read_timestamps,
)
from personalab.ingest.validation import plausible_window
from tests.unit.ingest.bad_inputs import assert_accounted, reasons, write


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def _read(values: list, unit: str | None = None, fmt: str | None = None, tz: str = "UTC"):
    return read_timestamps(pd.Series(values), unit, fmt, tz)


# --- unit inference ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "unit"),
    [
        ([1_700_000_000, 1_700_000_060], "s"),
        ([1_700_000_000.5], "s"),
        ([1_700_000_000_123, 1_700_000_060_000], "ms"),
        ([1_700_000_000_123_456], "us"),
        ([1_700_000_000_123_456_789], "ns"),
        ([20260131, 20260201], "yyyymmdd"),
        ([np.nan, np.inf], "s"),  # nothing to infer from
    ],
)
def test_epoch_unit_is_inferred_from_the_median_magnitude(values, unit):
    assert infer_epoch_unit(pd.Series(values)) == unit


# --- a column read in parts (batches) ------------------------------------------------------


@pytest.mark.parametrize(
    ("parts", "reading"),
    [
        # the unit is the whole column's median: the first part alone would say seconds
        ([[1_700_000_000], [1_700_000_000_000, 1_700_000_060_000]], Reading("numbers", "ms")),
        # bare numbers in the first part, ISO 8601 later: text (the numbers are bad timestamps)
        ([["1700000000"], ["2024-01-01T00:00:00Z"]], Reading("text")),
        ([["1700000000", None], ["1700000060"]], Reading("numbers", "s")),  # bare numbers only
        ([[None], [None]], Reading("text")),  # nothing given: read as ISO 8601, all NaT
        ([[20260131], [20260201]], Reading("numbers", "yyyymmdd")),
    ],
)
def test_a_column_in_parts_is_read_as_the_whole_column_is(parts, reading):
    series = [pd.Series(part, dtype=None if part[0] is not None else "str") for part in parts]
    assert decide_reading(series, None, None) == reading
    whole = pd.concat(series, ignore_index=True)
    expected = read_timestamps(whole, None, None)
    got = pd.concat([apply_reading(part, reading).values for part in series], ignore_index=True)
    pd.testing.assert_series_equal(got, expected.values, check_dtype=False)
    assert reading.read_as == expected.read_as


def test_inferred_units_give_the_same_instant():
    want = [_utc("2023-11-14 22:13:20")]
    for scale, unit in ((1, "s"), (10**3, "ms"), (10**6, "us"), (10**9, "ns")):
        stamps = _read([1_700_000_000 * scale])
        assert (stamps.values.tolist(), stamps.read_as) == (want, unit)


def test_nanosecond_epochs_keep_every_digit():
    stamps = _read([1_700_000_000_123_456_789])
    assert stamps.values.iloc[0] == _utc("2023-11-14 22:13:20.123456789")


def test_an_explicit_unit_wins_over_the_magnitude():
    stamps = _read([1_700_000_000], unit="ms")  # seconds declared as milliseconds: 1970
    assert stamps.values.tolist() == [_utc("1970-01-20 16:13:20")]
    assert stamps.read_as == "ms"


# --- numbers that are dates ------------------------------------------------------------------


def test_yyyymmdd_numbers_without_a_format_are_dates_not_1970():
    stamps = _read([20260131, 20251231])
    assert stamps.values.tolist() == [_utc("2026-01-31"), _utc("2025-12-31")]
    assert stamps.read_as == "yyyymmdd"


def test_yyyymmdd_numbers_that_are_not_all_dates_stop_with_the_format_to_set():
    with pytest.raises(UndatedNumbersError, match=r'timestamp_format: "%Y%m%d"') as info:
        _read([20260131, 20261399, 20260201])
    assert info.value.position == 1
    assert "20261399" in str(info.value)


def test_timestamp_format_applies_to_numbers():
    stamps = _read([20260131, 20261399], fmt="%Y%m%d")
    assert stamps.values.tolist() == [_utc("2026-01-31"), pd.NaT]
    assert stamps.read_as == "format"


def test_timestamp_format_reads_float_numbers_as_their_digits():
    stamps = _read([20260131093000.0, np.nan], fmt="%Y%m%d%H%M%S")
    assert stamps.values.tolist() == [_utc("2026-01-31 09:30"), pd.NaT]


def test_bare_number_strings_are_read_as_epochs():
    stamps = _read(["1700000000", "1700000060"])
    assert stamps.values.tolist() == [_utc("2023-11-14 22:13:20"), _utc("2023-11-14 22:14:20")]
    assert stamps.read_as == "s"


# --- the range datetime64[ns] holds ----------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "unit"),
    [
        (["1600-03-01T00:00:00Z", "2024-01-01T00:00:00Z"], None),
        (["9999-12-31T00:00:00Z", "2024-01-01T00:00:00Z"], None),
        ([10**16, 1_700_000_000_000], "ms"),  # year ~318,857 in milliseconds
        ([9.3e9 * 1000, 1.7e12], None),  # past 2262 in inferred milliseconds (floats)
        ([-9.3e9, 1.7e9], "s"),
    ],
)
def test_dates_beyond_nanoseconds_become_out_of_range_never_wrap(values, unit):
    stamps = _read(values, unit=unit)
    assert stamps.out_of_range.tolist() == [True, False]
    assert stamps.values.isna().tolist() == [True, False]
    ns = stamps.values.to_numpy(dtype="datetime64[ns]")  # never wraps: NaT, not 1816
    assert np.isnat(ns[0]) and ns[1] > np.datetime64("2000-01-01")


def test_datetime_columns_out_of_range_are_caught_too():
    values = pd.Series(pd.to_datetime(["9999-03-01", "2024-01-01"]).as_unit("s"))
    stamps = read_timestamps(values, None, None, "UTC")
    assert stamps.out_of_range.tolist() == [True, False]
    assert stamps.read_as == "datetime"


def test_infinite_and_missing_numbers_are_unparseable_not_out_of_range():
    stamps = _read([np.inf, np.nan, 1.7e9])
    assert stamps.values.isna().tolist() == [True, True, False]
    assert not stamps.out_of_range.any()


# --- time zones ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "naive",
    [
        "2024-03-31 01:30:00",  # London: 01:00-02:00 does not exist (clocks go forward)
        "2024-10-27 01:30:00",  # London: 01:00-02:00 happens twice (clocks go back)
    ],
)
def test_naive_times_in_a_dst_gap_or_overlap_are_unparseable(naive):
    stamps = _read(["2024-06-01 12:00:00", naive], tz="Europe/London")
    assert stamps.values.tolist() == [_utc("2024-06-01 11:00"), pd.NaT]
    assert not stamps.out_of_range.any()


def test_yyyymmdd_numbers_are_local_dates_in_the_source_zone():
    stamps = _read([20260701], tz="Europe/Berlin")
    assert stamps.values.tolist() == [_utc("2026-06-30 22:00")]


# --- the plausibility window -----------------------------------------------------------------


def test_plausible_window_ends_a_day_after_the_run_by_default():
    now = _utc("2026-05-01 08:00")
    assert plausible_window(("1990-01-01", None), now) == (
        _utc("1990-01-01"),
        _utc("2026-05-02 08:00"),
    )


def test_plausible_window_is_clipped_to_what_nanoseconds_hold():
    start, end = plausible_window(("1000-01-01", "1900-01-01"), _utc("2026-05-01"))
    assert (start, end) == (NS_BOUNDS[0], _utc("1900-01-01"))
    start, end = plausible_window(("2000-01-01", "3000-01-01"), _utc("2026-05-01"))
    assert (start, end) == (_utc("2000-01-01"), NS_BOUNDS[1])


def test_a_window_wider_than_292_years_is_a_params_error():
    """Differences of dates 561 years apart overflow nanoseconds (a session would run backwards)."""
    with pytest.raises(
        ParamsError,
        match=r"^params/ingest\.yaml: plausible_timestamps: \['1700-01-01', None\] spans 1700",
    ):
        plausible_window(("1700-01-01", None), _utc("2026-05-01"))


# --- bad inputs, ingested as a user would ----------------------------------------------------

HEADER = "user_id,timestamp,event_type,item_id\n"


def _csv(*stamps: Any) -> str:
    return HEADER + "".join(f"u{k},{t},view,i1\n" for k, t in enumerate(stamps))


def _run(folder: Path, path: Path, *, top: dict | None = None, **source: Any) -> IngestResult:
    """The stage on ``path`` as a csv source with ``source`` params and top-level ``top`` params."""
    values = {
        "source": {"format": "csv", "path": str(path), **source},
        "max_quarantine_rate": 1.0,
        **(top or {}),
    }
    return run_ingest(IngestParams.from_mapping(values, source="params/ingest.yaml"), folder)


CASES = [
    # (id, file content, source params, top-level params, reasons, extra checks)
    ("yyyymmdd_with_format", _csv(20260131, 20261399), {"timestamp_format": "%Y%m%d"}, {},
     {"bad_timestamp": 1}, {"first": "2026-01-31"}),
    ("yyyymmdd_without_format", _csv(20260131, 20251231), {}, {},
     {}, {"first": "2025-12-31", "timestamp_unit_seconds": 86400.0}),
    ("epoch_seconds_read_as_ms", _csv(1_700_000_000, 1_700_000_060), {"timestamp_unit": "ms"}, {},
     {"implausible_timestamp": 2}, {}),
    ("epoch_ms_inferred", _csv(1_700_000_000_000, 1_700_000_060_000), {}, {},
     {}, {"first": "2023-11-14 22:13:20", "timestamp_unit_seconds": 0.001}),
    ("epoch_ms_beyond_2262", _csv(1_700_000_000_000, 10**16, 1_700_000_060_000), {}, {},
     {"implausible_timestamp": 1}, {}),
    ("year_1715_string", _csv("2024-01-01T00:00:00Z", "1715-03-01T00:00:00Z"), {}, {},
     {"implausible_timestamp": 1}, {}),
    ("year_1600_string", _csv("2024-01-01T00:00:00Z", "1600-03-01T00:00:00Z"), {}, {},
     {"implausible_timestamp": 1}, {}),
    ("year_9999_string", _csv("2024-01-01T00:00:00Z", "9999-12-31T23:59:59Z"), {}, {},
     {"implausible_timestamp": 1}, {}),
    ("before_1990", _csv("2024-01-01T00:00:00Z", "1985-06-01T00:00:00Z"), {}, {},
     {"implausible_timestamp": 1}, {}),
    ("small_epochs_are_1970", _csv(1_700_000_000, 86_400), {"timestamp_unit": "s"}, {},
     {"implausible_timestamp": 1}, {}),
    ("days_in_the_future", _csv("2024-01-01T00:00:00Z", "2500-01-01T00:00:00Z"), {}, {},
     {"implausible_timestamp": 1}, {}),
    ("wider_window_keeps_1800", _csv("1800-01-01T00:00:00Z", "1600-03-01T00:00:00Z"), {},
     {"plausible_timestamps": ["1750-01-01", "2000-01-01"]}, {"implausible_timestamp": 1},
     {"first": "1800-01-01"}),
    ("infinite_epoch", _csv(1_700_000_000, "inf"), {}, {}, {"bad_timestamp": 1}, {}),
    ("dst_gap_london", _csv("2024-06-01 12:00", "2024-03-31 01:30"),
     {"timezone": "Europe/London"}, {}, {"bad_timestamp": 1}, {"first": "2024-06-01 11:00"}),
    ("dst_overlap_london", _csv("2024-06-01 12:00", "2024-10-27 01:30"),
     {"timezone": "Europe/London"}, {}, {"bad_timestamp": 1}, {}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "source", "top", "want", "checks"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_timestamps(tmp_path, content, source, top, want, checks):
    path = write(tmp_path, "events.csv", content)
    result = _run(tmp_path, path, top=top, **source)
    assert_accounted(result)
    assert reasons(result) == want
    if "first" in checks:
        assert result.events["timestamp"].min() == _utc(checks["first"])
    if "timestamp_unit_seconds" in checks:
        assert result.metrics["timestamp_unit_seconds"] == checks["timestamp_unit_seconds"]
    stamps = result.events["timestamp"].to_numpy(dtype="datetime64[ns]")
    assert not np.isnat(stamps).any()  # every kept timestamp survives nanoseconds


def test_yyyymmdd_numbers_with_a_bad_date_stop_naming_file_row_and_param(tmp_path):
    path = write(tmp_path, "ledger.csv", _csv(20260131, 20260230, 20260201))
    with pytest.raises(SourceError, match=r"^ledger\.csv: row 1: timestamp 20260230 ") as info:
        _run(tmp_path, path)
    assert str(info.value).endswith("source.timestamp_unit: s if they really are epoch seconds")
    assert 'params/ingest.yaml: source.timestamp_format: "%Y%m%d"' in str(info.value)


def test_whitespace_ledger_with_yyyymmdd_dates(tmp_path):
    """A CDNOW-style ledger: customer, yyyymmdd date, quantity, amount, runs of spaces."""
    content = (
        "00001   19970101   1   11.77\n00002   19970112   1   12.00\n00002   19970112   5   77.00\n"
    )
    path = write(tmp_path, "CDNOW.txt", content)
    result = _run(
        tmp_path,
        path,
        top={"plausible_timestamps": ["1995-01-01", None]},
        sep="whitespace",
        header=False,
        names=["user_id", "timestamp", "quantity", "price"],
        constants={"event_type": "purchase", "item_id": "cd"},
    )
    assert_accounted(result)
    assert reasons(result) == {}
    assert sorted(result.events["timestamp"].unique()) == [_utc("1997-01-01"), _utc("1997-01-12")]
    assert result.metrics["timestamp_unit_seconds"] == 86400.0


def test_jsonl_epoch_strings_are_read_as_epochs(tmp_path):
    lines = [
        '{"user_id": "u1", "timestamp": "1700000000", "event_type": "view", "item_id": "i1"}',
        '{"user_id": "u2", "timestamp": "1700000060", "event_type": "view", "item_id": "i1"}',
    ]
    path = write(tmp_path, "events.jsonl", "\n".join(lines) + "\n")
    result = _run(tmp_path, path, format="jsonl")
    assert_accounted(result)
    assert result.events["timestamp"].min() == _utc("2023-11-14 22:13:20")


def test_the_note_says_how_numbers_were_read(tmp_path):
    path = write(tmp_path, "events.csv", _csv(1_700_000_000_000, 1_700_000_060_000))
    notes = _run(tmp_path, path).notes
    assert "timestamps: numbers read as epoch ms (source.timestamp_unit sets the unit)" in notes


def test_a_plausibility_window_that_is_not_a_date_is_a_params_error():
    with pytest.raises(ParamsError, match="plausible_timestamps"):
        IngestParams.from_mapping({"plausible_timestamps": ["soon", None]})


#: an Online Retail invoice file (day first, as the UCI file is) of 1 to 9 December 2010
RETAIL_HEADER = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
)
RETAIL_ROWS = [
    f"5363{day:02d},8512{k},LANTERN,6,{day:02d}/12/2010 {8 + k:02d}:26,2.55,178{day:02d},United Kingdom"
    for day in range(1, 10)
    for k in range(3)
]
RETAIL_MAPPING = {
    "columns": {
        "CustomerID": "user_id",
        "StockCode": "item_id",
        "InvoiceDate": "timestamp",
        "InvoiceNo": "session_id",
    },
    "constants": {"event_type": "purchase"},
}


@pytest.mark.parametrize("dates", ["%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M"])
def test_a_format_with_day_and_month_the_wrong_way_round_is_warned_of(tmp_path, dates):
    """Online Retail's first 20,000 rows (1 to 9 December 2010) all read with %m/%d/%Y too:
    the log became nine days from January to September, with no word of it."""
    from tests.unit.ingest.bad_inputs import ingest, write

    path = write(tmp_path, "retail.csv", RETAIL_HEADER + "\n".join(RETAIL_ROWS) + "\n")
    result = ingest(tmp_path, path, timestamp_format=dates, **RETAIL_MAPPING)
    assert result.metrics["rows_valid"] == len(RETAIL_ROWS)
    swapped = [w for w in result.warnings if "day and month swapped" in w]
    if dates.startswith("%d"):  # the right way round: the swapped reading spans months
        assert swapped == [] and result.profile["last_timestamp"].startswith("2010-12-09")
        return
    assert swapped == [
        "every timestamp also reads with day and month swapped ('%d/%m/%Y %H:%M'): read with "
        "source.timestamp_format '%m/%d/%Y %H:%M', as given, they span 243 days (2010-01-12 to "
        "2010-09-12); swapped, 8 days (2010-12-01 to 2010-12-09). The events were read as "
        "given: if the log is the shorter period, set the format with day and month the other "
        "way round"
    ]


def test_a_short_log_reading_both_ways_over_similar_spans_is_not_warned_of(tmp_path):
    """01/02 and 02/01 span a month either way: nothing says which reading is the log's."""
    from tests.unit.ingest.bad_inputs import ingest, write

    firsts = [r.replace("01/12/2010", "01/02/2010") for r in RETAIL_ROWS[:3]]
    rows = firsts + [r.replace("02/12/2010", "02/01/2010") for r in RETAIL_ROWS[3:6]]
    path = write(tmp_path, "retail.csv", RETAIL_HEADER + "\n".join(rows) + "\n")
    result = ingest(tmp_path, path, timestamp_format="%m/%d/%Y %H:%M", **RETAIL_MAPPING)
    assert not [w for w in result.warnings if "swapped" in w]


@pytest.mark.parametrize(
    ("stamps", "unit", "hint"),
    [
        (  # Excel serial days, read as seconds of 1970-01-01 11:15
            [f"{40513.35 + k * 0.37:.5f}" for k in range(40)],
            "auto",
            "timestamps such as '40513.35' fall outside plausible_timestamps (1990-01-01 to now) "
            "as read, epoch seconds of 1970-1973: numbers this small are more likely Excel serial "
            "days (40,513 is 2010-12-01; convert them in source.query: TIMESTAMP '1899-12-30' + "
            "to_seconds(",
        ),
        (  # epoch seconds said to be milliseconds
            [str(1291191960 + 3600 * k) for k in range(40)],
            "ms",
            "timestamps such as '1291191960' fall outside plausible_timestamps (1990-01-01 to "
            "now) as read, epoch ms: set source.timestamp_unit if that is not their unit",
        ),
    ],
)
def test_timestamps_outside_the_plausible_window_stop_saying_what_they_may_be(
    tmp_path, stamps, unit, hint
):
    """Excel serial days in a CSV read as epoch seconds all land on 1970-01-01: the stop names
    the likely cause and the conversion, not only the reason's count."""
    from tests.unit.ingest.bad_inputs import write

    rows = [f"u{k % 5},{stamp},view,i{k}" for k, stamp in enumerate(stamps)]
    path = write(tmp_path, "log.csv", "user,ts,action,sku\n" + "\n".join(rows) + "\n")
    columns = {"user": "user_id", "ts": "timestamp", "action": "event_type", "sku": "item_id"}
    source = {"format": "csv", "path": str(path), "columns": columns, "timestamp_unit": unit}
    with pytest.raises(QuarantineRateError) as info:
        run_ingest(IngestParams.from_mapping({"source": source}), tmp_path)
    message = str(info.value)
    assert "top reasons: implausible_timestamp (40); " + hint in message
    assert message.endswith("; widen plausible_timestamps for a log that truly lies outside it")
