"""The online store: every user's features-stage row and history at ``S``, read back by id."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from personalab.features.build import features_at
from personalab.online.features import OnlineFeatures
from personalab.online.live import LiveEventError
from personalab.online.parity import same
from personalab.online.row import online_row
from personalab.online.store import FILE, OnlineStore
from tests.unit.online.helpers import instants, plan_for, shape, store_of


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    events = shape("funnel")
    as_of, _ = instants(events)
    past = events[events["timestamp"] < as_of]
    plan = plan_for(past)
    path = tmp_path_factory.mktemp("store") / FILE
    return store_of(past, plan, as_of, path), features_at(past, as_of, plan), past, as_of


def test_the_store_holds_every_user_s_row_and_history_at_s(built):
    store, table, past, as_of = built
    assert len(store) == len(table) == past["user_id"].nunique()
    assert store.events == len(past)
    assert store.as_of_ns == as_of.value
    assert store.columns == [c for c in table.columns if c not in ("user_id", "cutoff")]
    for _, expected in table.iterrows():
        user = store.user(expected["user_id"])
        assert all(same(user.row[c], expected[c]) for c in store.columns), expected["user_id"]
        mine = past[past["user_id"] == expected["user_id"]]
        assert (
            user.history.ns.tolist() == mine["timestamp"].dt.as_unit("ns").astype("int64").tolist()
        )
        assert user.history.item_id.tolist() == [
            None if pd.isna(v) else str(v) for v in mine["item_id"]
        ]
        assert user.history.session_id.tolist() == mine["session_id"].tolist()


def test_a_row_recomputed_at_s_from_the_stored_history_is_the_stored_row(built):
    store, table, _, as_of = built
    for user_id in table["user_id"].head(25):
        user = store.user(user_id)
        row = online_row(
            user.history, as_of.value, store.plan, store.reference.for_user(user.position)
        )
        assert all(same(row[c], user.row[c]) for c in store.columns), user_id


def test_requests_by_id_without_events_at_s_get_the_stored_row(built):
    store, table, _, _ = built
    online = OnlineFeatures(store)
    user_id = table["user_id"].iloc[3]
    stored = store.user(user_id).row
    assert all(same(online.row(user_id)[c], stored[c]) for c in store.columns)
    assert online.row("never-seen") is None
    frame = online.frame(pd.DataFrame({"user_id": [user_id, "never-seen"]}))
    assert frame["user_id"].tolist() == [user_id, "never-seen"]
    assert frame.drop(columns="user_id").iloc[1].isna().all()
    assert frame.loc[0, "days_since_last_event"] == store.user(user_id).row["days_since_last_event"]


def test_a_request_cannot_describe_a_user_before_what_is_known(built):
    store, table, _, as_of = built
    online = OnlineFeatures(store)
    earlier = (as_of - pd.Timedelta(hours=1)).isoformat()
    with pytest.raises(LiveEventError, match="at .* is before the latest event known"):
        online.row(table["user_id"].iloc[0], None, earlier)
    live = [{"timestamp": (as_of + pd.Timedelta(hours=2)).isoformat(), "event_type": "view"}]
    with pytest.raises(LiveEventError, match="before the latest event known"):
        online.row(table["user_id"].iloc[0], live, (as_of + pd.Timedelta(hours=1)).isoformat())


def test_a_store_of_another_schema_or_no_store_is_a_clear_error(built, tmp_path):
    store = built[0]
    with pytest.raises(FileNotFoundError, match="no online store"):
        OnlineStore(tmp_path / FILE)
    copy = tmp_path / "old.sqlite"
    copy.write_bytes(store.path.read_bytes())
    with sqlite3.connect(copy) as db:
        db.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    with pytest.raises(ValueError, match="store schema 0, this code reads"):
        OnlineStore(copy)
