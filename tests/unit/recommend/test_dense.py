"""A few rows' sparse products summed densely (``recommend/dense.py``): the same CSR arrays and
the same floats as scipy's, bit for bit, so served rankings and their ties are scipy's."""

import numpy as np
import pytest
from scipy import sparse

from personalab.recommend.dense import csr_rows, dense_product


def entries(seed: int, repeats: bool, n_rows: int = 6, n_cols: int = 30, n: int = 40):
    """(rows ascending, columns, values, shape); with ``repeats``, some (row, column) twice."""
    rng = np.random.default_rng(seed)
    if repeats:
        rows, cols = np.sort(rng.integers(0, n_rows, n)), rng.integers(0, n_cols, n)
    else:
        cells = np.sort(rng.choice(n_rows * n_cols, n, replace=False))
        rows, cols = cells // n_cols, rng.permutation(n_cols)[cells % n_cols]
    values = rng.uniform(0.01, 1.0, n) ** 3
    return rows.astype(np.int64), cols.astype(np.int64), values, (n_rows, n_cols)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("repeats", [False, True])
def test_csr_rows_are_scipy_s_csr_arrays_with_repeats_summed_in_order(seed, repeats):
    rows, cols, values, shape = entries(seed, repeats)
    mine = csr_rows(rows, cols, values, shape)
    theirs = sparse.csr_array((values, (rows, cols)), shape)
    np.testing.assert_array_equal(mine.indptr, theirs.indptr)
    np.testing.assert_array_equal(mine.indices, theirs.indices)
    np.testing.assert_allclose(mine.data, theirs.data, rtol=1e-15)  # scipy's order may differ
    sums: dict[tuple, float] = {}
    for r, c, v in zip(rows.tolist(), cols.tolist(), values.tolist(), strict=True):
        sums[r, c] = sums.get((r, c), 0.0) + v  # the entries' order
    assert mine.data.tolist() == [sums[cell] for cell in sorted(sums)]
    assert repeats == (len(sums) < rows.size)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("repeats", [False, True])
def test_the_dense_product_is_scipy_s_to_the_bit(seed, repeats):
    rows, cols, values, shape = entries(seed, repeats)
    rng = np.random.default_rng(seed + 100)
    right = sparse.random_array((shape[1], 25), density=0.3, rng=rng, format="csr")
    left = csr_rows(rows, cols, values, shape)
    want = (left.csr(shape) @ right).toarray()
    picked = np.array([0, 3, 5])
    got = dense_product(left, picked, right)
    assert got.tobytes() == want[picked].tobytes()
