"""Unit tests of personalab.ingest.bots: the bot rules on hand-made users.

:func:`personalab.ingest.bots.bot_users` is an Ibis expression; :mod:`tests.unit.ingest.engine_rows`
runs it on DuckDB over the frames built here and folds the rule columns into ``rules``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personalab.ingest.bots import BotRules, rate_rule_notes
from personalab.ingest.params import IngestParams
from tests.unit.ingest.bad_inputs import assert_accounted, ingest, reasons, write
from tests.unit.ingest.engine_rows import find_bots
from tests.unit.ingest.event_rows import T0

# --- bots ----------------------------------------------------------------------------------


def _user(user: str, seconds, event_type: str = "click", dwell=np.nan) -> pd.DataFrame:
    times = [T0 + pd.Timedelta(seconds=s) for s in seconds]
    return pd.DataFrame(
        {"user_id": user, "timestamp": times, "event_type": event_type, "dwell_seconds": dwell}
    )


def _bots(*frames: pd.DataFrame, **rules) -> dict[str, str]:
    found = find_bots(pd.concat(frames, ignore_index=True), BotRules(**rules))
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
    found = find_bots(pd.concat([bot, NORMAL]), BotRules())
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
    found = find_bots(NORMAL, BotRules())
    assert found.empty
    assert "rules" in found.columns


def test_rules_column_names_every_rule_hit():
    burst = _user("burst", range(41), "view", 0.0)
    assert _bots(burst, NORMAL, max_events_per_day=40) == {
        "burst": "events_per_minute;events_per_day;zero_dwell"
    }


def test_bot_stats_columns():
    found = find_bots(pd.concat([_user("b", range(45)), NORMAL]), BotRules())
    row = found.iloc[0]
    stats = row[["events", "peak_per_minute", "peak_per_day"]].tolist()
    assert (row["user_id"], stats) == ("b", [45, 45, 45])


def test_zero_dwell_share_is_null_without_views_with_dwell():
    found = find_bots(pd.concat([_user("b", range(45)), NORMAL]), BotRules())  # clicks, no dwell
    assert found["rules"].tolist() == ["events_per_minute"]
    assert found["views_with_dwell"].tolist() == [0]
    assert found["zero_dwell_share"].isna().tolist() == [True]


def test_no_events_no_bots():
    assert find_bots(NORMAL.iloc[:0], BotRules()).empty


# --- baskets: many rows, one moment --------------------------------------------------------


def test_a_basket_of_45_items_at_one_timestamp_is_one_moment_not_a_bot():
    basket = _user("shopper", [0] * 45, "purchase")
    found = find_bots(pd.concat([basket, NORMAL]), BotRules(min_views_for_dwell_rule=1))
    assert found.empty


def test_peaks_count_distinct_timestamps():
    user = _user("b", [0] * 10 + list(range(1, 42)))  # a 10-item basket, then 41 clicks
    found = find_bots(user, BotRules())
    assert found[["events", "peak_per_minute", "peak_per_day"]].values.tolist() == [[51, 42, 42]]


def test_events_per_day_counts_distinct_timestamps():
    baskets = _user("b", np.repeat(np.arange(0, 6 * 600, 600), 3))  # 6 baskets of 3 items
    assert _bots(baskets, max_events_per_day=10) == {}
    assert _bots(baskets, max_events_per_day=5) == {"b": "events_per_day"}


_RETAIL = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"


def _invoice(invoice: str, customer: str, minute: str, items: int) -> str:
    return "".join(
        f"{invoice},{10000 + k},ITEM {k},1,01/12/2010 {minute},1.25,{customer},United Kingdom\n"
        for k in range(items)
    )


def _events(user: str, seconds, event_type: str = "click") -> str:
    return "".join(f"{user},2024-01-01T12:00:{s:02d}Z,{event_type},i{s}\n" for s in seconds)


@pytest.mark.parametrize(
    ("fmt", "content", "bot_events", "bot_users"),
    [
        # UCI Online Retail: a 45-line invoice shares one minute; a shopper, not a bot
        ("online_retail", _RETAIL + _invoice("536365", "17850", "08:26", 45)
         + _invoice("536366", "17850", "08:28", 3), 0, 0),
        # the same basket as a generic log: 45 purchases at one second
        ("csv", "user_id,timestamp,event_type,item_id\n" + _events("u1", [5] * 45, "purchase"),
         0, 0),
        # a real bot: 41 clicks at 41 distinct seconds of one minute
        ("csv", "user_id,timestamp,event_type,item_id\n" + _events("bot", range(41))
         + _events("u1", [5] * 45, "purchase"), 41, 1),
    ],
    ids=["uci_invoice_basket", "csv_basket", "real_bot_still_caught"],
)  # fmt: skip
def test_baskets_are_not_bots_and_bots_still_are(tmp_path, fmt, content, bot_events, bot_users):
    result = ingest(tmp_path, write(tmp_path, "log.csv", content), fmt)
    assert_accounted(result)
    assert reasons(result) == {}
    m = result.metrics
    assert (m["bot_events_removed"], m["bot_users"]) == (bot_events, bot_users)


# --- logs too coarse for the rate rules -----------------------------------------------------------


@pytest.mark.parametrize(
    ("stamp", "blind"),
    [
        ("2024-01-{d:02d}T10:{m:02d}:{s:02d}.{f:03d}Z", None),  # milliseconds: both rules can fire
        ("2024-01-{d:02d}T10:{m:02d}:00Z", "40 events a minute or 5000 events a day"),  # minutes
        ("2024-01-{d:02d}", "40 events a minute or 5000 events a day"),  # dates
    ],
)
def test_a_log_too_coarse_for_a_rate_rule_says_it_cannot_fire(tmp_path, stamp, blind):
    rows = ["user_id,timestamp,event_type,item_id"]
    for i in range(40):
        when = stamp.format(d=1 + i % 9, m=i % 60, s=i % 60, f=i)
        rows.append(f"u{i % 3},{when},view,i{i % 5}")
    result = ingest(tmp_path / "out", write(tmp_path, "log.csv", "\n".join(rows) + "\n"))
    notes = [n for n in result.notes if n.startswith("bots:")]
    if blind is None:
        assert not notes
    else:
        assert len(notes) == 1 and f"no user can show more than {blind}" in notes[0]
        assert notes[0].endswith(
            "no view has a dwell time for the zero-dwell rule either, so no bot can be found"
        )  # this log has no dwell


@pytest.mark.parametrize(
    ("seconds", "dwell", "blind", "left"),
    [
        (60.0, True, "those rules cannot", "(the zero-dwell rule still can)"),
        (2.0, False, "40 events a minute: that rule cannot", "(the 5000 events a day rule still"),
        (2.0, True, "that rule cannot", "day rule and the zero-dwell rule still can)"),
        (1.0, False, None, None),  # a second holds one moment: 60 a minute, 86,400 a day
    ],
)
def test_the_rate_rule_note_names_the_rules_still_checked(seconds, dwell, blind, left):
    notes = rate_rule_notes(seconds, IngestParams().bots, dwell)
    if blind is None:
        assert notes == []
    else:
        assert len(notes) == 1 and blind in notes[0] and left in notes[0]
        assert "no bot can be found" not in notes[0]
