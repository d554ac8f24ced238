"""One user's events as the online feature row reads them: NumPy arrays in time order.

:class:`History` holds the canonical columns of :data:`personalab.features.query.EVENT_COLUMNS`
that the features read (no ``rating``, ``channel``): event times as int64 nanoseconds, strings as
object arrays with ``None`` for a missing value, floats with NaN. The store keeps each user's
history packed (:func:`pack`, :func:`unpack`): one column after another, strings as codes into
the store's :class:`Vocabulary` (session ids into the user's own list), compressed with zstd;
about 15 bytes an event. A request's live events are appended to it
(:func:`personalab.online.live.live_history`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa

STRINGS = ("session_id", "event_type", "item_id", "category", "device")
FLOATS = ("price", "quantity", "dwell_seconds", "scroll_depth")
COLUMNS = ("ns", *STRINGS, *FLOATS)
#: the strings coded into the store's vocabulary (session ids: into each user's own list)
CODED = STRINGS[1:]
#: the packed columns and their types
PACKED = (("ns", "<i8"), *((name, "<i4") for name in STRINGS), *((n, "<f8") for n in FLOATS))
BYTES_PER_EVENT = sum(np.dtype(kind).itemsize for _, kind in PACKED)
CODEC = "zstd"


@dataclass(frozen=True)
class History:
    """A user's events in time order (ties keep the log's order)."""

    ns: np.ndarray
    session_id: np.ndarray
    event_type: np.ndarray
    item_id: np.ndarray
    category: np.ndarray
    device: np.ndarray
    price: np.ndarray
    quantity: np.ndarray
    dwell_seconds: np.ndarray
    scroll_depth: np.ndarray

    def __len__(self) -> int:
        return int(self.ns.size)

    def of_type(self, kind: str) -> np.ndarray:
        """Where the events are of type ``kind`` (each type worked out once per history)."""
        masks = self._types
        if kind not in masks:
            masks[kind] = self.event_type == kind
            masks[kind].flags.writeable = False  # shared by every reader
        return masks[kind]

    @cached_property
    def _types(self) -> dict[str, np.ndarray]:
        return {}

    @property
    def last_ns(self) -> int | None:
        return int(self.ns[-1]) if self.ns.size else None

    def before(self, t_ns: int) -> History:
        """The events before ``t_ns`` (the history is in time order: a prefix)."""
        end = int(np.searchsorted(self.ns, t_ns, side="left"))
        return self if end == self.ns.size else self.take(slice(0, end))

    def take(self, where) -> History:
        return History(**{f.name: getattr(self, f.name)[where] for f in fields(self)})

    def then(self, later: History) -> History:
        """These events followed by ``later``'s (which start no earlier than these end)."""
        return History(
            **{
                f.name: np.concatenate([getattr(self, f.name), getattr(later, f.name)])
                for f in fields(self)
            }
        )

    @classmethod
    def empty(cls) -> History:
        return cls(
            ns=np.zeros(0, dtype=np.int64),
            **{name: np.zeros(0, dtype=object) for name in STRINGS},
            **{name: np.zeros(0) for name in FLOATS},
        )


class Vocabulary:
    """The strings of the coded columns, by code (code -1: missing)."""

    def __init__(self, values: dict[str, list[str]]):
        self.values = {name: np.array([*values[name], None], dtype=object) for name in CODED}

    def decode(self, name: str, codes: np.ndarray) -> np.ndarray:
        return self.values[name][codes]  # -1 picks the trailing None


def encode(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """A string column as int32 codes (-1: null) and the strings they stand for."""
    coded = column.cast(pa.string()).combine_chunks().dictionary_encode()
    codes = coded.indices.fill_null(-1).to_numpy().astype(np.int32)
    return codes, [str(v) for v in coded.dictionary.to_pylist()]


def pack(columns: dict[str, np.ndarray], sessions: list[str]) -> tuple[bytes, str]:
    """One user's coded columns (``PACKED``; ``session_id`` as codes into ``sessions``) as
    compressed bytes, and the session ids as JSON."""
    import json

    data = b"".join(np.ascontiguousarray(columns[n], dtype=kind).tobytes() for n, kind in PACKED)
    return pa.compress(data, codec=CODEC, asbytes=True), json.dumps(sessions)


def unpack(data: bytes, events: int, sessions: list[str], vocabulary: Vocabulary) -> History:
    """:func:`pack`'s bytes of ``events`` events as a :class:`History`."""
    raw = pa.decompress(data, decompressed_size=events * BYTES_PER_EVENT, codec=CODEC)
    out, at = {}, 0
    for name, kind in PACKED:
        width = np.dtype(kind).itemsize * events
        out[name] = np.frombuffer(raw, dtype=kind, count=events, offset=at)
        at += width
    session_values = np.array([*sessions, None], dtype=object)
    strings = {name: vocabulary.decode(name, out[name]) for name in CODED}
    return History(
        ns=out["ns"],
        session_id=session_values[out["session_id"]],
        **strings,
        **{name: out[name] for name in FLOATS},
    )


def local_codes(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Codes of one user's session ids into their own list (a missing id: -1)."""
    codes, uniques = pd.factorize(values)
    return codes.astype(np.int32), [str(v) for v in uniques]
