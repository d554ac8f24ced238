"""Sessions are (user, session id) pairs: a source may reuse session ids across users."""

from __future__ import annotations

from personalab.features.build import features_at
from personalab.features.params import FeaturesParams
from personalab.features.plan import full_plan
from tests.unit.features.helpers import T, approx, by_user, events_frame, t


def test_same_source_session_id_for_two_users_gives_each_their_own_session():
    log = [
        ("a", "s1", t(h=-2), "view", "i1"),
        ("a", "s1", t(h=-2, m=1), "view", "i1"),
        ("b", "s1", t(h=-1), "view", "i2"),
    ]
    table = features_at(events_frame(log), T, full_plan(FeaturesParams(), []))
    assert by_user(table, "sessions_total") == {"a": 1, "b": 1}
    assert by_user(table, "session_duration_max") == approx({"a": 60.0, "b": 0.0})
