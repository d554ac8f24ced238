"""Unit tests of personalab.ingest.sources.identity: whose rows a log holds (user or session).

Small hand-built raw frames whose identity is known, then the same logs written as files and
ingested as a user would (through params), with the bad-input cases in one table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personalab.ingest.sources import REJECT_COLUMN, RawEvents, SourceError
from personalab.ingest.sources.identity import (
    AUTO_USER_SHARE,
    MISSING_SESSION_ID,
    apply_identity,
)
from tests.unit.ingest.bad_inputs import assert_accounted, ingest, reasons, write

HEADER = "user_id,session_id,timestamp,event_type,item_id\n"


def _raw(**columns) -> RawEvents:
    n = len(next(iter(columns.values())))
    frame = pd.DataFrame(columns)
    frame["timestamp"] = "2024-01-01T12:00:00Z"
    frame["event_type"] = "view"
    frame["_file"], frame["_row"] = "log.csv", range(n)
    return RawEvents(frame=frame, description="log.csv")


def _counts(decision: dict) -> tuple[int, int, int, int]:
    return (
        decision["rows_user_id"],
        decision["rows_stitched"],
        decision["rows_session"],
        decision["rows_without_identity"],
    )


# --- apply_identity on raw rows --------------------------------------------------------------


def test_session_identity_prefixes_the_session_and_ignores_user_ids():
    raw = _raw(user_id=["u1", None, "u2"], session_id=["s1", "s1", "s2"])
    apply_identity(raw, "session")
    assert raw.frame["user_id"].tolist() == ["session:s1", "session:s1", "session:s2"]
    assert raw.frame["session_id"].tolist() == ["s1", "s1", "s2"]  # the source's own sessions
    decision = raw.extra["identity"]
    assert (decision["identity"], decision["setting"]) == ("session", "session")
    assert decision["reason"] == "source.identity: session"
    assert _counts(decision) == (0, 0, 3, 0)
    assert (decision["rows_with_user_id"], decision["rows_with_session_id"]) == (2, 3)


def test_session_ids_read_as_whole_floats_lose_the_point_zero():
    raw = _raw(session_id=[12.0, np.nan, 7.0])  # a parquet column with a null reads as float
    apply_identity(raw, "session")
    users = raw.frame["user_id"]
    assert users.iloc[[0, 2]].tolist() == ["session:12", "session:7"]
    assert pd.isna(users.iloc[1])
    assert raw.frame[REJECT_COLUMN].fillna("-").tolist() == ["-", MISSING_SESSION_ID, "-"]
    assert _counts(raw.extra["identity"]) == (0, 0, 2, 1)


def test_session_identity_keeps_an_adapters_own_reject_reason_first():
    raw = _raw(session_id=[None, None, "s1"])
    raw.frame[REJECT_COLUMN] = ["cancelled_invoice", None, None]
    apply_identity(raw, "session")
    rejects = raw.frame[REJECT_COLUMN].fillna("-").tolist()
    assert rejects == ["cancelled_invoice", MISSING_SESSION_ID, "-"]


def test_auto_without_a_user_id_column_is_session():
    raw = _raw(session_id=["s1", "s2"])
    apply_identity(raw)
    decision = raw.extra["identity"]
    assert decision["identity"] == "session"
    assert decision["reason"] == "auto: no user_id column (under 50%) and a session_id column"
    assert raw.frame["user_id"].tolist() == ["session:s1", "session:s2"]


def test_auto_with_user_ids_on_fewer_than_half_the_rows_is_session():
    raw = _raw(user_id=["u1", None, " ", None], session_id=["a", "b", "c", "d"])  # blank: missing
    apply_identity(raw)
    decision = raw.extra["identity"]
    assert (decision["identity"], decision["rows_with_user_id"]) == ("session", 1)
    assert (
        decision["reason"] == "auto: user_id on 25.0% of rows (under 50%) and a session_id column"
    )
    assert raw.frame["user_id"].tolist() == ["session:a", "session:b", "session:c", "session:d"]


def test_auto_with_user_ids_on_exactly_half_the_rows_is_user():
    assert AUTO_USER_SHARE == 0.5
    raw = _raw(user_id=["u1", "u2", None, None], session_id=["a", "b", "c", "d"])
    apply_identity(raw)
    assert raw.extra["identity"]["identity"] == "user"
    assert raw.frame["user_id"].tolist() == ["u1", "u2", "session:c", "session:d"]


def test_auto_user_stitches_a_session_with_one_user_and_falls_back_to_the_session_otherwise():
    raw = _raw(
        user_id=["u1", None, "u1", "u2", "u3", None, None, "u4", "u5", "u6"],
        session_id=["s1", "s1", "s1", "s2", "s2", "s2", "s9", None, "s5", "s6"],
    )
    raw.frame.loc[7, "user_id"] = None  # row 7: no user id, no session id
    apply_identity(raw)
    users = raw.frame["user_id"]
    # s1 names only u1: stitched; s2 names two users: its session; s9 names none: its session
    assert users.tolist()[:7] == ["u1", "u1", "u1", "u2", "u3", "session:s2", "session:s9"]
    assert pd.isna(users.iloc[7])  # left for validation: missing_user_id
    decision = raw.extra["identity"]
    assert decision["identity"] == "user"
    assert _counts(decision) == (6, 1, 2, 1)
    assert sum(_counts(decision)) == decision["rows"] == 10
    assert "take their session's user, else their session" in decision["reason"]


def test_user_identity_fills_nothing_from_sessions():
    raw = _raw(user_id=["u1", None], session_id=["s1", "s1"])
    apply_identity(raw, "user")
    assert pd.isna(raw.frame["user_id"].iloc[1])
    decision = raw.extra["identity"]
    assert (decision["identity"], decision["reason"]) == ("user", "source.identity: user")
    assert _counts(decision) == (1, 0, 0, 1)


def test_auto_on_a_log_with_user_ids_and_no_sessions_leaves_the_frame_as_it_was():
    raw = _raw(user_id=["u1", None, "u2"])
    before = raw.frame.copy()
    apply_identity(raw)
    pd.testing.assert_frame_equal(raw.frame, before)
    assert raw.extra["identity"]["reason"] == "auto: user_id on 66.7% of rows (at least 50%)"


def test_an_unknown_setting_names_the_param():
    with pytest.raises(SourceError, match=r"params/ingest\.yaml: source\.identity: 'visitor'"):
        apply_identity(_raw(user_id=["u1"]), "visitor")


# --- ingested as a user would: good logs -----------------------------------------------------


def test_session_only_log_has_one_session_per_identity_even_across_a_long_gap(tmp_path):
    path = write(
        tmp_path,
        "clicks.csv",
        "session_id,timestamp,event_type,item_id\n"
        "s1,2024-01-01T10:00:00Z,view,i1\n"
        "s1,2024-01-01T13:00:00Z,view,i2\n"  # 3 h later: still the source's session s1
        "s2,2024-01-01T10:05:00Z,view,i1\n",
    )
    result = ingest(tmp_path, path)
    assert_accounted(result)
    assert sorted(result.events["user_id"]) == ["session:s1", "session:s1", "session:s2"]
    assert result.sessions["session_id"].tolist() == ["s1", "s2"]
    assert result.sessions["user_id"].tolist() == ["session:s1", "session:s2"]
    assert result.metrics["users"] == result.metrics["sessions"] == 2
    assert result.profile["identity"] == "session"


def test_guest_rows_of_a_user_log_are_kept_under_their_session(tmp_path):
    path = write(
        tmp_path,
        "shop.csv",
        HEADER + "u1,s1,2024-01-01T10:00:00Z,view,i1\n"
        ",s1,2024-01-01T10:01:00Z,view,i2\n"  # signed out: stitched to u1
        "u2,s2,2024-01-01T11:00:00Z,view,i1\n"
        ",s3,2024-01-01T12:00:00Z,purchase,i3\n",  # a guest checkout: session:s3
    )
    result = ingest(tmp_path, path)
    assert_accounted(result)
    assert reasons(result) == {}
    assert sorted(result.events["user_id"]) == ["session:s3", "u1", "u1", "u2"]
    assert result.sessions.set_index("session_id")["user_id"].to_dict() == {
        "s1": "u1",
        "s2": "u2",
        "s3": "session:s3",
    }
    assert result.metrics["profile_identity_rows_stitched"] == 1
    assert result.metrics["profile_identity_rows_session"] == 1


def test_an_ordinary_user_log_is_unchanged_by_auto(tmp_path):
    content = HEADER + "u1,s1,2024-01-01T10:00:00Z,view,i1\nu2,,2024-01-01T11:00:00Z,view,i2\n"
    path = write(tmp_path, "log.csv", content)
    auto, user = ingest(tmp_path, path), ingest(tmp_path, path, identity="user")
    pd.testing.assert_frame_equal(auto.events, user.events)
    assert auto.events["user_id"].tolist() == ["u1", "u2"]
    assert auto.profile["identity_decision"]["setting"] == "auto"


# --- bad inputs: a named error, or quarantine reasons with the identity noted ----------------

LOG = HEADER + (
    "u1,s1,2024-01-01T10:00:00Z,view,i1\n"
    ",s1,2024-01-01T10:01:00Z,view,i2\n"
    ",s2,2024-01-01T10:02:00Z,view,i1\n"
    "u2,,2024-01-01T10:03:00Z,view,i3\n"
)
MOSTLY_ANONYMOUS = HEADER + (
    "u1,s1,2024-01-01T10:00:00Z,view,i1\n"
    ",s1,2024-01-01T10:01:00Z,view,i2\n"
    ",s2,2024-01-01T10:02:00Z,view,i1\n"
    ",s3,2024-01-01T10:03:00Z,view,i3\n"
)
NO_SESSIONS = (
    "user_id,timestamp,event_type,item_id\n"
    "u1,2024-01-01T10:00:00Z,view,i1\n"
    ",2024-01-01T10:01:00Z,view,i2\n"
    ",2024-01-01T10:02:00Z,view,i1\n"
)

BAD_INPUTS = [
    # (case, file content, source params, expected error | (reasons, identity, counts))
    (
        "neither a user nor a session column",
        "visitor,timestamp,event_type,item_id\nv1,2024-01-01T10:00:00Z,view,i1\n",
        {},
        r"log\.csv: the log has neither a user_id nor a session_id column after mapping "
        r"\(have: timestamp, event_type, item_id\).*params/ingest\.yaml: source\.columns",
    ),
    (
        "identity session without a session_id column",
        NO_SESSIONS,
        {"identity": "session"},
        r"log\.csv: params/ingest\.yaml: source\.identity is session, but the log has no "
        r"session_id column after mapping \(have: user_id, timestamp, event_type, item_id\)",
    ),
    (
        "identity user without a user_id column",
        "session_id,timestamp,event_type,item_id\ns1,2024-01-01T10:00:00Z,view,i1\n",
        {"identity": "user"},
        r"log\.csv: params/ingest\.yaml: source\.identity is user, but the log has no user_id "
        r"column after mapping.*set source\.identity: session",
    ),
    (
        "a session column with no values: no row has an identity",
        "session_id,timestamp,event_type,item_id\n,2024-01-01T10:00:00Z,view,i1\n ,2024-01-01T10:01:00Z,view,i1\n",
        {},
        ({"missing_session_id;missing_user_id": 2}, "session", (0, 0, 0, 2)),
    ),
    (
        "identity user with user ids missing",
        LOG,
        {"identity": "user"},
        ({"missing_user_id": 2}, "user", (2, 0, 0, 2)),
    ),
    (
        "auto on a mostly anonymous log with sessions: the session is the identity",
        MOSTLY_ANONYMOUS,
        {},
        ({}, "session", (0, 0, 4, 0)),
    ),
    (
        "auto on a mostly anonymous log without sessions: user ids, the rest quarantined",
        NO_SESSIONS,
        {},
        ({"missing_user_id": 2}, "user", (1, 0, 0, 2)),
    ),
    (
        "identity session with a row that has no session id",
        LOG,
        {"identity": "session"},
        ({"missing_session_id;missing_user_id": 1}, "session", (0, 0, 3, 1)),
    ),
    (
        "auto on a user log: guest rows kept, a row with neither quarantined",
        LOG + "u3,s4,2024-01-01T10:04:00Z,view,i1\n,,2024-01-01T10:05:00Z,view,i1\n",
        {},
        ({"missing_user_id": 1}, "user", (3, 1, 1, 1)),
    ),
]


@pytest.mark.parametrize(
    ("content", "source", "expected"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_identity_inputs(tmp_path, content, source, expected):
    path = write(tmp_path, "log.csv", content)
    if isinstance(expected, str):
        with pytest.raises(SourceError, match=expected):
            ingest(tmp_path, path, **source)
        return
    expected_reasons, identity, counts = expected
    result = ingest(tmp_path, path, **source)
    assert_accounted(result)
    assert reasons(result) == expected_reasons
    decision = result.profile["identity_decision"]
    assert (result.profile["identity"], _counts(decision)) == (identity, counts)
    assert decision["setting"] == source.get("identity", "auto")
    assert decision["rows"] == result.metrics["rows_read"] == sum(counts)
    assert result.metrics["profile_identity_rows_without_identity"] == counts[3]
    assert result.metrics["profile_identity_session"] == (identity == "session")


def test_a_jsonl_session_log_is_session_identified(tmp_path):
    path = write(
        tmp_path,
        "clicks.jsonl",
        '{"session_id": 101, "timestamp": "2024-01-01T10:00:00Z", "event_type": "view", "item_id": "i1"}\n'
        '{"session_id": 102, "timestamp": "2024-01-01T10:00:00Z", "event_type": "view", "item_id": "i1"}\n',
    )
    result = ingest(tmp_path, path, fmt="jsonl")
    assert_accounted(result)
    assert sorted(result.events["user_id"]) == ["session:101", "session:102"]
    assert sorted(result.events["session_id"]) == ["101", "102"]
