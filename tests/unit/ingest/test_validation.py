"""Unit tests of personalab.ingest.validation: rule reasons, late events, reason summaries.

The late rule (:func:`personalab.ingest.validation.late_positions`) is an Ibis expression;
:func:`tests.unit.ingest.engine_rows.late` runs it on DuckDB, rows arriving in the order given.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personalab.core.params import ParamsError
from personalab.ingest.events import parse_events
from personalab.ingest.messages import QuarantineRateError
from personalab.ingest.params import IngestParams
from personalab.ingest.pipeline import run_ingest
from personalab.ingest.validation import (
    RULE_ORDER,
    find_violations,
    reasons_text,
    summarise_reasons,
)
from tests.unit.ingest.bad_inputs import assert_accounted, ingest, reasons, write
from tests.unit.ingest.engine_rows import late
from tests.unit.ingest.event_rows import CLEAN, T0, _raw, _reasons

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
        ("bad_number", {"price": float("inf")}),
        ("bad_number", {"dwell_seconds": float("-inf")}),
        ("bad_number", {"rating": "1e400"}),
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


# --- late events ---------------------------------------------------------------------------


def _minutes(*offsets) -> pd.Series:
    return pd.Series(
        [pd.NaT if m is None else T0 + pd.Timedelta(minutes=m) for m in offsets],
        dtype="datetime64[ns, UTC]",
    )


HOUR = pd.Timedelta(minutes=60)


def test_exactly_allowed_lateness_is_not_late_one_minute_more_is():
    # max seen is 100; 40 is exactly 60 min behind, 39 is 61 min behind
    assert late(_minutes(0, 100, 40, 39), HOUR) == [False, False, False, True]


def test_one_second_past_allowed_lateness_is_late():
    times = pd.Series([T0, T0 - HOUR - pd.Timedelta(seconds=1)])
    assert late(times, HOUR) == [False, True]


def test_one_nanosecond_past_allowed_lateness_is_late():
    times = pd.Series([T0, T0 - HOUR, T0 - HOUR - pd.Timedelta(1, "ns")])
    assert late(times, HOUR) == [False, False, True]


def test_watermark_is_max_seen_not_previous_row():
    # 170 is 30 behind the max (200) but the earlier 130 is 70 behind it
    assert late(_minutes(200, 170, 130, 250, 189), HOUR) == [False, False, True, False, True]


def test_first_row_is_never_late():
    assert late(_minutes(-10_000, 0), HOUR) == [False, False]


def test_nat_rows_are_not_late_and_do_not_advance_the_watermark():
    assert late(_minutes(None, 0, None, -61), HOUR) == [False, False, False, True]
    assert late(_minutes(None, -1000), HOUR) == [False, False]


def test_a_huge_lateness_never_overflows():
    lateness = pd.Timedelta(days=365 * 290)
    assert late(_minutes(0, -(10**6), -(10**8)), lateness) == [False, False, False]


def test_arrival_order_decides_lateness_not_file_order():
    times = _minutes(0, 100, 30)  # in file order the third row is 70 min behind: late
    arrival = _minutes(0, 200, 10)  # but it arrived second, before the 100
    assert late(times, HOUR) == [False, False, True]
    assert late(times, HOUR, arrival) == [False, False, False]


def test_rows_without_an_arrival_time_are_never_late():
    assert late(_minutes(100, 0, 10), HOUR, _minutes(0, None, 5)) == [False, False, True]
    # ... and do not raise the watermark: the 200 arrived at no known time
    assert late(_minutes(200, 0, 10), HOUR, _minutes(None, 0, 5)) == [False, False, False]


def test_rows_arriving_at_one_time_keep_file_order():
    assert late(_minutes(100, 0), HOUR, _minutes(5, 5)) == [False, True]
    assert late(_minutes(0, 100), HOUR, _minutes(5, 5)) == [False, False]


def _late_by_hand(times: list, lateness: int, arrivals: list | None) -> list[bool]:
    """The late rule row by row in plain Python (minutes), in arrival order."""
    order = range(len(times))
    if arrivals is not None:
        known = [i for i in order if arrivals[i] is not None]
        order = sorted(known, key=lambda i: (arrivals[i], i))
    out, top = [False] * len(times), None
    for i in order:
        if times[i] is None:
            continue
        out[i] = top is not None and times[i] < top - lateness
        top = times[i] if top is None else max(top, times[i])
    return out


@pytest.mark.parametrize("seed", range(6))
def test_late_rows_in_blocks_match_the_rule_row_by_row(seed):
    """Random logs with missing times and arrivals, rows crossing many blocks (the helper
    checks blocks of 1 and 2 rows, or of 1 and 7 minutes, against the default)."""
    rng = np.random.default_rng(seed)
    n = 60
    times = [None if rng.random() < 0.1 else int(t) for t in rng.integers(0, 300, n)]
    arrivals = [None if rng.random() < 0.1 else int(a) for a in rng.integers(0, 40, n)]
    for given in (None, arrivals):
        lateness = int(rng.integers(0, 90))
        expected = _late_by_hand(times, lateness, given)
        arrival = None if given is None else _minutes(*given)
        assert late(_minutes(*times), pd.Timedelta(minutes=lateness), arrival) == expected


# --- bad inputs, ingested as a user would ----------------------------------------------------

_HEADER = "event_id,user_id,timestamp,event_type,item_id,price,quantity,dwell_seconds\n"
_ROW = "e{k},u1,2024-01-01T12:{k:02d}:00Z,view,i1,9.5,1,3.0\n"


def _log(*changes: tuple[int, str, str]) -> str:
    """Five clean rows with (row, column, text) replacements."""
    rows = [_ROW.format(k=k) for k in range(5)]
    columns = _HEADER.strip().split(",")
    for row, column, text in changes:
        cells = rows[row].strip().split(",")
        cells[columns.index(column)] = text
        rows[row] = ",".join(cells) + "\n"
    return _HEADER + "".join(rows)


@pytest.mark.parametrize(
    ("content", "want"),
    [
        (_log((1, "price", "inf")), {"bad_number": 1}),
        (_log((1, "price", "-inf")), {"bad_number": 1}),  # not negative_price: not a number
        (_log((2, "dwell_seconds", "-inf")), {"bad_number": 1}),
        (_log((2, "dwell_seconds", "Infinity")), {"bad_number": 1}),
        (_log((3, "quantity", "1e400")), {"bad_number": 1}),
        (_log((0, "price", "inf"), (4, "dwell_seconds", "-inf")), {"bad_number": 2}),
    ],
    ids=["inf_price", "minus_inf_price", "minus_inf_dwell", "infinity_dwell", "overflow_quantity",
         "two_rows"],
)  # fmt: skip
def test_infinite_numbers_are_bad_numbers(tmp_path, content, want):
    result = ingest(tmp_path, write(tmp_path, "events.csv", content))
    assert_accounted(result)
    assert reasons(result) == want
    numbers = result.events[["price", "quantity", "dwell_seconds"]].to_numpy()
    assert np.isfinite(numbers).all()
    assert np.isfinite(result.sessions["revenue"]).all()


def _unsorted(tmp_path):
    """Four rows not in time order (the third is 90 minutes behind the second)."""
    content = (
        "user_id,timestamp,event_type,item_id,sent\n"
        "u1,2024-01-01T12:00:00Z,view,i1,2024-01-01T12:00:05Z\n"
        "u2,2024-01-01T14:00:00Z,view,i1,2024-01-01T14:00:05Z\n"
        "u1,2024-01-01T12:30:00Z,view,i2,2024-01-01T14:01:00Z\n"  # sent late
        "u2,2024-01-01T14:05:00Z,view,i2,2024-01-01T14:05:05Z\n"
    )
    return write(tmp_path, "events.csv", content)


def test_unsorted_file_without_arrival_order_does_not_measure_late_events(tmp_path):
    result = ingest(tmp_path, _unsorted(tmp_path))
    assert_accounted(result)
    assert result.metrics["late_events_measured"] == 0
    assert "late_events" not in result.metrics
    assert any(note.startswith("late events: not measured") for note in result.notes)


def test_arrival_ordered_file_measures_late_events(tmp_path):
    result = ingest(tmp_path, _unsorted(tmp_path), arrival_ordered=True)
    assert_accounted(result)
    assert (result.metrics["late_events_measured"], result.metrics["late_events"]) == (1, 1)


def test_a_mapped_arrival_column_orders_the_rows(tmp_path):
    result = ingest(tmp_path, _unsorted(tmp_path), columns={"sent": "arrival"})
    assert_accounted(result)
    # it arrived at 14:01, after the 14:00 event: 90 minutes late
    assert (result.metrics["late_events_measured"], result.metrics["late_events"]) == (1, 1)
    assert "arrival" not in result.events.columns


def test_arrival_column_sorted_by_arrival_has_no_late_events(tmp_path):
    content = (
        "user_id,timestamp,event_type,item_id,sent\n"
        "u1,2024-01-01T14:00:00Z,view,i1,2024-01-01T14:00:05Z\n"
        "u1,2024-01-01T12:00:00Z,view,i2,2024-01-01T12:00:05Z\n"  # file order only
    )
    result = ingest(tmp_path, write(tmp_path, "events.csv", content), columns={"sent": "arrival"})
    assert (result.metrics["late_events_measured"], result.metrics["late_events"]) == (1, 0)


def _quarantine_late(tmp_path, **source):
    values = {
        "source": {"format": "csv", "path": str(_unsorted(tmp_path)), **source},
        "late_events": "quarantine",
        "max_quarantine_rate": 1.0,
    }
    return run_ingest(IngestParams.from_mapping(values), tmp_path)


def test_quarantining_late_events_without_arrival_order_is_a_params_error(tmp_path):
    with pytest.raises(ParamsError, match=r"^params/ingest\.yaml: late_events: quarantine needs"):
        _quarantine_late(tmp_path)


def test_quarantining_late_events_of_an_arrival_ordered_file(tmp_path):
    result = _quarantine_late(tmp_path, arrival_ordered=True)
    assert_accounted(result)
    assert reasons(result) == {"late_event": 1}
    assert result.quarantine["row"].tolist() == [2]


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


# --- rating_range: auto ------------------------------------------------------------------------


def rated_log(tmp_path, ratings, **params):
    """A Book-Crossing-like log (``;``-separated, quoted, no event type): one user per rating,
    dated a day apart; ``params``: top-level ingest params."""
    lines = ['"User-ID";"ISBN";"Book-Rating";"when"']
    lines += [f'"{i}";"03{i % 7}X";"{r}";"2004-09-{1 + i % 28:02d}"' for i, r in enumerate(ratings)]
    path = write(tmp_path, "ratings.csv", "\n".join(lines) + "\n")
    columns = {
        "User-ID": "user_id",
        "ISBN": "item_id",
        "Book-Rating": "rating",
        "when": "timestamp",
    }
    source = {"format": "csv", "path": str(path), "columns": columns}
    values = {"source": {**source, "constants": {"event_type": "rate"}}, **params}
    values.setdefault("max_quarantine_rate", 1.0)
    return run_ingest(
        IngestParams.from_mapping(values, source="params/ingest.yaml"), tmp_path / "out"
    )


def test_a_ten_point_log_is_checked_on_its_own_scale_and_says_so(tmp_path):
    """Book-Crossing's 0-10 ratings: under a fixed 0-5 range most were quarantined and the
    stage stopped."""
    result = rated_log(tmp_path, [0, 3, 5, 7, 8, 10] * 20, max_quarantine_rate=0.05)
    assert reasons(result) == {}
    assert result.metrics["rows_valid"] == 120
    assert any("ratings on the 0-10 scale (120 ratings from 0 to 10)" in n for n in result.notes)


def test_a_log_of_mostly_zero_ratings_warns_that_zero_may_mean_no_rating(tmp_path):
    # Book-Crossing: 0 is an implicit interaction, and most rows are 0
    result = rated_log(tmp_path, [0, 0, 0, 7, 8, 10] * 20)
    (warning,) = result.warnings
    assert warning.startswith("ratings: 60 of 120 (50%) are 0. If 0 means no rating")
    assert "CASE WHEN rating = 0 THEN 'view'" in warning
    assert rated_log(tmp_path / "few", [0, 3, 5, 7, 8, 10] * 20).warnings == []


def test_a_stray_rating_far_off_the_log_s_scale_is_still_quarantined(tmp_path):
    result = rated_log(tmp_path, [1, 2, 3, 4, 5] * 40 + [99])
    assert reasons(result) == {"rating_out_of_range": 1}
    assert any("0-5 scale" in n and "1 outside it are quarantined" in n for n in result.notes)


@pytest.mark.parametrize(
    ("ratings", "scale"),
    [([-9.5, -2, 0, 4.25, 10] * 10, "-10-10"), ([12, 55, 80, 100] * 10, "0-100")],
)
def test_jester_and_percentage_scales_are_recognised(tmp_path, ratings, scale):
    result = rated_log(tmp_path, ratings)
    assert reasons(result) == {}
    assert any(f"ratings on the {scale} scale" in n for n in result.notes)


def test_ratings_wider_than_any_common_scale_are_kept_with_a_note(tmp_path):
    result = rated_log(tmp_path, [1, 500, 1000, 2500] * 10)
    assert reasons(result) == {}
    assert any("wider than any common scale" in n for n in result.notes)


def test_a_five_star_log_gets_no_note(tmp_path):
    result = rated_log(tmp_path, [0.5, 1, 2.5, 4, 5] * 10)
    assert reasons(result) == {}
    assert not [n for n in result.notes if "rating_range" in n]


def test_a_range_given_in_params_is_used_as_given(tmp_path):
    result = rated_log(tmp_path, [1, 6, 10] * 10, rating_range=[1, 5])
    assert reasons(result) == {"rating_out_of_range": 20}
    assert not [n for n in result.notes if "rating_range" in n]


# --- event type names ----------------------------------------------------------------------------


def named_log(tmp_path, names, **source):
    lines = ["visitor,ts,action,sku"]
    lines += [f"v{i % 4},2024-01-01T{i:02d}:00:00Z,{name},s{i % 3}" for i, name in enumerate(names)]
    path = write(tmp_path, "log.csv", "\n".join(lines) + "\n")
    columns = {"visitor": "user_id", "ts": "timestamp", "action": "event_type", "sku": "item_id"}
    values = {"source": {"format": "csv", "path": str(path), "columns": columns, **source}}
    return run_ingest(
        IngestParams.from_mapping(values, source="params/ingest.yaml"), tmp_path / "o"
    )


def test_common_names_of_event_types_are_read_as_them_and_named_in_a_note(tmp_path):
    """A log saying pageview, addtocart, transaction lost every row as unknown_event_type."""
    names = ["PageView", "Add to cart", "addtocart", "transaction", "view", "Buy"] * 3
    result = named_log(tmp_path, names)
    assert reasons(result) == {}
    kinds = result.events.sort_values("timestamp")["event_type"].tolist()
    assert kinds[:6] == ["view", "add_to_cart", "add_to_cart", "purchase", "view", "purchase"]
    note = next(n for n in result.notes if n.startswith("event types:"))
    assert "'pageview' as view" in note and "'transaction' as purchase" in note
    assert "'buy' as purchase" in note and "add to cart" not in note  # spelled, not a synonym


def test_the_source_s_own_event_types_mapping_wins_over_a_common_name(tmp_path):
    result = named_log(tmp_path, ["cart", "view"] * 5, event_types={"cart": "view"})
    assert set(result.events["event_type"]) == {"view"}
    assert not [n for n in result.notes if n.startswith("event types:")]


def test_too_many_unknown_event_types_stop_naming_them_and_the_mapping(tmp_path):
    with pytest.raises(QuarantineRateError) as info:
        named_log(tmp_path, ["fav", "hover", "view"] * 5)
    message = str(info.value)
    assert "unknown_event_type (10)" in message
    assert "event types 'fav', 'hover' are none of view, click" in message
    assert "source.event_types (e.g. {fav: view, hover: view})" in message


@pytest.mark.parametrize(
    ("stamps", "source", "hint"),
    [
        (  # a pattern that is not the file's
            ["2017/11/25 01:{i:02d}"],
            {"timestamp_format": "%Y-%m-%d %H:%M"},
            "timestamps such as '2017/11/25 01:00' could not be read with source.timestamp_format "
            "'%Y-%m-%d %H:%M': they read as \"%Y/%m/%d %H:%M\": set source.timestamp_format to it",
        ),
        (  # month first read day first (Ta-Feng): the pattern that reads them, not the same
            ["12/{d}/2010"],
            {"timestamp_format": "%d/%m/%Y"},
            "timestamps such as '12/13/2010' could not be read with source.timestamp_format "
            "'%d/%m/%Y': they read as \"%m/%d/%Y\"",
        ),
        (  # the first value reads either way; the others tell month first
            ["12/{k:02d}/2010 08:26"],
            {},
            "timestamps such as '12/01/2010 08:26' could not be read as ISO 8601 or an epoch "
            'number: they read as "%m/%d/%Y %H:%M": set source.timestamp_format to it',
        ),
        (  # no value tells day from month: both, and the choice is the user's
            ["{a:02d}/05/2010"],
            {},
            'they read as "%d/%m/%Y" and as "%m/%d/%Y": no value tells which; set '
            "source.timestamp_format to the log's own",
        ),
        (  # a 12-hour clock
            ["12/{k}/2010 {a}:05 PM"],
            {},
            'they read as "%m/%d/%Y %I:%M %p": set source.timestamp_format to it',
        ),
        (  # nothing common reads them: the pattern's codes
            ["2017-11-25T01:{i:02d} Uhr"],
            {"timestamp_format": "%Y-%m-%d"},
            "set source.timestamp_format to their pattern (as in strptime: %d day",
        ),
        (  # no pattern: ISO 8601 or epochs were tried
            ["25.11.2017 kl. 01:{i:02d}"],
            {},
            "timestamps such as '25.11.2017 kl. 01:00' could not be read as ISO 8601 or an epoch "
            "number",
        ),
        (  # one constant for the whole log
            None,
            {"constants": {"timestamp": "2020-13-45"}},
            "source.constants.timestamp '2020-13-45' could not be read as ISO 8601",
        ),
    ],
)
def test_unreadable_timestamps_stop_showing_one_and_the_param_that_reads_them(
    tmp_path, stamps, source, hint
):
    rows = ["user,when,what"] + [
        f"u{i},{'' if stamps is None else stamps[0].format(i=i, d=13 + i % 15, k=1 + i % 28, a=1 + i % 12)},view"
        for i in range(30)
    ]
    path = write(tmp_path, "log.csv", "\n".join(rows) + "\n")
    columns = {"user": "user_id", "what": "event_type"}
    columns |= {} if stamps is None else {"when": "timestamp"}
    values = {"source": {"format": "csv", "path": str(path), "columns": columns, **source}}
    with pytest.raises(QuarantineRateError) as info:
        run_ingest(IngestParams.from_mapping(values), tmp_path)
    message = str(info.value)
    assert "top reasons: bad_timestamp (30); " in message and hint in message


def test_too_many_rows_without_an_item_stop_naming_their_types_and_the_filter(tmp_path):
    # Coveo's browsing log: pageview rows (read as view) show no product
    rows = ["session,when,kind,sku"] + [
        f"s{i},2021-01-01T10:{i:02d}:00Z,{'pageview' if i % 2 else 'detail'},"
        f"{'' if i % 2 else f'p{i}'}"
        for i in range(30)
    ]
    path = write(tmp_path, "browsing_train.csv", "\n".join(rows) + "\n")
    columns = {"session": "session_id", "when": "timestamp", "kind": "event_type", "sku": "item_id"}
    source = {
        "format": "csv",
        "path": str(path),
        "columns": columns,
        "event_types": {"detail": "view"},
    }
    with pytest.raises(QuarantineRateError) as info:
        run_ingest(IngestParams.from_mapping({"source": source}), tmp_path)
    message = str(info.value)
    assert "top reasons: missing_item_id (15)" in message
    assert "rows without an item: pageview (15). If they are pages that show no item" in message


def test_a_log_given_one_time_by_a_constant_says_what_cannot_run(tmp_path):
    rows = ["user,book,stars"] + [f"u{i % 4},b{i},{1 + i % 5}" for i in range(20)]
    path = write(tmp_path, "books.csv", "\n".join(rows) + "\n")
    columns = {"user": "user_id", "book": "item_id", "stars": "rating"}
    constants = {"event_type": "rate", "timestamp": "2020-01-01"}
    result = ingest(tmp_path / "out", path, columns=columns, constants=constants)
    assert result.metrics["rows_valid"] == 20 and result.sessions["user_id"].nunique() == 4
    (note,) = [n for n in result.notes if n.startswith("timestamps: every event has the same")]
    assert "(2020-01-01T00:00:00+00:00)" in note and "features' cut-offs" in note
    # a log with two times says nothing of the kind
    stamped = ["user,book,stars,when"] + [
        f"{r},2020-01-0{1 + (i == 0)}" for i, r in enumerate(rows[1:])
    ]
    path = write(tmp_path, "stamped.csv", "\n".join(stamped) + "\n")
    result = ingest(
        tmp_path / "out2",
        path,
        columns=columns | {"when": "timestamp"},
        constants={"event_type": "rate"},
    )
    assert not [n for n in result.notes if "every event has the same time" in n]
