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

import functools
from collections.abc import Iterator
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

    Changes ``raw.frame`` (the reader's own frame), or, for a source read in batches, each batch
    as it is read (the decision and the sessions' users are taken in passes over the identity
    columns alone), and sets ``raw.extra["identity"]`` to the decision as a dict. Raises
    :class:`SourceError` when the log lacks the column the identity needs, naming the file, the
    columns and the param.
    """
    if setting not in IDENTITIES:
        raise SourceError(f"{PARAM}: {setting!r} is not one of {', '.join(IDENTITIES)}")
    has_user_col, has_session_col = (name in raw.frame for name in IDENTITY_COLUMNS)
    _require_columns(raw.frame, raw.description, setting)
    present = [name for name in IDENTITY_COLUMNS if name in raw.frame]
    # whole-number float ids: decided on the whole column (for batches, by the reader's pass)
    batched = raw.batches is not None
    whole = {name: (name in raw.whole_number_ids) if batched else None for name in present}

    def parts() -> Iterator[pd.DataFrame]:
        return iter([raw.frame]) if raw.batches is None else raw.batches(present)

    n = with_user = with_session = 0
    for part in parts():
        n += len(part)
        with_user += (
            int(id_text(part["user_id"], whole["user_id"]).notna().sum()) if has_user_col else 0
        )
        with_session += (
            int(id_text(part["session_id"], whole["session_id"]).notna().sum())
            if has_session_col
            else 0
        )
    user_share = with_user / n if n else 1.0
    transform = None
    if setting == "session" or (
        setting == "auto" and has_session_col and user_share < AUTO_USER_SHARE
    ):
        reason = _reason(setting, "session", user_share, has_user_col)
        transform = functools.partial(
            _by_session, whole=whole["session_id"], reject=with_session < n
        )
        counts = (0, 0, with_session, n - with_session)
        identity = "session"
    else:
        reason = _reason(setting, "user", user_share, has_user_col, has_session_col)
        stitched = by_session = 0
        if setting == "auto" and has_session_col and with_user < n:
            single_user, stitched, by_session = _sessions_users(parts(), whole)
            if stitched + by_session:
                transform = functools.partial(_stitch, single_user=single_user, whole=whole)
        counts = (with_user, stitched, by_session, n - with_user - stitched - by_session)
        identity = "user"
    decision = IdentityDecision(identity, setting, reason, n, with_user, with_session, *counts)
    raw.extra["identity"] = decision.as_dict()
    if transform is not None:
        _apply(raw, transform, present)
    return raw


def _apply(raw: RawEvents, transform, needs: list[str]) -> None:
    """``transform`` applied to ``raw.frame``, or to each batch as it is read (a batch of some
    columns reads the identity columns too, and leaves them out again)."""
    if raw.batches is None:
        raw.frame = transform(raw.frame)
        return
    inner = raw.batches
    raw.frame = transform(raw.frame)  # the empty frame gains the columns the batches gain

    def batches(
        columns: list[str] | None = None, positions: np.ndarray | None = None
    ) -> Iterator[pd.DataFrame]:
        if columns is not None and not {"user_id", REJECT_COLUMN} & set(columns):
            yield from inner(columns, positions)
            return
        wanted = None
        if columns is not None:
            wanted = [c for c in columns if c != REJECT_COLUMN]
            wanted += [c for c in needs if c not in wanted]
        for batch in inner(wanted, positions):
            batch = transform(batch)
            yield batch if columns is None else batch[columns]

    raw.batches = batches


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


def id_text(values: pd.Series, whole: bool | None = None) -> pd.Series:
    """Identifiers as text, null where missing or blank (whole floats lose their '.0'; ``whole``
    says whether a float column is all whole numbers, decided on the whole column, else on
    ``values``).

    The same rule as parsing (:mod:`personalab.ingest.events`), so a session id made into an
    identity here matches the parsed ``session_id``.
    """
    if pd.api.types.is_float_dtype(values.dtype):
        if whole is None:
            present = values.dropna()
            whole = bool(np.isfinite(present).all() and (present == np.floor(present)).all())
        if whole:
            values = values.astype("Int64")
    text = values.astype("str").str.strip()
    return text.where(values.notna() & (text != ""))


def _by_session(frame: pd.DataFrame, whole: bool | None, reject: bool) -> pd.DataFrame:
    """``user_id`` := ``session:<session_id>``; with ``reject`` (some row of the log has no
    session id), the rows without one are rejected."""
    sessions = id_text(frame["session_id"], whole)
    frame["user_id"] = SESSION_PREFIX + sessions  # null without a session
    if reject:
        reason = pd.Series(
            np.where(sessions.notna(), None, MISSING_SESSION_ID), index=frame.index, dtype=object
        )
        earlier = frame.get(REJECT_COLUMN)  # an adapter's or reader's own reason comes first
        frame[REJECT_COLUMN] = reason if earlier is None else earlier.where(earlier.notna(), reason)
    return frame


def _sessions_users(
    parts: Iterator[pd.DataFrame], whole: dict[str, bool | None]
) -> tuple[pd.Series, int, int]:
    """The user of each session whose rows with a user id name exactly one, and how many rows
    without a user id take it (stitched) or take their session (by session)."""
    pairs, wanted = [], []
    for part in parts:
        users = id_text(part["user_id"], whole["user_id"])
        sessions = id_text(part["session_id"], whole["session_id"])
        known = users.notna() & sessions.notna()
        pairs.append(pd.DataFrame({"s": sessions[known], "u": users[known]}).drop_duplicates())
        wanted.append(sessions[users.isna() & sessions.notna()].value_counts())
    both = pd.concat(pairs).drop_duplicates()
    per_session = both.groupby("s")["u"]
    single_user = per_session.first()[per_session.nunique() == 1]
    needed = pd.concat(wanted).groupby(level=0).sum()
    stitched = int(needed[needed.index.isin(single_user.index)].sum())
    return single_user, stitched, int(needed.sum()) - stitched


def _stitch(
    frame: pd.DataFrame, single_user: pd.Series, whole: dict[str, bool | None]
) -> pd.DataFrame:
    """Rows without a user id take their session's only user, else ``session:<id>``."""
    users = id_text(frame["user_id"], whole["user_id"])
    sessions = id_text(frame["session_id"], whole["session_id"])
    need = users.isna() & sessions.notna()
    wanted = sessions[need]
    stitched = wanted.map(single_user)
    filled = stitched.where(stitched.notna(), SESSION_PREFIX + wanted)
    frame["user_id"] = users.where(~need, filled)
    return frame


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
