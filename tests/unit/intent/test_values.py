"""Reading labels and column kinds (personalab.intent.values), against values computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personalab.intent.columns import FeatureEncoder
from personalab.intent.params import IntentError
from personalab.intent.values import infer_kind, parse_label
from tests.unit.intent.helpers import MONTHS


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (pd.Series([True, False, True]), [1, 0, 1]),
        (pd.Series([0, 1, 1, 0]), [0, 1, 1, 0]),
        (pd.Series([0.0, 1.0]), [0, 1]),
        (pd.Series(["TRUE", "FALSE", "true", " yes ", "0", "1", "No", "n"]), [1, 0, 1, 1, 0, 1, 0, 0]),
        (pd.Series([True, False], dtype=object), [1, 0]),
    ],
)  # fmt: skip
def test_parse_label_reads_booleans_numbers_and_strings(values, expected):
    out = parse_label(values, "y")
    assert out.dtype == np.int8
    assert out.tolist() == expected


def test_parse_label_names_column_row_label_and_value_it_cannot_read():
    values = pd.Series(["TRUE", "maybe", "FALSE"], index=["a", "b", "c"])
    with pytest.raises(IntentError, match=r"label column 'bought'.*'maybe' at row b"):
        parse_label(values, "bought")


def test_parse_label_rejects_a_number_other_than_0_or_1():
    values = pd.Series([0, 1, 2, 1], index=[10, 11, 12, 13])
    with pytest.raises(
        IntentError, match=r"label column 'bought': expected 0/1, got .*2.* at row 12"
    ):
        parse_label(values, "bought")
    with pytest.raises(IntentError, match=r"got .*0\.5.* at row 1"):
        parse_label(pd.Series([1.0, 0.5]), "bought")


def test_parse_label_counts_missing_values_and_names_the_first_row():
    values = pd.Series(["TRUE", None, "FALSE", None], index=[5, 6, 7, 8])
    with pytest.raises(IntentError, match=r"'bought': 2 missing value\(s\), first at row 6"):
        parse_label(values, "bought")


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (pd.Series([1.5, 2.0, np.nan]), "numeric"),
        (pd.Series([1, 2, 3]), "numeric"),
        (pd.Series([True, False]), "bool"),
        (pd.Series(["TRUE", "FALSE", "TRUE", None]), "bool"),
        (pd.Series(["yes", "No", "Y"]), "bool"),
        (pd.Series(MONTHS), "categorical"),
        (pd.Series(["1.5", "2", " 3 ", None]), "numeric"),
        (pd.Series(["0", "1", "1"]), "numeric"),  # 0/1 strings are numbers, not booleans
        (pd.Series(["a", "b"], dtype="category"), "categorical"),
        # half numbers: a categorical, not a numeric column with bad values
        (pd.Series(["1", "2", "3", "x", "y", "z"]), "categorical"),
    ],
)  # fmt: skip
def test_infer_kind(values, kind):
    assert infer_kind(values) == kind


def test_mostly_numeric_string_column_fails_naming_column_row_and_value():
    values = pd.Series(["1.5", "2"] + ["3"] * 8 + ["abc"], name="PageValues")
    with pytest.raises(IntentError, match=r"column 'PageValues' .*'abc' at row 10"):
        infer_kind(values)
    # the same column through the encoder
    with pytest.raises(IntentError, match=r"'PageValues'.*'abc' at row 10"):
        FeatureEncoder().fit(values.to_frame())
