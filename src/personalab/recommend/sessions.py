"""Next-item recommendations for sessions: "given the items of this visit, what comes next".

For logs whose identity is the session (every "user" is one visit) or for a user's current
visit, an item-to-item model answers a request made of item ids. The model is Sequential Rules
(SR; Ludewig & Jannach, "Evaluation of session-based recommendation algorithms", 2018): for
every pair of positions ``i < j <= i + steps`` of a training session, the rule
``a_i -> a_j`` gains ``weight(j - i)``; a request's candidates are its items' rules, the
later items weighing more (:attr:`NextItemParams.context_decay`). SR is as accurate as far
heavier session models on the public benchmarks, is a few sparse sums to fit, and is served
from the same plain arrays as every other model (family ``item_similarity``).

In the order the stage uses them:

* :class:`NextItemParams`: ``sessions:`` in ``params/recommend.yaml``;
* :func:`session_sequences`: each session's item events in time order, repeats collapsed;
* :func:`split_sessions`: the latest sessions by start held out;
* :func:`next_item_gap`: why the log cannot teach or evaluate the model, or None (among the
  causes: timestamps too coarse to order a session's steps, :func:`tied_steps`);
* :func:`fit_next_item`: the rules as :class:`~personalab.recommend.arrays.ModelArrays`.

Ranking requests and the held-out evaluation against popularity live in
:mod:`personalab.recommend.next_item_eval`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from personalab.recommend.arrays import ModelArrays
from personalab.recommend.params import RecommendError

SESSION_COL = "session_id"
ITEM_COL = "item_id"
TIME_COL = "timestamp"
POSITION_COL = "position"
#: the algorithm name the model is saved and reported under, and its scoring family
SEQUENTIAL_RULES = "SequentialRules"
ITEM_SIMILARITY = "item_similarity"
WEIGHTINGS = ("inverse", "linear", "log", "quadratic", "same")

NO_SESSIONS = (
    "no event of the log has both a session id and an item id, so there are no sessions to "
    "learn what comes next from"
)
NO_TRANSITION = (
    "no session has two or more items (repeats of one item in a row count once), so there is "
    "no step from one item to the next to learn"
)


class NextItemParams(BaseModel):
    """``sessions:`` in ``params/recommend.yaml``: the next-item model and its evaluation.

    * ``enabled``: learn and evaluate the model (the stage skips it when False).
    * ``test_share``: the share of sessions held out, the latest by start time, so the model
      is judged on visits after the ones it learned from (as it will be used).
    * ``steps``: how far ahead in a session a later item counts as following an earlier one.
      10 is SR's published setting; 1 keeps only the immediate successor (a Markov chain).
    * ``weighting``: the weight of a rule at ``gap`` positions ahead: ``inverse`` 1/gap (SR's
      ``div``, its best published setting), ``quadratic`` 1/gap², ``log`` 1/log2(1 + gap),
      ``linear`` (steps + 1 - gap) / steps, ``same`` 1.
    * ``context_decay``: a request item ``d`` positions before the last known one weighs
      ``context_decay ** d``: 0 uses the last item only (SR as published), 1 weighs every item
      alike. 0.5 lets the last item lead while earlier ones break its ties and answer when
      the last item has few rules.
    * ``min_sessions``: the fewest training sessions with two or more items worth learning
      from; below it the log is reported as unable to teach the model.
    * ``neighbours``: the most successors kept per item (the strongest; null keeps all). SR's
      authors prune to 20 for last-item requests; 50 leaves room for the candidates a
      request's several items add up, and bounds the model at 50 rules per item.
    * ``exclude_context``: never recommend an item the request already holds (a visitor has
      seen it). The held-out targets that return to an item of their own session cannot be
      hit then; the evaluation reports their share (``targets_in_context``).
    * ``max_tied_steps``: the largest share of steps that may come at the same time as the
      step before them. Above it, which item came next is the file's order rather than the
      visit's (timestamps to the day or the minute, one time for a whole basket), so the
      model is left out rather than learned and judged on that order; 1 trusts the file.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    test_share: float = Field(0.2, gt=0, lt=1)
    steps: int = Field(10, ge=1)
    weighting: Literal["inverse", "linear", "log", "quadratic", "same"] = "inverse"
    context_decay: float = Field(0.5, ge=0, le=1)
    min_sessions: int = Field(20, ge=1)
    neighbours: int | None = Field(50, ge=1)
    exclude_context: bool = True
    max_tied_steps: float = Field(0.5, ge=0, le=1)


def session_sequences(
    events: pd.DataFrame,
    *,
    session_col: str = SESSION_COL,
    item_col: str = ITEM_COL,
    time_col: str = TIME_COL,
) -> pd.DataFrame:
    """Each session's item events in time order: one row per step, repeats collapsed.

    Events without an item id (searches, scrolls) or without a session id are left out. Events
    of one session at the same time keep their order in ``events`` (the log's order is the best
    evidence of which came first). Consecutive events on the same item (a view, a click and a
    cart of one product) collapse into one step, the first, since "the same item again" is not
    a next item. Sessions of a single step are kept: they count in the items' popularity but
    teach no transition and cannot be evaluated.

    Returns columns ``session_id`` (str), ``position`` (0, 1, ... within the session),
    ``item_id`` (str) and ``timestamp``, sorted by session id and position.
    """
    _require(events, (session_col, item_col, time_col), "events")
    rows = events[[session_col, item_col, time_col]]
    rows = rows[rows[item_col].notna() & rows[session_col].notna()]
    times = _sortable_times(rows[time_col], time_col)
    sessions, session_ids = pd.factorize(rows[session_col].astype(str), sort=True)
    items = rows[item_col].astype(str).to_numpy()
    order = np.lexsort((times, sessions))  # stable: ties keep the order of ``events``
    sessions, items = sessions[order], items[order]
    repeat = np.zeros(order.size, dtype=bool)
    repeat[1:] = (sessions[1:] == sessions[:-1]) & (items[1:] == items[:-1])
    keep = order[~repeat]
    sessions = sessions[~repeat]
    return pd.DataFrame(
        {
            SESSION_COL: pd.Series(np.asarray(session_ids, dtype=object)[sessions], dtype="str"),
            POSITION_COL: _positions(sessions),
            ITEM_COL: pd.Series(items[~repeat], dtype="str"),
            TIME_COL: rows[time_col].iloc[keep].reset_index(drop=True),
        }
    )


def split_sessions(
    sequences: pd.DataFrame, params: NextItemParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(train, test)``: the latest ``test_share`` of sessions by start time held out.

    A session starts at its first step; sessions starting together are ordered by session id,
    so the split depends on neither row order nor chance. ``round(test_share * n)`` of the
    ``n`` sessions are held out, at least one and never all (a single session is all
    training). The cut is on starts, so no session is split (a training session may still run
    when a held-out one starts). Both parts are sorted by session id and position.
    """
    _require(sequences, (SESSION_COL, POSITION_COL, ITEM_COL, TIME_COL), "sequences")
    ordered = _ordered(sequences)
    starts = ordered.groupby(SESSION_COL, sort=True, observed=True)[TIME_COL].min()
    rank = np.lexsort((np.arange(len(starts)), _sortable_times(starts, TIME_COL)))
    n = len(starts)
    n_test = 0 if n < 2 else int(np.clip(np.rint(params.test_share * n), 1, n - 1))
    held_ids = starts.index.to_numpy()[rank[n - n_test :]]
    held = ordered[SESSION_COL].isin(held_ids).to_numpy()
    return ordered[~held].reset_index(drop=True), ordered[held].reset_index(drop=True)


def next_item_gap(sequences: pd.DataFrame, params: NextItemParams) -> str | None:
    """Why these sessions cannot teach or evaluate a next-item model (one sentence), or None.

    In order: no session at all; no session of two or more steps; more steps tied with the
    step before them than ``max_tied_steps`` (the order within sessions is unknown); fewer
    training sessions of two or more steps than ``min_sessions``; no held-out session of two or
    more steps (nothing to evaluate).
    """
    if sequences.empty:
        return NO_SESSIONS
    if not (_lengths(sequences) >= 2).any():
        return NO_TRANSITION
    tied, steps = tied_steps(sequences)
    if tied > params.max_tied_steps * steps:
        return (
            f"{tied:,} of the {steps:,} steps from one item to the next in a session "
            f"({tied / steps:.0%}) come at the same time as the step before, more than "
            f"sessions.max_tied_steps {params.max_tied_steps:g}: the timestamps do not say which "
            "item came next (only the file's order does), so there is no order to learn"
        )
    train, test = split_sessions(sequences, params)
    n_sessions = sequences[SESSION_COL].nunique()
    n_test = test[SESSION_COL].nunique()
    learnable = int((_lengths(train) >= 2).sum())
    if learnable < params.min_sessions:
        return (
            f"only {learnable:,} of the {n_sessions - n_test:,} training sessions (the earliest "
            f"by start) have two or more items, fewer than sessions.min_sessions "
            f"{params.min_sessions}, so there are too few steps from one item to the next to "
            "learn from"
        )
    if not (_lengths(test) >= 2).any():
        return (
            f"none of the {n_test:,} held-out sessions (the latest by start, sessions.test_share "
            f"{params.test_share}) has two or more items, so there is no next item to evaluate"
        )
    return None


def tied_steps(sequences: pd.DataFrame) -> tuple[int, int]:
    """(steps at the same time as the step before them in their session, steps): a step is
    every position after a session's first."""
    ordered = _ordered(sequences)
    step = (ordered[POSITION_COL] > 0).to_numpy()
    times = _sortable_times(ordered[TIME_COL], TIME_COL)
    same = np.zeros(step.size, dtype=bool)
    same[1:] = times[1:] == times[:-1]
    return int((same & step).sum()), int(step.sum())


def fit_next_item(train: pd.DataFrame, params: NextItemParams) -> ModelArrays:
    """Sequential Rules fitted on training sequences, as arrays (family ``item_similarity``).

    ``S[a, b]`` sums ``weight(j - i)`` over every training session and positions
    ``i < j <= i + steps`` with ``a_i = a`` and ``a_j = b``; each row then keeps its
    ``neighbours`` largest entries (ties by item id). Arrays: ``item_ids`` (sorted, str), the
    CSR ``sim_indptr``/``sim_indices``/``sim_data`` of ``S`` (row: the request's item,
    column: the candidate), ``item_scores`` (the share of training sessions holding each item:
    the popularity fallback) and empty ``user_ids``/``seen_*`` (no user is known). Each gap
    adds one sparse matrix, so memory stays near the model's size plus one copy of the steps.
    """
    from scipy import sparse

    _require(train, (SESSION_COL, POSITION_COL, ITEM_COL), "train")
    if train.empty:
        raise RecommendError("train has no rows: the next-item model needs training sessions")
    ordered = _ordered(train)
    items, item_ids = pd.factorize(ordered[ITEM_COL].astype(str), sort=True)
    item_ids = np.asarray(item_ids, dtype=object)
    n_items = item_ids.size
    sessions = pd.factorize(ordered[SESSION_COL])[0]
    rules = sparse.csr_array((n_items, n_items), dtype=np.float64)
    for gap in range(1, min(params.steps, len(items) - 1) + 1):
        same = sessions[gap:] == sessions[:-gap]
        if not same.any():
            continue
        weights = np.full(int(same.sum()), _weight(gap, params))
        step = sparse.coo_array(
            (weights, (items[:-gap][same], items[gap:][same])), shape=(n_items, n_items)
        )
        rules = rules + step.tocsr()
    rules = _keep_strongest(sparse.csr_array(rules), params.neighbours)
    n_sessions = int(sessions.max()) + 1
    held = sparse.csr_array(
        (np.ones(items.size), (sessions, items)), shape=(int(sessions.max()) + 1, n_items)
    )
    held.sum_duplicates()  # one entry per (session, item): the sessions holding each item
    holding = np.bincount(held.indices, minlength=n_items)
    lengths = np.bincount(sessions)
    return ModelArrays(
        {
            "user_ids": np.array([], dtype=str),
            "item_ids": item_ids.astype(str),
            "seen_indptr": np.zeros(1, dtype=np.int64),
            "seen_indices": np.array([], dtype=np.int64),
            "sim_indptr": rules.indptr.astype(np.int64),
            "sim_indices": rules.indices.astype(np.int64),
            "sim_data": rules.data.astype(np.float64),
            "item_scores": holding / n_sessions,
        },
        {
            "algorithm": SEQUENTIAL_RULES,
            "family": ITEM_SIMILARITY,
            "low": -np.inf,
            "high": np.inf,
            "steps": params.steps,
            "weighting": params.weighting,
            "context_decay": params.context_decay,
            "neighbours": params.neighbours,
            "exclude_context": params.exclude_context,
            "sessions": n_sessions,
            "sessions_with_steps": int((lengths >= 2).sum()),
        },
    )


def _weight(gap: int, params: NextItemParams) -> float:
    """A rule's weight ``gap`` positions ahead, by ``params.weighting``."""
    if params.weighting == "inverse":
        return 1.0 / gap
    if params.weighting == "quadratic":
        return 1.0 / gap**2
    if params.weighting == "log":
        return float(1.0 / np.log2(1.0 + gap))
    if params.weighting == "linear":
        return (params.steps + 1 - gap) / params.steps
    return 1.0


def _keep_strongest(rules, neighbours: int | None):
    """Each row's ``neighbours`` largest entries (ties: lowest column, i.e. item id)."""
    from scipy import sparse

    rules.sum_duplicates()
    rules.eliminate_zeros()
    rules.sort_indices()
    if neighbours is None or rules.nnz == 0:
        return rules
    n = rules.shape[0]
    rows = np.repeat(np.arange(n), np.diff(rules.indptr))
    by_weight = np.argsort(-rules.data, kind="stable")  # columns stay ascending within a tie
    order = by_weight[np.argsort(rows[by_weight], kind="stable")]
    rank = np.empty(rules.nnz, dtype=np.int64)
    rank[order] = np.arange(rules.nnz) - rules.indptr[rows[order]]
    keep = rank < neighbours  # positions stay in CSR order (rows, then columns)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows[keep], minlength=n))])
    return sparse.csr_array((rules.data[keep], rules.indices[keep], indptr), shape=rules.shape)


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise RecommendError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise RecommendError(
            f"{name} has no column {', '.join(repr(c) for c in missing)} (columns: "
            f"{list(frame.columns)}); next-item sequences need {', '.join(columns)}"
        )


def _sortable_times(times: pd.Series, column: str) -> np.ndarray:
    """Times as numbers that order like them (datetimes as nanoseconds); no missing value."""
    if times.isna().any():
        raise RecommendError(
            f"column {column!r} has {int(times.isna().sum()):,} missing times; every session "
            "step needs one to be ordered"
        )
    if pd.api.types.is_datetime64_any_dtype(times):
        return times.to_numpy(dtype="datetime64[ns]").view("int64")
    if pd.api.types.is_numeric_dtype(times) and not pd.api.types.is_bool_dtype(times):
        return times.to_numpy(dtype=np.float64)
    raise RecommendError(
        f"column {column!r} holds {times.dtype} values; next-item sequences need datetimes or "
        "numbers to order each session's events"
    )


def _positions(sessions: np.ndarray) -> np.ndarray:
    """0, 1, ... within each run of equal (sorted) session codes."""
    if sessions.size == 0:
        return np.array([], dtype=np.int64)
    first = np.concatenate([[True], sessions[1:] != sessions[:-1]])
    starts = np.flatnonzero(first)
    return np.arange(sessions.size) - np.repeat(starts, np.diff(np.append(starts, sessions.size)))


def _ordered(sequences: pd.DataFrame) -> pd.DataFrame:
    """Sequences sorted by session id then position, whatever their row order."""
    return sequences.sort_values([SESSION_COL, POSITION_COL], kind="stable").reset_index(drop=True)


def _lengths(sequences: pd.DataFrame) -> pd.Series:
    """Steps per session."""
    return sequences.groupby(SESSION_COL, sort=False, observed=True).size()
