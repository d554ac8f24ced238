"""Unit tests of personalab.features.report: the feature documentation table, cut-off labels
and the plot data."""

from __future__ import annotations

import pandas as pd

from personalab.features.report import (
    feature_table_doc,
    format_times,
    positive_rate_by_cutoff,
    segment_sizes,
)
from personalab.features.schema import feature_names


def test_feature_table_doc_has_a_row_per_documented_feature():
    doc = feature_table_doc()
    expected = [*feature_names(["W"], ["<device>"]), "category_share_<cat>"]
    expected.insert(expected.index("rfm_monetary") + 1, "rfm_segment")
    assert doc["name"].tolist() == expected
    assert (doc["meaning"].str.len() > 0).all()
    assert (doc["window"].str.len() > 0).all()


def test_feature_table_doc_joins_continuation_lines():
    doc = feature_table_doc().set_index("name")
    assert doc.loc["rfm_segment", "meaning"].endswith(
        "needs_attention (rules in ``rfm_segment_of``)"
    )
    assert doc.loc["cart_abandonment_rate", "meaning"].endswith("(NaN: none)")
    assert doc.loc["rfm_frequency", "window"] == "longest W"


def test_feature_table_doc_says_why_a_feature_is_left_out():
    left_out = {
        "purchases_7d": "needs purchase events",
        "device_share_<device>": "needs device",
        "dwell_mean": "needs dwell",
    }
    doc = feature_table_doc(left_out).set_index("name")["left_out"]
    assert doc["purchases_Wd"] == "needs purchase events"
    assert doc["device_share_<device>"] == "needs device"
    assert doc["dwell_mean"] == "needs dwell"
    assert doc["sessions_Wd"] == "" and doc["dwell_mean"] != doc["scroll_depth_mean"]
    assert (doc != "").sum() == 3


def test_cutoffs_read_as_dates_at_midnight_else_with_the_time():
    days = [pd.Timestamp("2024-03-01", tz="UTC"), pd.Timestamp("2024-03-08", tz="UTC")]
    hours = [pd.Timestamp("2024-03-01", tz="UTC"), pd.Timestamp("2024-03-01 01:00", tz="UTC")]
    assert format_times(days) == "2024-03-01, 2024-03-08"
    assert format_times(hours) == "2024-03-01 00:00, 2024-03-01 01:00"
    assert format_times([pd.Timestamp("2024-03-01 00:00:30", tz="UTC")]) == "2024-03-01 00:00:30"
    assert format_times([]) == "none"
    table = pd.DataFrame({"cutoff": hours, "returned_within_horizon": [1, 0]})
    table.attrs["label"] = "returned_within_horizon"
    rates = positive_rate_by_cutoff(table)
    assert rates["cutoff"].tolist() == ["2024-03-01 00:00", "2024-03-01 01:00"]
    assert rates["positive_rate"].tolist() == [1.0, 0.0]


def test_segment_sizes_list_the_segments_the_table_has():
    cutoff = pd.Timestamp("2024-03-01", tz="UTC")
    table = pd.DataFrame(
        {
            "cutoff": [cutoff] * 3,
            "seg_converter": [1, 0, 0],
            "seg_at_risk": [1, 1, 0],
            "dominant_segment": ["converter", "at_risk", "none"],
        }
    )
    sizes = segment_sizes(table)
    assert sizes.to_dict("list") == {
        "segment": ["converter", "at_risk", "none"],
        "users": [1, 2, 1],
        "dominant": [1, 1, 1],
    }
    assert segment_sizes(table.iloc[:0]).columns.tolist() == ["segment", "users", "dominant"]
