"""Unit tests of personalab.features.report: the feature documentation table."""

from __future__ import annotations

from personalab.features.report import feature_table_doc
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
