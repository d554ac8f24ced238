"""Unit tests of personalab.features.cutoffs: cut-off placement and the share categories."""

from __future__ import annotations

import pandas as pd

from personalab.features.cutoffs import place_cutoffs, top_categories
from personalab.features.params import CutoffParams
from personalab.features.schema import category_share_column
from tests.unit.features.helpers import LOG, T, events_frame, t


def test_place_cutoffs_every_7_days_over_the_last_21():
    start = pd.Timestamp("2024-01-01 08:00", tz="UTC")
    end = pd.Timestamp("2024-03-31 15:00", tz="UTC")
    kept, dropped = place_cutoffs(start, end, CutoffParams(every_days=7, over_last_days=21), 7.0)
    # last = midnight of end - 7 d = 2024-03-24
    dates = ["2024-03-03", "2024-03-10", "2024-03-17", "2024-03-24"]
    assert kept == [pd.Timestamp(d, tz="UTC") for d in dates]
    assert dropped == []


def test_place_cutoffs_fractional_horizon_and_cutoffs_before_the_log_start():
    start = pd.Timestamp("2024-03-12", tz="UTC")
    end = pd.Timestamp("2024-03-31 15:00", tz="UTC")
    # end - 2.5 d = 2024-03-29 03:00 -> 2024-03-29; every 10 d over 25 d -> 3 dates
    kept, dropped = place_cutoffs(start, end, CutoffParams(every_days=10, over_last_days=25), 2.5)
    assert kept == [pd.Timestamp("2024-03-19", tz="UTC"), pd.Timestamp("2024-03-29", tz="UTC")]
    assert dropped == [pd.Timestamp("2024-03-09", tz="UTC")]


def test_place_cutoffs_explicit_dates_sorted_and_in_utc():
    start = pd.Timestamp("2024-01-01", tz="UTC")
    end = pd.Timestamp("2024-03-31", tz="UTC")
    cut = CutoffParams(dates=["2024-03-10", "2024-03-01T01:00+01:00", "2024-03-30"])
    kept, dropped = place_cutoffs(start, end, cut, 7.0)
    assert kept == [pd.Timestamp("2024-03-01", tz="UTC"), pd.Timestamp("2024-03-10", tz="UTC")]
    assert dropped == [pd.Timestamp("2024-03-30", tz="UTC")]


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
