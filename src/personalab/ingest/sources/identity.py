"""Identity: whose behaviour a row records, a user's or (in logs without user ids) a session's.

``source.identity`` in ``params/ingest.yaml`` says which column is the identity; it is applied
to the raw rows right after mapping, so every later step (bots, sessions, features) keys on
``user_id`` whatever the log holds.

``user``
    ``user_id`` is the identity. A row without one is quarantined as ``missing_user_id``
    (validation's rule); sessions are not used to fill it.
``session``
    The session is the identity, for anonymous logs (clickstreams keyed by a session cookie).
    Every row's ``user_id`` becomes ``session:<session_id>``: the prefix keeps these ids apart
    from real user ids (which would have to start with ``session:`` themselves to collide), and
    lets a later stage tell them apart. ``session_id`` stays the source's own, so the sessions
    are the source's (one identity, one session). A ``user_id`` column, if any, is not used. A
    row without a session id has no identity: it is quarantined as ``missing_session_id`` (and
    ``missing_user_id``, validation's rule for a row without one).
``auto`` (the default)
    Decided from the mapped rows, by the share with a user id (not null, not blank):

    - ``user_id`` on at least :data:`AUTO_USER_SHARE` (half) of the rows: **user**. A row
      without a user id but with a session id is kept, not quarantined: it takes the user of
      its session when the session's other rows name exactly one user (*stitched*: a visitor
      who signed in mid-session), else its session is its identity, ``session:<session_id>``
      (an anonymous visitor, e.g. a guest checkout). A row with neither is quarantined as
      ``missing_user_id``.
    - ``user_id`` missing or on fewer than half the rows, and a ``session_id`` column:
      **session**, exactly as ``session`` (the few user ids are not used).
    - ``user_id`` on fewer than half the rows and no ``session_id`` column: **user**; the rows
      without one are quarantined as ``missing_user_id`` (the quarantine-rate stop will say so).

A log with neither a ``user_id`` nor a ``session_id`` column stops with an error naming both.
:func:`~personalab.ingest.sources.read.read_source` applies it after mapping;
:func:`~personalab.ingest.pipeline.process_events` applies it to rows read otherwise (the
synthetic log). The decision and its row counts (:class:`IdentityDecision`) are kept in
``RawEvents.extra["identity"]`` and reported in the profile (:mod:`personalab.ingest.profile`).
Every row read is counted once: ``rows == rows_user_id + rows_stitched + rows_session +
rows_without_identity``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from personalab.ingest.sources.base import IDENTITY_COLUMNS, REJECT_COLUMN, RawEvents, SourceError

IDENTITIES = ("auto", "user", "session")
#: in ``auto``, user ids are the identity when at least this share of rows has one
AUTO_USER_SHARE = 0.5
#: prefix of ids made from a session id, so they never collide with real user ids
SESSION_PREFIX = "session:"
#: quarantine reason of a row without a session id when the session is the identity
MISSING_SESSION_ID = "missing_session_id"
PARAM = "params/ingest.yaml: source.identity"


@dataclass(frozen=True)
class IdentityDecision:
    """Which identity a log has, why, and how many rows got theirs each way."""

    identity: str  # "user" or "session"
    setting: str  # source.identity: auto, user or session
    reason: str  # one sentence: how it was decided
    rows: int
    rows_with_user_id: int  # as read
    rows_with_session_id: int  # as read
    rows_user_id: int  # identified by their own user id
    rows_stitched: int  # no user id; given their session's only user id (auto)
    rows_session: int  # identified by their session, ``session:<session_id>``
    rows_without_identity: int  # neither: quarantined

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def apply_identity(raw: RawEvents, setting: str = "auto") -> RawEvents:
    """Set ``user_id`` to each row's identity (see the module docstring) and record the decision.

    Changes ``raw.frame`` (the reader's own frame) and sets ``raw.extra["identity"]`` to the
    decision as a dict. Raises :class:`SourceError` when the log lacks the column the identity
    needs, naming the file, the columns and the param.
    """
    if setting not in IDENTITIES:
        raise SourceError(f"{PARAM}: {setting!r} is not one of {', '.join(IDENTITIES)}")
    frame = raw.frame
    has_user_col, has_session_col = (name in frame for name in IDENTITY_COLUMNS)
    _require_columns(frame, raw.description, setting)
    n = len(frame)
    has_user = _present(frame["user_id"]) if has_user_col else np.zeros(n, dtype=bool)
    has_session = _present(frame["session_id"]) if has_session_col else np.zeros(n, dtype=bool)
    user_share = has_user.sum() / n if n else 1.0
    if setting == "session" or (
        setting == "auto" and has_session_col and user_share < AUTO_USER_SHARE
    ):
        reason = _reason(setting, "session", user_share, has_user_col)
        _identify_by_session(raw, has_session)
        counts = (0, 0, int(has_session.sum()), int((~has_session).sum()))
        identity = "session"
    else:
        reason = _reason(setting, "user", user_share, has_user_col, has_session_col)
        stitched, by_session = (
            _fill_missing_users(raw, has_user, has_session)
            if setting == "auto" and has_session_col and not has_user.all()
            else (0, 0)
        )
        own = int(has_user.sum())
        counts = (own, stitched, by_session, n - own - stitched - by_session)
        identity = "user"
    decision = IdentityDecision(
        identity, setting, reason, n, int(has_user.sum()), int(has_session.sum()), *counts
    )
    raw.extra["identity"] = decision.as_dict()
    return raw


def _require_columns(frame: pd.DataFrame, where: str, setting: str) -> None:
    """Stop when the log lacks the column(s) the identity needs, naming them and the param."""
    has_user_col, has_session_col = (name in frame for name in IDENTITY_COLUMNS)
    present = ", ".join(c for c in frame.columns if not c.startswith("_")) or "none"
    mapping = "source.columns (or select it in source.query)"
    if not has_user_col and not has_session_col:
        raise SourceError(
            f"{where}: the log has neither a user_id nor a session_id column after mapping "
            f"(have: {present}); map the user column to user_id, or the session column to "
            f"session_id (then the session is the identity), in params/ingest.yaml: {mapping}"
        )
    if setting == "user" and not has_user_col:
        raise SourceError(
            f"{where}: {PARAM} is user, but the log has no user_id column after mapping "
            f"(have: {present}); map it in {mapping}, or set source.identity: session to "
            f"use its session_id"
        )
    if setting == "session" and not has_session_col:
        raise SourceError(
            f"{where}: {PARAM} is session, but the log has no session_id column after mapping "
            f"(have: {present}); map the session column to session_id in {mapping}"
        )


def _present(values: pd.Series) -> np.ndarray:
    """True where an identifier is given: not null and, for text, not blank (as :func:`id_text`)."""
    given = values.notna().to_numpy()
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        given = given & (values.astype("str").str.strip() != "").to_numpy()
    return given


def id_text(values: pd.Series) -> pd.Series:
    """Identifiers as text, null where missing or blank (whole floats lose their '.0').

    The same rule as parsing (:mod:`personalab.ingest.events`), so a session id made into an
    identity here matches the parsed ``session_id``.
    """
    if pd.api.types.is_float_dtype(values.dtype):
        whole = values.dropna()
        if np.isfinite(whole).all() and (whole == np.floor(whole)).all():
            values = values.astype("Int64")
    text = values.astype("str").str.strip()
    return text.where(values.notna() & (text != ""))


def _identify_by_session(raw: RawEvents, has_session: np.ndarray) -> None:
    """``user_id`` := ``session:<session_id>``; rows without a session id are rejected."""
    frame = raw.frame
    frame["user_id"] = SESSION_PREFIX + id_text(frame["session_id"])  # null without a session
    if not has_session.all():
        reason = pd.Series(np.where(has_session, None, MISSING_SESSION_ID), index=frame.index)
        earlier = frame.get(REJECT_COLUMN)  # an adapter's or reader's own reason comes first
        frame[REJECT_COLUMN] = reason if earlier is None else earlier.where(earlier.notna(), reason)


def _fill_missing_users(
    raw: RawEvents, has_user: np.ndarray, has_session: np.ndarray
) -> tuple[int, int]:
    """Give rows without a user id their session's only user, else ``session:<id>``.

    Returns (rows stitched, rows identified by their session).
    """
    need = ~has_user & has_session
    if not need.any():
        return 0, 0
    users, sessions = id_text(raw.frame["user_id"]), id_text(raw.frame["session_id"])
    known = has_user & has_session
    per_session = pd.DataFrame({"s": sessions[known], "u": users[known]}).groupby("s")["u"]
    counts = per_session.nunique()
    single_user = per_session.first()[counts == 1]
    wanted = sessions[need]
    stitched = wanted.map(single_user)
    filled = stitched.where(stitched.notna(), SESSION_PREFIX + wanted)
    raw.frame["user_id"] = users.where(~pd.Series(need, index=users.index), filled)
    n_stitched = int(stitched.notna().sum())
    return n_stitched, int(need.sum()) - n_stitched


def _reason(
    setting: str,
    identity: str,
    user_share: float,
    has_user_col: bool,
    has_session_col: bool = True,
) -> str:
    """One sentence saying how the identity was decided."""
    if setting != "auto":
        return f"source.identity: {setting}"
    users = f"user_id on {user_share:.1%} of rows" if has_user_col else "no user_id column"
    if identity == "session":
        return f"auto: {users} (under {AUTO_USER_SHARE:.0%}) and a session_id column"
    if not has_session_col and user_share < AUTO_USER_SHARE:
        return f"auto: {users} and no session_id column to fall back on"
    fallback = (
        "; rows without one take their session's user, else their session"
        if has_session_col and user_share < 1.0
        else ""
    )
    return f"auto: {users} (at least {AUTO_USER_SHARE:.0%}){fallback}"
