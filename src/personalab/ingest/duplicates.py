"""Event ids and duplicates: content hashes for sources without ids, re-sent events, and ids
reused for different events.

A re-sent event carries the id of one seen earlier in the file; the first arrival
is kept. Sources without event ids get a content hash (:func:`content_event_ids`),
so identical rows count as re-sends.

An id that valid rows share with *different* content (:func:`conflicting_ids`) is not a
re-send: which row is the event cannot be told, so every row of that id is quarantined as
``conflicting_event_id`` (none is kept, none counts as a duplicate). Content is what
:func:`content_event_ids` hashes: user, session, time, event type, item, price, quantity and
rating (a re-send may carry an updated dwell or scroll depth).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_HASH_KEY = "personalab-event"  # pandas wants exactly 16 characters


def content_event_ids(frame: pd.DataFrame) -> pd.Series:
    """A 16-hex-digit content hash per row (for sources without event ids)."""
    columns = [
        c
        for c in (
            "user_id",
            "session_id",
            "timestamp",
            "event_type",
            "item_id",
            "price",
            "quantity",
            "rating",
        )
        if c in frame
    ]
    hashed = pd.util.hash_pandas_object(frame[columns], index=False, hash_key=_HASH_KEY).to_numpy()
    return pd.Series(hex64(hashed), index=frame.index, dtype="string")


def event_id_codes(ids: pd.Series) -> np.ndarray:
    """An integer per row for its event id (-1 where missing): ids are hashed once, and the
    conflict and duplicate checks compare integers."""
    codes, _ = pd.factorize(ids, sort=False)
    return codes


def conflicting_ids(
    frame: pd.DataFrame, rows: np.ndarray, codes: np.ndarray | None = None
) -> np.ndarray:
    """True for each of ``rows`` (positions) whose ``event_id`` the others share with other content.

    ``codes`` are :func:`event_id_codes` of ``frame["event_id"]`` (computed when not given).
    Only ids that repeat among ``rows`` are hashed, so a log without repeats costs one pass.
    """
    codes = event_id_codes(frame["event_id"]) if codes is None else codes
    sub = codes[rows]
    counts = np.bincount(sub[sub >= 0], minlength=1)
    repeated = (sub >= 0) & (counts[np.maximum(sub, 0)] > 1)
    conflict = np.zeros(len(rows), dtype=bool)
    if not repeated.any():
        return conflict
    content = content_event_ids(frame.iloc[rows[repeated]]).to_numpy()
    variants = pd.Series(content).groupby(sub[repeated], sort=False).nunique()
    conflict[repeated] = np.isin(sub[repeated], variants.index[variants > 1].to_numpy())
    return conflict


def duplicated_ids(ids: pd.Series) -> np.ndarray:
    """True for every repeat of an id seen earlier in ``ids`` (the first arrival is kept)."""
    codes, _ = pd.factorize(ids, sort=False)  # codes number ids in order of first appearance
    seen = np.maximum.accumulate(np.r_[-1, codes[:-1]]) if codes.size else codes
    return codes <= seen


def duplicated_codes(codes: np.ndarray) -> np.ndarray:
    """:func:`duplicated_ids` for integer codes of ids (in any numbering)."""
    return pd.Series(codes).duplicated(keep="first").to_numpy()


def hex64(values: np.ndarray) -> np.ndarray:
    """Vectorised ``format(v, '016x')`` for an array of uint64."""
    values = np.asarray(values, dtype=np.uint64)
    shifts = np.arange(60, -1, -4, dtype=np.uint64)
    nibbles = ((values[:, None] >> shifts) & np.uint64(0xF)).astype(np.uint8)
    table = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    return np.ascontiguousarray(table[nibbles]).view("S16").ravel().astype(str)
