"""One user's events as the online feature row reads them: NumPy arrays in time order.

:class:`History` holds the canonical columns of :data:`personalab.features.query.EVENT_COLUMNS`
that the features read (no ``rating``, ``channel``): event times as int64 nanoseconds, strings as
object arrays with ``None`` for a missing value, floats with NaN. The store keeps each user's
history in this form (:mod:`personalab.online.store`) and a request's live events are appended
to it (:func:`personalab.online.live.live_history`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa

STRINGS = ("session_id", "event_type", "item_id", "category", "device")
FLOATS = ("price", "quantity", "dwell_seconds", "scroll_depth")
COLUMNS = ("ns", *STRINGS, *FLOATS)


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

    # --- as stored ---

    def to_arrow(self) -> pa.Table:
        return pa.table({name: getattr(self, name) for name in COLUMNS})

    @classmethod
    def from_arrow(cls, table: pa.Table) -> History:
        out = {"ns": table.column("ns").to_numpy().astype(np.int64, copy=False)}
        for name in STRINGS:
            out[name] = np.array(table.column(name).to_pylist(), dtype=object)
        for name in FLOATS:
            out[name] = table.column(name).to_numpy(zero_copy_only=False).astype(float)
        return cls(**out)

    @classmethod
    def empty(cls) -> History:
        return cls(
            ns=np.zeros(0, dtype=np.int64),
            **{name: np.zeros(0, dtype=object) for name in STRINGS},
            **{name: np.zeros(0) for name in FLOATS},
        )
