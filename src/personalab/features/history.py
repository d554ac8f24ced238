"""The events before one cut-off as arrays, and the per-user reductions every feature uses.

Sessions are rebuilt from the events before ``T`` (a session that straddles ``T``
only counts its part before ``T``), so nothing after ``T`` leaks in through the
sessions table.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

DAY_NS = 86_400 * 10**9
HOUR_NS = 3_600 * 10**9


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` where ``den > 0``, else NaN."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


@dataclass
class History:
    """The events before one cut-off as arrays, with user and session codes."""

    user: np.ndarray  # user code per event (0..n_users-1)
    ns: np.ndarray  # event time, ns since epoch
    etype: pd.Series  # event type (string categories)
    session: np.ndarray  # session code per event
    frame: pd.DataFrame  # numeric and label columns
    n_users: int
    users: pd.Index  # user id per user code

    @classmethod
    def of(cls, hist_frame: pd.DataFrame) -> History:
        """Codes and arrays of a non-empty frame of the events before a cut-off."""
        user_codes, users = pd.factorize(hist_frame["user_id"], sort=True)
        # a session is a (user, session id) pair: a source may reuse ids across users
        source_sessions, _ = pd.factorize(hist_frame["session_id"])
        pair_key = user_codes.astype(np.int64) * (int(source_sessions.max()) + 2) + source_sessions
        session_codes, _ = pd.factorize(pair_key)
        return cls(
            user=user_codes,
            ns=hist_frame["timestamp"].to_numpy(dtype="datetime64[ns]").view("int64"),
            etype=hist_frame["event_type"].astype("str"),
            session=session_codes,
            frame=hist_frame,
            n_users=len(users),
            users=users,
        )

    # --- per-event arrays (computed once, on first use) ----------------------------------------

    @cached_property
    def is_purchase(self) -> np.ndarray:
        return (self.etype == "purchase").to_numpy()

    @cached_property
    def is_view(self) -> np.ndarray:
        return (self.etype == "view").to_numpy()

    @cached_property
    def is_click(self) -> np.ndarray:
        return (self.etype == "click").to_numpy()

    @cached_property
    def is_cart(self) -> np.ndarray:
        return (self.etype == "add_to_cart").to_numpy()

    @cached_property
    def price(self) -> np.ndarray:
        return self.frame["price"].to_numpy(dtype=float)

    @cached_property
    def dwell(self) -> np.ndarray:
        return self.frame["dwell_seconds"].to_numpy(dtype=float)

    @cached_property
    def has_dwell(self) -> np.ndarray:
        """Views with a dwell time recorded."""
        return self.is_view & ~np.isnan(self.dwell)

    @cached_property
    def scroll(self) -> np.ndarray:
        return self.frame["scroll_depth"].to_numpy(dtype=float)

    @cached_property
    def has_scroll(self) -> np.ndarray:
        """Scroll events with a depth recorded."""
        return (self.etype == "scroll").to_numpy() & ~np.isnan(self.scroll)

    # --- per-user reductions -------------------------------------------------------------------

    def count(self, mask: np.ndarray) -> np.ndarray:
        """Masked events per user."""
        return np.bincount(self.user[mask], minlength=self.n_users)

    def per_user_max(self, mask: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Per-user max of ``values`` over the masked events (NaN for users with none)."""
        return (
            pd.Series(values[mask])
            .groupby(self.user[mask])
            .max()
            .reindex(range(self.n_users))
            .to_numpy()
        )

    def mean(self, mask: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Per-user mean of ``values`` over the masked events (NaN for users with none)."""
        total = np.bincount(self.user[mask], weights=values[mask], minlength=self.n_users)
        return ratio(total, self.count(mask))

    def distinct_sessions(self, mask: np.ndarray) -> np.ndarray:
        """Distinct sessions per user among the masked events."""
        sessions = np.unique(self.session[mask])
        owner = np.zeros(self.session.max() + 1, dtype=np.int64)
        owner[self.session] = self.user
        return np.bincount(owner[sessions], minlength=self.n_users)
