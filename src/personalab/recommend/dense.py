"""Sparse products for a few rows, summed in a dense block: what a served request asks.

scipy's sparse product costs more to set up (format checks, index types, several temporary
matrices) than to run for one user or one visit. :func:`dense_product` gives the same floats for
a few rows: each cell adds its terms in the order scipy's product (SMMP) adds them, the row's
entries in stored order, then the other matrix's row in stored order, so rankings and their
ties are the ones the sparse product gives (tested against it). Blocks up to
:data:`DENSE_CELLS` cells take this path; larger ones stay sparse.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: up to this many (row x column) cells, a product is summed in a dense block
DENSE_CELLS = 1 << 20


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
