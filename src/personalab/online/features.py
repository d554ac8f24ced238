"""Feature rows for requests by user id: the stored history and the request's live events
folded into the features stage's row at the request's instant (:func:`online_row`).

A request row is ``user_id``, optionally ``events`` (the current visit's events, see
:mod:`personalab.online.live`) and ``at`` (the instant to describe the user at, ISO 8601;
default: just after the latest event known, stored or live). A user the store does not know is
described from their live events alone; one with neither history nor live events has no row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from personalab.online.history import History
from personalab.online.live import LiveEventError, instant, live_history
from personalab.online.row import online_row
from personalab.online.store import OnlineStore
from personalab.online.visit import Visit, visit_of

REQUEST_COLUMNS = ("events", "at")
VISIT = "_visit"  # the column of a frame's live visits


class OnlineFeatures:
    """Rows of the features stage's table, computed per request from an :class:`OnlineStore`."""

    def __init__(self, store: OnlineStore):
        self.store = store
        self.columns = list(store.columns)

    def describe(self) -> str:
        as_of = pd.Timestamp(self.store.as_of_ns, tz="UTC")
        return (
            f"online store: {len(self.store):,} users and {self.store.events:,} events as of "
            f"{as_of:%Y-%m-%d %H:%M:%S.%f} UTC"
        )

    def row(self, user_id: str, events: Any = None, at: Any = None) -> dict[str, Any] | None:
        """The user's row (without ``user_id``) at ``at``, with ``events`` folded in; None when
        there is nothing to describe them by."""
        return self.read(user_id, events, at)[0]

    def read(
        self, user_id: str, events: Any = None, at: Any = None
    ) -> tuple[dict[str, Any] | None, History]:
        """:meth:`row`, and the live events read (a :class:`History`, in time order)."""
        store = self.store
        stored = store.user(user_id)
        before = stored.history if stored is not None else None
        live = live_history(events, user_id, before, store.as_of_ns, store.session_gap_ns)
        latest = max(store.as_of_ns, (live.last_ns + 1) if len(live) else 0)
        t_ns = latest if _absent(at) else instant(at, "at")
        if t_ns < latest:
            raise LiveEventError(
                f"at {at} is before the latest event known for user {user_id} or the store's "
                f"end ({pd.Timestamp(latest, tz='UTC')}): a row describes the user after them"
            )
        if stored is not None and not len(live) and t_ns == store.as_of_ns:
            return dict(stored.row), live  # as built by the features stage
        history = live if before is None else before.then(live)
        if not len(history):
            return None, live
        position = stored.position if stored is not None else -1
        row = online_row(history, t_ns, store.plan, store.reference.for_user(position, live))
        return row, live

    def described(
        self, users: Sequence[Any], events: Sequence[Any], ats: Sequence[Any]
    ) -> tuple[list[dict[str, Any] | None], list[Visit | None]]:
        """Per request (user id, live events, ``at``): the row (:meth:`row`) and the live
        visit (:func:`~personalab.online.visit.visit_of`; None: no live events)."""
        rows, visits = [], []
        for user, live, at in zip(users, events, ats, strict=True):
            row, history = self.read(str(user), live, at)
            rows.append(row)
            visits.append(visit_of(history))
        return rows, visits

    def frame(self, requests: pd.DataFrame) -> pd.DataFrame:
        """``user_id`` and the features stage's columns (numbers as float64, the string columns
        last), one row per request row (NaN where a user has nothing to describe them by), and
        :data:`VISIT`, each row's :class:`~personalab.online.visit.Visit` (None: no live
        events)."""
        n = len(requests)
        users = requests["user_id"].to_numpy(dtype=object).astype(str)
        absent = [None] * n
        events = requests["events"].to_numpy(dtype=object) if "events" in requests else absent
        ats = requests["at"].to_numpy(dtype=object) if "at" in requests else absent
        rows, visits = self.described(users, events, ats)
        strings = [name for name in self.columns if name in self.store.rows.strings]
        numbers = [name for name in self.columns if name not in self.store.rows.strings]
        block = np.full((n, len(numbers)), np.nan)
        text = np.full((n, len(strings)), None, dtype=object)
        for i, row in enumerate(rows):
            if row is not None:
                block[i] = [row[name] for name in numbers]
                text[i] = [row[name] for name in strings]
        # a float block and an object block, each built in one go (a column at a time costs
        # a fraction of a millisecond each)
        index = requests.index
        return pd.concat(
            [
                pd.DataFrame({"user_id": users.astype(object)}, index=index),
                pd.DataFrame(block, columns=numbers, index=index),
                pd.DataFrame(text, columns=strings, index=index, dtype=object),
                pd.DataFrame({VISIT: pd.Series(visits, index=index, dtype=object)}),
            ],
            axis=1,
        )


def _absent(value: Any) -> bool:
    if value is None:
        return True
    return isinstance(value, float) and math.isnan(value) or value is pd.NaT or value is np.nan
