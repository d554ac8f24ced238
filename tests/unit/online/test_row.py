"""Pieces of the online row (personalab.online.row)."""

from __future__ import annotations

import numpy as np
import pytest

from personalab.online.row import exact_sum


def integer_sum(values) -> float:
    """Each value scaled to 12 decimals and rounded half to even, added in Python integers."""
    scaled = np.rint(values[~np.isnan(values)] * 1e12)
    return float(sum(int(v) for v in scaled)) / 1e12


@pytest.mark.parametrize("scale", [1.0, 1e3, 5e6])
def test_exact_sum_adds_the_rounded_decimals_exactly_at_any_size(scale):
    """Small totals add in int64, large ones in Python integers: the same exact sum."""
    rng = np.random.default_rng(0)
    values = rng.uniform(-1, 1, 4000) * scale  # 5e6: past what int64 holds
    values[::7] = np.nan
    assert exact_sum(values) == integer_sum(values)
    assert exact_sum(np.array([np.nan])) == 0.0 and exact_sum(np.zeros(0)) == 0.0
    assert exact_sum(np.array([0.1, 0.2])) == 0.3  # not 0.30000000000000004


@pytest.mark.parametrize(
    "values",
    [
        ["s2", "s1", "s2", None, "s3", None, "s1"],
        [None, None],
        ["only"],
        [],
    ],
)
def test_first_seen_codes_are_pandas_factorize_codes(values):
    import pandas as pd

    from personalab.online.row import first_seen_codes

    column = np.array(values, dtype=object)
    want, _ = pd.factorize(column, use_na_sentinel=False)
    np.testing.assert_array_equal(first_seen_codes(column), want)


def test_a_history_s_type_masks_are_worked_out_once_and_read_only():
    from personalab.online.history import FLOATS, STRINGS, History

    strings = {name: np.full(3, None, dtype=object) for name in STRINGS}
    strings["event_type"] = np.array(["view", "purchase", "view"], dtype=object)
    floats = {name: np.full(3, np.nan) for name in FLOATS}
    history = History(ns=np.arange(3), **strings, **floats)
    views = history.of_type("view")
    np.testing.assert_array_equal(views, [True, False, True])
    assert history.of_type("view") is views
    with pytest.raises(ValueError, match="read-only"):
        views[0] = False
