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
