"""Unit tests of personalab.segments.profiles: names, profiles, lift and the rule crosstab."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personalab.features.schema import LABEL
from personalab.segments.profiles import (
    feature_lift,
    name_segments,
    rule_crosstab,
    segment_profiles,
)
from tests.unit.segments.helpers import NAN, T

# --- naming ------------------------------------------------------------------------------------


def lift_frame(rows: dict[int, dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("segment_id")


def test_names_come_from_the_largest_absolute_lifts():
    lift = lift_frame(
        {
            0: {"orders_total": 2.0, "days_since_first_event": 0.1, "revenue_total": 1.5},
            1: {"orders_total": -0.2, "days_since_first_event": -1.8, "revenue_total": 0.3},
            2: {"orders_total": -1.0, "days_since_first_event": 0.2, "revenue_total": -0.1},
        }
    )
    assert name_segments(lift, 2) == {
        0: "frequent buyers, big spenders",
        1: "newcomers, big spenders",
        2: "non-buyers, long-standing",
    }
    assert name_segments(lift, 1) == {0: "frequent buyers", 1: "newcomers", 2: "non-buyers"}


def test_buyers_below_the_mean_are_not_called_non_buyers():
    # a log of purchases only (H&M): everybody bought, the segment below the mean once
    lift = lift_frame(
        {0: {"orders_total": 1.2}, 1: {"orders_total": -0.6}, 2: {"orders_total": -1.0}}
    )
    means = lift_frame(
        {0: {"orders_total": 4.0}, 1: {"orders_total": 1.0}, 2: {"orders_total": 0.0}}
    )
    assert name_segments(lift, 1, means) == {
        0: "frequent buyers",
        1: "occasional buyers",
        2: "non-buyers",
    }


def test_features_without_descriptors_get_high_and_low_words():
    lift = lift_frame({0: {"f1": 1.0, "f2": -0.5}, 1: {"f1": -1.0, "f2": 0.5}})
    assert name_segments(lift, 2) == {0: "high f1, low f2", 1: "low f1, high f2"}


def test_names_are_unique_when_segments_share_their_top_features():
    lift = lift_frame(
        {
            0: {"orders_total": 2.0, "revenue_total": 1.0, "sessions_30d": 0.5},
            1: {"orders_total": 2.0, "revenue_total": 1.0, "sessions_30d": -0.5},
            2: {"orders_total": 2.0, "revenue_total": 1.0, "sessions_30d": 0.5},
        }
    )
    names = name_segments(lift, 2)
    assert names == {
        0: "frequent buyers, big spenders",
        1: "frequent buyers, big spenders, rare visitors",
        2: "frequent buyers, big spenders, frequent visitors",
    }
    assert len(set(names.values())) == 3


def test_identical_segments_get_their_id_appended_when_features_run_out():
    lift = lift_frame({0: {"orders_total": 1.0}, 1: {"orders_total": 1.0}})
    assert name_segments(lift, 2) == {0: "frequent buyers", 1: "frequent buyers (1)"}


def test_noise_is_named_noise_and_nan_lifts_are_ignored():
    lift = lift_frame(
        {
            -1: {"orders_total": 3.0, "revenue_total": 1.0},
            0: {"orders_total": NAN, "revenue_total": -1.0},
        }
    )
    assert name_segments(lift, 2) == {-1: "noise", 0: "low spenders"}


def test_naming_is_deterministic():
    lift = lift_frame(
        {i: {"f1": float(i % 2), "f2": 1.0 - i, "orders_total": 0.5} for i in range(5)}
    )
    first = name_segments(lift, 2)
    assert all(name_segments(lift, 2) == first for _ in range(3))
    assert name_segments(lift.iloc[::-1], 2) == first  # row order does not matter


def test_disambiguating_word_is_not_a_repeat_of_the_name():
    row = {"events_per_session": 2.0, "session_duration_mean": 1.5, "orders_total": 1.0}
    lift = lift_frame({0: {**row, "revenue_total": 0.5}, 1: {**row, "revenue_total": 0.6}})
    assert name_segments(lift, 2)[1] == "long sessions, frequent buyers, big spenders"


# --- profiles and lift -------------------------------------------------------------------------


#: 5 users in segments [0, 0, 1, 1, 1]
TINY = pd.DataFrame(
    {
        "user_id": list("abcde"),
        "cutoff": T,
        LABEL: [1, 0, 1, 1, 0],
        "revenue_total": [10.0, 30.0, 20.0, 40.0, 0.0],
        "f1": [1.0, 3.0, 5.0, 7.0, 9.0],
        "f2": [0.0, 0.0, 1.0, 1.0, 1.0],
    }
)
TINY_LABELS = np.array([0, 0, 1, 1, 1])


def test_segment_profiles_on_a_tiny_table():
    p = segment_profiles(TINY, TINY_LABELS, ["f1", "f2"])
    assert p.index.name == "segment_id" and p.index.tolist() == [0, 1]
    assert p.columns.tolist() == ["users", "share", "purchase_rate", "revenue_share", "f1", "f2"]
    assert p["users"].tolist() == [2, 3]
    assert p["share"].tolist() == pytest.approx([0.4, 0.6])
    assert p["purchase_rate"].tolist() == pytest.approx([0.5, 2 / 3])
    assert p["revenue_share"].tolist() == pytest.approx([0.4, 0.6])
    assert p["f1"].tolist() == pytest.approx([2.0, 7.0])
    assert p["f2"].tolist() == pytest.approx([0.0, 1.0])


def test_segment_profiles_do_not_depend_on_the_table_index():
    shifted = TINY.set_index(pd.Index([10, 3, 7, 1, 0]))
    pd.testing.assert_frame_equal(
        segment_profiles(shifted, TINY_LABELS, ["f1", "f2"]),
        segment_profiles(TINY, TINY_LABELS, ["f1", "f2"]),
    )


def test_segment_profiles_without_label_or_revenue():
    p = segment_profiles(TINY.drop(columns=[LABEL, "revenue_total"]), TINY_LABELS, ["f1", "f2"])
    assert p.columns.tolist() == ["users", "share", "f1", "f2"]


def test_feature_lift_is_the_standardised_mean_difference():
    lift = feature_lift(TINY, TINY_LABELS, ["f1", "f2"])
    # f1: population mean 5, std (ddof 0) sqrt(8); f2: mean 0.6, std sqrt(0.24)
    assert lift.index.name == "segment_id"
    assert lift.loc[0, "f1"] == pytest.approx((2 - 5) / np.sqrt(8))
    assert lift.loc[1, "f1"] == pytest.approx((7 - 5) / np.sqrt(8))
    assert lift.loc[0, "f2"] == pytest.approx((0 - 0.6) / np.sqrt(0.24))
    assert lift.loc[1, "f2"] == pytest.approx((1 - 0.6) / np.sqrt(0.24))


def test_feature_lift_of_a_constant_feature_is_nan():
    lift = feature_lift(TINY.assign(f2=4.0), TINY_LABELS, ["f1", "f2"])
    assert lift["f2"].isna().all()
    assert lift["f1"].notna().all()


def test_rule_crosstab_gives_the_share_of_each_rule_segment():
    table = TINY.assign(seg_converter=[1, 1, 0, 0, 1], seg_at_risk=[0, 0, 0, 1, 1])
    names = pd.Series(["x", "x", "y", "y", "y"])
    out = rule_crosstab(table, names)
    assert out.columns.tolist() == ["converter", "at_risk"]
    assert out.loc["x"].tolist() == pytest.approx([1.0, 0.0])
    assert out.loc["y"].tolist() == pytest.approx([1 / 3, 2 / 3])
