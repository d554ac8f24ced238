"""Sparse products for a few rows, summed in a dense block: what a served request asks.

scipy's sparse product costs more to set up (format checks, index types, several temporary
matrices) than to run for one user or one visit. :func:`dense_product` gives the same floats for
a few rows: each cell adds its terms in the order scipy's product (SMMP) adds them, the row's
entries in stored order, then the other matrix's row in stored order, so rankings and their
ties are the ones the sparse product gives (tested against it). Blocks up to
:data:`DENSE_CELLS` cells take this path; larger ones stay sparse.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

#: up to this many (row x column) cells, a product is summed in a dense block
DENSE_CELLS = 1 << 20


class Rows(NamedTuple):
    """A CSR matrix's arrays (indices sorted and unique within each row)."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray

    def csr(self, shape: tuple) -> Any:
        from scipy import sparse

        return sparse.csr_array((self.data, self.indices, self.indptr), shape)


def csr_rows(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple) -> Rows:
    """The CSR arrays of entries (``rows`` ascending): columns sorted within each row, a
    repeated (row, column) summed in the entries' order.

    ``scipy.sparse.csr_array((values, (rows, cols)))`` gives the same arrays, except that it sums
    a repeat in its sort's order, which for rows of more than 16 entries is not theirs; summed
    here first, both the dense and the sparse product read the same floats.
    """
    cells, inverse = np.unique(rows * shape[1] + cols, return_inverse=True)
    data = np.zeros(cells.size)
    np.add.at(data, inverse, values)  # in the entries' order
    indptr = np.searchsorted(cells // shape[1], np.arange(shape[0] + 1))
    return Rows(indptr, cells % shape[1], data)


def dense_product(left: Any, rows: np.ndarray, right: Any) -> np.ndarray:
    """``(left[rows] @ right)`` as a dense float64 array, ``left`` and ``right`` CSR matrices
    (their stored order is the order the terms are added in, as scipy adds them)."""
    rows = np.asarray(rows, dtype=np.int64)
    starts = left.indptr[rows]
    counts = left.indptr[rows + 1] - starts
    at = _spans(starts, counts)
    steps, codes = np.repeat(np.arange(rows.size), counts), left.indices[at]
    weights = left.data[at].astype(np.float64, copy=False)
    begins = right.indptr[codes]
    widths = right.indptr[codes + 1] - begins
    terms = _spans(begins, widths)
    n = right.shape[1]
    block = np.zeros(rows.size * n)
    cells = np.repeat(steps, widths) * n + right.indices[terms]
    np.add.at(block, cells, np.repeat(weights, widths) * right.data[terms])
    return block.reshape(rows.size, n)


def _spans(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The positions ``starts[i], ..., starts[i] + counts[i] - 1`` of every span, in order."""
    offsets = np.cumsum(counts) - counts
    return np.repeat(starts - offsets, counts) + np.arange(int(counts.sum()))
