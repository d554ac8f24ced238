"""Reading raw values: the label, numbers, booleans, and each column's kind.

A column's kind is learned from the training data: numbers stay numbers,
booleans and TRUE/FALSE strings become 0/1, other strings become categoricals.
A string column that is mostly numbers but has a few other values fails with the
column, row and value. The label is booleans, 0/1 or TRUE/FALSE strings.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from personalab.features.schema import LABEL
from personalab.intent.params import IntentError

#: label strings accepted, case-insensitive
_BOOL_STRINGS = {
    "true": 1,
    "false": 0,
    "t": 1,
    "f": 0,
    "yes": 1,
    "no": 0,
    "y": 1,
    "n": 0,
    "1": 1,
    "0": 0,
    "1.0": 1,
    "0.0": 0,
}
#: a string column with at least this share of numbers is a numeric column with bad values
_NUMERIC_SHARE = 0.9


def parse_label(values: pd.Series, column: str = LABEL) -> np.ndarray:
    """0/1 from booleans, 0/1 numbers or TRUE/FALSE-like strings; anything else fails by row."""
    if values.isna().any():
        row = values.index[values.isna().to_numpy()][0]
        raise IntentError(
            f"label column {column!r}: {int(values.isna().sum())} missing value(s), "
            f"first at row {row}"
        )
    if pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=np.int8)
    if pd.api.types.is_numeric_dtype(values):
        bad = ~values.isin([0, 1])
        if bad.any():
            row = values.index[bad.to_numpy()][0]
            raise IntentError(
                f"label column {column!r}: expected 0/1, got {_plain(values[row])!r} at row {row}"
            )
        return values.to_numpy(dtype=np.int8)
    mapped = values.astype(str).str.strip().str.lower().map(_BOOL_STRINGS)
    bad = mapped.isna()
    if bad.any():
        row = values.index[bad.to_numpy()][0]
        raise IntentError(
            f"label column {column!r}: cannot read {_plain(values[row])!r} at row {row} as a boolean "
            "(expected true/false, yes/no or 0/1)"
        )
    return mapped.to_numpy(dtype=np.int8)


def _as_strings(values: pd.Series) -> pd.Series:
    """Values as stripped strings (missing stays missing); numbers as their text (``3``, not ``3.0``)."""
    if pd.api.types.is_float_dtype(values) and (values.dropna() % 1 == 0).all():
        values = values.astype("Int64")
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (so messages show ``2``, not ``np.int64(2)``)."""
    return value.item() if isinstance(value, np.generic) else value


def infer_kind(values: pd.Series) -> Literal["numeric", "bool", "categorical"]:
    """``numeric``, ``bool`` or ``categorical`` for one raw column (see the module docstring)."""
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_numeric_dtype(values):
        return "numeric"
    if isinstance(values.dtype, pd.CategoricalDtype):
        return "categorical"
    text = _as_strings(values).dropna()
    if text.empty:
        return "numeric"
    if text.str.lower().isin(set(_BOOL_STRINGS) - {"1", "0", "1.0", "0.0"}).all():
        return "bool"
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().all():
        return "numeric"
    if numbers.notna().mean() >= _NUMERIC_SHARE:
        row = text.index[numbers.isna().to_numpy()][0]
        raise IntentError(
            f"column {values.name!r} holds numbers but cannot read {_plain(text[row])!r} at row {row} "
            "as a number (fix the value, or list the column under `categorical`)"
        )
    return "categorical"


def to_numeric(values: pd.Series, name: str) -> pd.Series:
    """Floats; a value that is not a number fails with the column, row and value."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    text = _as_strings(values)
    numbers = pd.to_numeric(text, errors="coerce")
    bad = numbers.isna() & text.notna()
    if bad.any():
        row = values.index[bad.to_numpy()][0]
        raise IntentError(
            f"column {name!r}: cannot read {_plain(values[row])!r} at row {row} as a number"
        )
    return numbers.astype("float64")


def to_bool(values: pd.Series, name: str) -> pd.Series:
    """1.0/0.0 from booleans, 0/1 or TRUE/FALSE strings (missing stays NaN)."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        numbers = values.astype("float64")
        bad = numbers.notna() & ~numbers.isin([0.0, 1.0])
    else:
        text = _as_strings(values)
        numbers = text.str.lower().map(_BOOL_STRINGS).astype("float64")
        bad = numbers.isna() & text.notna()
    if bad.any():
        row = values.index[bad.to_numpy()][0]
        raise IntentError(
            f"column {name!r}: cannot read {_plain(values[row])!r} at row {row} as a boolean"
        )
    return numbers
