"""Next-item lists for requests of item ids, and their evaluation on held-out sessions.

A request (a context) is the items of a visit so far, oldest first. :func:`next_items` ranks
the Sequential Rules model's candidates for many requests at once: the requests' items, weighted
by recency, form a sparse (requests x items) matrix that multiplies the sparse rules, and each
row's best ``k`` are taken from the sparse product (never a dense requests x items block), ranked
by score with ties by item id (as :func:`personalab.evaluation.topk.select_top` breaks them).
:func:`popular_next_items` is the popularity baseline from the same model, and the fallback that
completes lists the rules cannot fill (a request of unknown items gets nothing from the rules).

:func:`evaluate_next_item` asks both for the last item of each held-out session from the items
before it: hit rate and MRR at ``k``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from personalab.recommend.arrays import ModelArrays
from personalab.recommend.dense import DENSE_CELLS, csr_rows, dense_product
from personalab.recommend.params import RecommendError
from personalab.recommend.sessions import (
    ITEM_COL,
    ITEM_SIMILARITY,
    POSITION_COL,
    SESSION_COL,
    _ordered,
    _require,
)

REQUEST_COL = "request"
SCORE_COL = "score"
RANK_COL = "rank"
SOURCE_COL = "source"
#: how a list row was found: by the model's rules, or from popularity
RULES, POPULAR = "rules", "popularity"
BLOCK_SIZE = 8192


class Lists(NamedTuple):
    """Ranked lists as flat arrays, by request then rank: request position, inner item code,
    score, and whether the rules found the item (else popularity)."""

    rows: np.ndarray
    items: np.ndarray
    scores: np.ndarray
    from_rules: np.ndarray


def next_items(
    model: ModelArrays,
    contexts: Sequence[Sequence[Hashable]],
    k: int,
    exclude_context: bool | None = None,
    *,
    fill: bool = False,
    block_size: int = BLOCK_SIZE,
) -> pd.DataFrame:
    """The model's ``k`` best next items for each request, as long rows.

    ``contexts[r]`` is request ``r``'s item ids, oldest first. Items the model does not know
    are ignored, then repeats of one item in a row count once; the last remaining item weighs
    1 and one ``d`` steps before it ``context_decay ** d`` (the model's setting). A candidate
    scores the weighted sum of the request items' rules to it. ``exclude_context`` (None: the
    model's setting, True by default) leaves out the request's own items. With ``fill`` a list
    shorter than ``k`` is completed from :func:`popular_next_items` (what the served model
    answers); without, a request of unknown items gets no row.

    Returns columns ``request`` (position in ``contexts``), ``item_id``, ``score``, ``rank``
    (1..k) and ``source`` (``rules`` or ``popularity``), sorted by request then rank.
    """
    requests, items = _flat_contexts(model, contexts)
    lists = _ranked(
        model, requests, items, len(contexts), k, exclude_context, True, fill, block_size
    )
    return _as_frame(model, lists)


def next_item_lists(
    model: ModelArrays, contexts: Sequence[Sequence[Hashable]], k: int, *, fill: bool = False
) -> Lists:
    """:func:`next_items` as flat arrays, with ``items`` the model's item ids (not codes): what
    a served request reads, without building a frame."""
    requests, items = _flat_contexts(model, contexts)
    lists = _ranked(model, requests, items, len(contexts), k, None, True, fill, BLOCK_SIZE)
    return lists._replace(items=np.asarray(model.arrays["item_ids"])[lists.items])


def popular_next_items(
    model: ModelArrays,
    contexts: Sequence[Sequence[Hashable]],
    k: int,
    exclude_context: bool | None = None,
    *,
    block_size: int = BLOCK_SIZE,
) -> pd.DataFrame:
    """The ``k`` items held by the most training sessions, for each request (the baseline).

    Ties by item id; ``exclude_context`` as in :func:`next_items`. Same columns, ``source``
    ``popularity`` and ``score`` the share of training sessions holding the item.
    """
    requests, items = _flat_contexts(model, contexts)
    lists = _ranked(
        model, requests, items, len(contexts), k, exclude_context, False, True, block_size
    )
    return _as_frame(model, lists)


def evaluate_next_item(
    model: ModelArrays,
    test: pd.DataFrame,
    k: int,
    exclude_context: bool | None = None,
    *,
    block_size: int = BLOCK_SIZE,
) -> dict[str, Any]:
    """Hit rate and MRR at ``k`` of the model and of popularity on held-out sessions.

    Every held-out session of two or more steps is one request: its steps but the last are the
    context, the last is the target. A hit is the target within the top ``k``; MRR averages
    1 / its rank (0 when outside the top ``k``). The model is judged as it is served: its rules,
    completed with popular items when they give fewer than ``k`` (``rules_answered`` is the
    share of requests the rules gave at least one item). Both lists leave out the context's
    items when ``exclude_context`` is (None: the model's setting), so they are compared on the
    same terms; ``targets_in_context`` is the share of targets that return to an earlier item
    of their session (never hit then) and ``targets_unseen`` the share of targets no training
    session holds (never hit by either).

    Returns ``{"algorithm", "k", "sessions", "exclude_context", "model": {"hit_rate_at_<k>",
    "mrr_at_<k>"}, "popularity": {...the same}, "rules_answered", "targets_in_context",
    "targets_unseen"}``.
    """
    _require(test, (SESSION_COL, POSITION_COL, ITEM_COL), "test")
    k = _check_k(k)
    exclude = _exclude(model, exclude_context)
    ordered = _ordered(test)
    sessions = pd.factorize(ordered[SESSION_COL])[0]
    judged = np.bincount(sessions)[sessions] >= 2 if sessions.size else sessions.astype(bool)
    if not judged.any():
        raise RecommendError(
            "test has no session of two or more items, so there is no next item to evaluate "
            "(next_item_gap names the cause)"
        )
    sessions = pd.factorize(sessions[judged])[0]  # requests 0, 1, ... in session order
    last = np.append(sessions[1:] != sessions[:-1], True)
    index = pd.Index(model.arrays["item_ids"])
    codes = index.get_indexer(ordered[ITEM_COL].astype(str))[judged]
    targets, n = codes[last], int(sessions[-1]) + 1
    context_requests, context_items = sessions[~last], codes[~last]
    lists = {
        "model": _ranked(
            model, context_requests, context_items, n, k, exclude, True, True, block_size
        ),
        "popularity": _ranked(
            model, context_requests, context_items, n, k, exclude, False, True, block_size
        ),
    }
    seen = context_items >= 0
    context_keys = context_requests[seen].astype(np.int64) * len(index) + context_items[seen]
    target_keys = np.arange(n, dtype=np.int64) * len(index) + targets
    scores = {name: _hits(found, targets, k) for name, found in lists.items()}
    answered = np.unique(lists["model"].rows[lists["model"].from_rules]).size
    return {
        "algorithm": model.algorithm,
        "k": k,
        "sessions": n,
        "exclude_context": exclude,
        **scores,
        "rules_answered": answered / n,
        "targets_in_context": float(np.isin(target_keys[targets >= 0], context_keys).sum() / n),
        "targets_unseen": float((targets < 0).mean()),
    }


def _hits(lists: Lists, targets: np.ndarray, k: int) -> dict[str, float]:
    """Hit rate and MRR at ``k`` of ranked lists against one target per request."""
    found = lists.items == targets[lists.rows]
    reciprocal = np.zeros(targets.size)
    reciprocal[lists.rows[found]] = 1.0 / _ranks(lists.rows)[found]
    return {
        f"hit_rate_at_{k}": float((reciprocal > 0).mean()),
        f"mrr_at_{k}": float(reciprocal.mean()),
    }


def _ranked(
    model: ModelArrays,
    requests: np.ndarray,
    items: np.ndarray,
    n_requests: int,
    k: int,
    exclude_context: bool | None,
    rules: bool,
    fill: bool,
    block_size: int,
) -> Lists:
    """Lists for flat contexts (``requests`` ascending, ``items`` inner codes, -1 unknown):
    the rules' best (with ``rules``), completed from popularity (with ``fill``), ``block_size``
    requests at a time so the working memory stays bounded whatever the number of requests."""
    k, block_size = _check_k(k), _check_k(block_size, "block_size")
    exclude = _exclude(model, exclude_context)
    similarity = model.cached("similarity", _similarity) if rules else None
    known = items >= 0
    requests, items = requests[known], items[known]
    repeat = np.zeros(requests.size, dtype=bool)
    repeat[1:] = (requests[1:] == requests[:-1]) & (items[1:] == items[:-1])
    requests, items = requests[~repeat], items[~repeat]
    scores = np.asarray(model.arrays["item_scores"], dtype=np.float64)
    popular = model.cached("popular", _popular_order)
    decay = float(model.scalars.get("context_decay", 0.0))
    bounds = np.searchsorted(requests, np.arange(0, n_requests + block_size, block_size))
    parts = []
    for b, start in enumerate(range(0, n_requests, block_size)):
        n = min(block_size, n_requests - start)
        block = requests[bounds[b] : bounds[b + 1]] - start, items[bounds[b] : bounds[b + 1]]
        lists = (
            _rule_lists(similarity, *block, n, k, decay, exclude)
            if similarity is not None
            else _empty_lists()
        )
        if fill:
            lists = _filled(lists, popular, scores, *block, n, k, exclude)
        lists[0] += start
        parts.append(lists)
    if not parts:
        return Lists(*_empty_lists())
    return Lists(*(np.concatenate(p) for p in zip(*parts, strict=True)))


def _popular_order(model: ModelArrays) -> np.ndarray:
    """Item codes by the share of sessions holding them, ties by item id."""
    scores = np.asarray(model.arrays["item_scores"], dtype=np.float64)
    return np.lexsort((np.arange(scores.size), -scores))


def _as_frame(model: ModelArrays, lists: Lists) -> pd.DataFrame:
    """Lists as long rows with the model's item ids."""
    item_ids = np.asarray(model.arrays["item_ids"]).astype(str)
    return pd.DataFrame(
        {
            REQUEST_COL: lists.rows,
            ITEM_COL: pd.Series(item_ids[lists.items], dtype="str"),
            SCORE_COL: lists.scores,
            RANK_COL: _ranks(lists.rows),
            SOURCE_COL: pd.Series(np.where(lists.from_rules, RULES, POPULAR), dtype="str"),
        }
    )


def _rule_lists(
    similarity: Any,
    requests: np.ndarray,
    items: np.ndarray,
    n: int,
    k: int,
    decay: float,
    exclude: bool,
) -> list[np.ndarray]:
    """(request, item, score, True) of each of ``n`` requests' ``k`` best candidates by the
    rules, by request then rank; ``requests`` ascending from 0, ``items`` known codes."""
    from scipy import sparse

    shape = (n, similarity.shape[0])
    ends = np.searchsorted(requests, requests, side="right") - 1  # each request's last step
    weights = decay ** (ends - np.arange(requests.size)).astype(np.float64)
    weighted = weights > 0
    context = csr_rows(requests[weighted], items[weighted], weights[weighted], shape)
    if n * shape[1] <= DENSE_CELLS:  # a few requests: the same floats, without scipy's setup
        block = dense_product(context, np.arange(n), similarity)
        if exclude:
            block[requests, items] = 0.0
        found = np.flatnonzero(block.ravel() > 0)
        rows, cols, values = found // shape[1], found % shape[1], block.ravel()[found]
    else:
        product = sparse.csr_array(context.csr(shape) @ similarity)
        if exclude and requests.size:
            held = sparse.csr_array((np.ones(requests.size), (requests, items)), shape)
            held.sum_duplicates()
            held.data[:] = 1.0
            product = sparse.csr_array(product - product.multiply(held))
        product.sort_indices()  # columns ascending within a row: ties by item id survive sorts
        product = sparse.coo_array(product)
        keep = product.data > 0
        rows, cols, values = product.row[keep], product.col[keep], product.data[keep]
    by_score = np.argsort(-values, kind="stable")
    order = by_score[np.argsort(rows[by_score], kind="stable")]
    rows, cols, values = rows[order].astype(np.int64), cols[order].astype(np.int64), values[order]
    top = _ranks(rows) <= k
    return [rows[top], cols[top], values[top], np.ones(int(top.sum()), dtype=bool)]


def _filled(
    lists: list[np.ndarray],
    popular: np.ndarray,
    scores: np.ndarray,
    requests: np.ndarray,
    items: np.ndarray,
    n: int,
    k: int,
    exclude: bool,
) -> list[np.ndarray]:
    """``lists`` completed to ``k`` per request with the most popular items not yet in them (nor
    in the request when ``exclude``), after them."""
    rows, cols = lists[0], lists[1]
    n_items = popular.size
    got = np.bincount(rows, minlength=n)
    held = np.bincount(requests, minlength=n) if exclude else np.zeros(n, dtype=np.int64)
    width = int(min(n_items, k + (got + held).max(initial=0)))  # enough for every request
    candidates = np.broadcast_to(popular[:width], (n, width))
    taken = rows * n_items + cols
    if exclude:
        taken = np.concatenate([taken, requests.astype(np.int64) * n_items + items])
    free = ~np.isin(np.arange(n, dtype=np.int64)[:, None] * n_items + candidates, taken)
    chosen = free & (np.cumsum(free, axis=1) <= (k - got)[:, None])
    new_rows, slots = np.nonzero(chosen)
    new_cols = candidates[new_rows, slots].astype(np.int64)
    merged = [
        np.concatenate([rows, new_rows.astype(np.int64)]),
        np.concatenate([cols, new_cols]),
        np.concatenate([lists[2], scores[new_cols]]),
        np.concatenate([lists[3], np.zeros(new_rows.size, dtype=bool)]),
    ]
    order = np.argsort(merged[0], kind="stable")  # by request; the rules' rows first, in order
    return [part[order] for part in merged]


def _empty_lists() -> list[np.ndarray]:
    return [np.array([], dtype=np.int64), np.array([], dtype=np.int64), np.array([]),
            np.array([], dtype=bool)]  # fmt: skip


def _ranks(rows: np.ndarray) -> np.ndarray:
    """1, 2, ... within each run of equal (sorted) request positions."""
    return np.arange(rows.size) - np.searchsorted(rows, rows) + 1


def _flat_contexts(
    model: ModelArrays, contexts: Sequence[Sequence[Hashable]]
) -> tuple[np.ndarray, np.ndarray]:
    """Request positions and inner item codes (-1: unknown) of every context item, in order."""
    if isinstance(contexts, str | bytes) or not isinstance(contexts, Sequence):
        raise RecommendError(
            f"contexts must be a list of requests, each a list of item ids, got {type(contexts).__name__}"
        )
    for r, context in enumerate(contexts):
        if isinstance(context, str | bytes) or not isinstance(context, Sequence | np.ndarray):
            raise RecommendError(
                f"contexts[{r}] is {type(context).__name__} {context!r}; each request is a list "
                "of item ids, oldest first"
            )
    sizes = np.fromiter((len(c) for c in contexts), np.int64, len(contexts))
    requests = np.repeat(np.arange(len(contexts), dtype=np.int64), sizes)
    codes = model.item_codes
    flat = (codes.get(str(item), -1) for context in contexts for item in context)
    return requests, np.fromiter(flat, np.int64, int(sizes.sum()))


def _similarity(model: ModelArrays) -> Any:
    """The rules as a CSR array (row: request item, column: candidate)."""
    from scipy import sparse

    if model.scalars.get("family") != ITEM_SIMILARITY or "sim_indptr" not in model.arrays:
        raise RecommendError(
            f"model {model.algorithm!r} is not an item-to-item model: next items need scalars "
            f"family {ITEM_SIMILARITY!r} and arrays sim_indptr, sim_indices and sim_data"
        )
    a = model.arrays
    return sparse.csr_array(
        (a["sim_data"], a["sim_indices"], a["sim_indptr"]), shape=(model.n_items, model.n_items)
    )


def _exclude(model: ModelArrays, exclude_context: bool | None) -> bool:
    if exclude_context is None:
        return bool(model.scalars.get("exclude_context", True))
    return bool(exclude_context)


def _check_k(k: Any, name: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise RecommendError(f"{name} must be an integer >= 1, got {k!r}")
    return int(k)
