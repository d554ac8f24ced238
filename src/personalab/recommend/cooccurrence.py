"""SAR: item co-occurrence recommendations (Microsoft Recommenders' Simple Algorithm for
Recommendation), computed sparse and kept as arrays.

From ``pairs`` (one row per user-item pair with its ``strength`` and ``timestamp``):

* the user's **affinity** to each of their items is the pair's strength, decayed with
  ``half_life_days`` when set: ``strength * 0.5 ** (age_days / half_life_days)``, the age
  measured back from the newest timestamp in ``pairs``;
* the **co-occurrence** ``C = X^T X`` of the binary users x items matrix ``X`` counts the
  users who have both items (``C_ii``: the users who have item i); counts below
  ``min_cooccurrence`` are dropped;
* the **similarity** ``S`` is ``C`` itself (``cooccurrence``), ``jaccard``
  ``C_ij / (C_ii + C_jj - C_ij)`` or ``lift`` ``C_ij / (C_ii * C_jj)``; its diagonal is kept as
  SAR keeps it (it only scores items the user already has, which ranking excludes);
  ``neighbours`` keeps each item's (row's) ``n`` most similar other items (ties: lower item id);
* a user's **scores** are their affinities times ``S`` (row = the user's item, column = the
  candidate).

The model is the ``item_similarity`` family of :mod:`personalab.recommend.scorers`: ``sim_*``
holds ``S`` as CSR and ``seen_data`` the affinities. ``C`` is built a block of item rows at a
time, so the working memory stays bounded; a similarity with more than ``max_entries`` kept
entries is refused, naming ``algorithms.<name>.neighbours``. Everything is deterministic (no
random draw; integer counts).
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from personalab.recommend.arrays import SAR, ModelArrays
from personalab.recommend.implicit_models import check_pairs, seen_arrays, user_item_matrix
from personalab.recommend.params import RecommendError

SIMILARITY_KINDS = ("jaccard", "lift", "cooccurrence")
SAR_DEFAULTS: dict[str, Any] = {
    "similarity": "jaccard",
    "half_life_days": None,
    "min_cooccurrence": 1,
    "neighbours": None,
}
#: the most similarity entries a SAR model keeps (16 bytes each in its arrays: about 0.8 GB)
MAX_SIMILARITY_ENTRIES = 50_000_000
#: co-occurrence cells computed at once (a block of item rows times every item)
BLOCK_CELLS = 8_000_000


def sar_options() -> set[str]:
    """The options SAR takes (see the module docstring)."""
    return set(SAR_DEFAULTS)


def check_sar_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with SAR's defaults filled in; an unknown option or a bad value raises
    :class:`RecommendError` naming ``algorithms.<name>.<option>``."""
    unknown = sorted(set(options) - sar_options())
    if unknown:
        raise RecommendError(
            f"algorithms.{name}.{unknown[0]}: SAR takes no option {unknown[0]!r}; "
            f"its options: {', '.join(sorted(sar_options()))}"
        )
    settings = {**SAR_DEFAULTS, **options}
    where = f"algorithms.{name}"
    if settings["similarity"] not in SIMILARITY_KINDS:
        raise RecommendError(
            f"{where}.similarity: {settings['similarity']!r} is not one of "
            f"{', '.join(SIMILARITY_KINDS)}"
        )
    half_life = settings["half_life_days"]
    if half_life is not None and not (_is_number(half_life) and 0 < half_life < np.inf):
        raise RecommendError(
            f"{where}.half_life_days: expected null (no decay) or a positive number of days, "
            f"got {half_life!r}"
        )
    for option, allow_null in (("min_cooccurrence", False), ("neighbours", True)):
        value = settings[option]
        if value is None and allow_null:
            continue
        if not (_is_number(value) and float(value).is_integer() and value >= 1):
            null = "null or " if allow_null else ""
            raise RecommendError(
                f"{where}.{option}: expected {null}a whole number >= 1, got {value!r}"
            )
        settings[option] = int(value)
    return settings


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def sar_affinity(pairs: pd.DataFrame, half_life_days: float | None = None) -> np.ndarray:
    """Each pair's affinity (float64, in ``pairs``' order): its strength, times
    ``0.5 ** (age_days / half_life_days)`` with ``half_life_days``, the age from the newest
    timestamp in ``pairs``."""
    strength = pairs["strength"].to_numpy(dtype=np.float64)
    if half_life_days is None:
        return strength
    timestamp = pd.to_datetime(pairs["timestamp"], utc=True)
    if timestamp.isna().any():
        raise RecommendError(
            "half_life_days needs every pair's timestamp; "
            f"{int(timestamp.isna().sum())} pair(s) have none"
        )
    age_days = (timestamp.max() - timestamp).to_numpy() / np.timedelta64(1, "D")
    return strength * 0.5 ** (age_days / float(half_life_days))


def sar_similarity(
    X: Any,
    similarity: str = "jaccard",
    min_cooccurrence: int = 1,
    neighbours: int | None = None,
    *,
    name: str = SAR,
    max_entries: int = MAX_SIMILARITY_ENTRIES,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(indptr, indices, data)``: the CSR (items x items, sorted indices) item similarity of the
    users x items matrix ``X`` (its nonzeros are the pairs), as the module docstring defines it.

    Refuses, naming ``algorithms.<name>.neighbours``, a similarity of more than ``max_entries``
    entries (checked before computing when ``neighbours`` bounds it, else block by block).
    """
    from scipy.sparse import csr_array

    n_items = X.shape[1]
    if neighbours is not None and n_items * (neighbours + 1) > max_entries:
        raise RecommendError(
            f"algorithms.{name}.neighbours: {n_items:,} items x ({neighbours} neighbours + "
            f"itself) exceed the {max_entries:,} similarity entries SAR may keep; lower it"
        )
    binary = csr_array((np.ones(X.nnz, dtype=np.int32), X.indices, X.indptr), shape=X.shape)
    items_users = binary.T.tocsr()
    counts = np.diff(items_users.indptr)  # C_ii: the users who have item i
    rows_per_block = max(1, BLOCK_CELLS // max(n_items, 1))
    row_lengths, indices, data = [], [], []
    kept = 0
    for start in range(0, n_items, rows_per_block):
        block = items_users[start : start + rows_per_block] @ binary
        block.sort_indices()
        row = np.repeat(np.arange(block.shape[0]), np.diff(block.indptr))
        cols, cooccurrence = block.indices, block.data
        values = _similarity_of(similarity, cooccurrence, counts[row + start], counts[cols])
        keep = cooccurrence >= min_cooccurrence
        if neighbours is not None:
            keep = _top_neighbours(keep, row, cols == row + start, values, neighbours)
        row_lengths.append(np.bincount(row[keep], minlength=block.shape[0]))
        indices.append(cols[keep].astype(np.int64))
        data.append(values[keep])
        kept += int(keep.sum())
        if kept > max_entries:
            raise RecommendError(
                f"algorithms.{name}.neighbours: the item co-occurrence of {n_items:,} items keeps "
                f"more than {max_entries:,} similarities (about {16 * kept / 1e9:.1f} GB "
                f"and counting, {start + block.shape[0]:,} items in); set neighbours to keep each "
                "item's most similar items only (e.g. 100), or raise min_cooccurrence"
            )
    indptr = np.concatenate([[0], np.cumsum(np.concatenate(row_lengths))]).astype(np.int64)
    return indptr, np.concatenate(indices), np.concatenate(data)


def _similarity_of(
    kind: str, cooccurrence: np.ndarray, count_row: np.ndarray, count_col: np.ndarray
) -> np.ndarray:
    c = cooccurrence.astype(np.float64)
    if kind == "cooccurrence":
        return c
    if kind == "jaccard":
        return c / (count_row + count_col - c)
    return c / (count_row.astype(np.float64) * count_col)


def _top_neighbours(
    keep: np.ndarray, row: np.ndarray, diagonal: np.ndarray, values: np.ndarray, n: int
) -> np.ndarray:
    """``keep`` less each row's off-diagonal entries beyond its ``n`` largest ``values`` (ties:
    lower column, as the entries come in column order within a row); the diagonal stays."""
    candidates = np.flatnonzero(keep & ~diagonal)
    order = candidates[np.lexsort((-values[candidates], row[candidates]))]  # stable: by column
    sorted_rows = row[order]
    first = np.searchsorted(sorted_rows, sorted_rows, side="left")
    rank = np.arange(order.size) - first
    out = keep & diagonal
    out[order[rank < n]] = True
    return out


def fit_sar(
    name: str,
    options: Mapping[str, Any],
    pairs: pd.DataFrame,
    seed: int | None = None,
    *,
    max_entries: int = MAX_SIMILARITY_ENTRIES,
) -> ModelArrays:
    """SAR with ``options`` (:func:`check_sar_options`) fitted to ``pairs``, as arrays of the
    ``item_similarity`` family (``algorithm`` ``SAR``; ``name`` is its key under ``algorithms``).

    ``seed`` is taken for the same call as :func:`~personalab.recommend.implicit_models.
    fit_implicit`; SAR draws nothing, so the same pairs and options give identical arrays.
    """
    settings = check_sar_options(name, options)
    check_pairs(pairs, name)
    affinity = sar_affinity(pairs, settings["half_life_days"])
    X, user_ids, item_ids = user_item_matrix(pairs.assign(strength=affinity), np.float64)
    indptr, indices, data = sar_similarity(
        X,
        settings["similarity"],
        settings["min_cooccurrence"],
        settings["neighbours"],
        name=name,
        max_entries=max_entries,
    )
    arrays = seen_arrays(X, user_ids, item_ids) | {
        "seen_data": X.data.astype(np.float64),
        "sim_indptr": indptr,
        "sim_indices": indices,
        "sim_data": data,
    }
    scalars = {"algorithm": SAR, "low": -np.inf, "high": np.inf, "options": settings, "seed": seed}
    return ModelArrays(arrays, scalars)
