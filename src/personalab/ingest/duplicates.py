"""Event ids and duplicates: content hashes for sources without ids, and re-sent events.

A re-sent event carries the id of one seen earlier in the file; the first arrival
is kept. Sources without event ids get a content hash (:func:`content_event_ids`),
so identical rows count as re-sends.
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


def duplicated_ids(ids: pd.Series) -> np.ndarray:
    """True for every repeat of an id seen earlier in ``ids`` (the first arrival is kept)."""
    codes, _ = pd.factorize(ids, sort=False)  # codes number ids in order of first appearance
    seen = np.maximum.accumulate(np.r_[-1, codes[:-1]]) if codes.size else codes
    return codes <= seen


def hex64(values: np.ndarray) -> np.ndarray:
    """Vectorised ``format(v, '016x')`` for an array of uint64."""
    values = np.asarray(values, dtype=np.uint64)
    shifts = np.arange(60, -1, -4, dtype=np.uint64)
    nibbles = ((values[:, None] >> shifts) & np.uint64(0xF)).astype(np.uint8)
    table = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    return np.ascontiguousarray(table[nibbles]).view("S16").ravel().astype(str)
