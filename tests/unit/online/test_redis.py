"""The online store in a real Redis server (the Debian package, started by `make redis`): the
same users, rows and answers as the SQLite file it was loaded from, and a new load replaces the
old one."""

from __future__ import annotations

import subprocess
import sys

import pytest

from personalab.online.features import OnlineFeatures
from personalab.online.parity import live_events, same
from personalab.online.redis_store import STORE_ENV, RedisStore, load_into_redis, open_store
from personalab.online.store import FILE, OnlineStore
from personalab.tools.server import PORT_ATTEMPTS, free_port
from tests.conftest import ROOT
from tests.unit.online.helpers import instants, plan_for, shape, store_of

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def redis_url():
    """A redis-server of its own, as `make redis` starts one; shut down at the end."""
    import redis

    for _ in range(PORT_ATTEMPTS):  # a free port can be taken before redis-server binds it
        port = free_port()
        done = subprocess.run(
            ["make", "-s", "-C", str(ROOT), "redis", f"REDIS_PORT={port}"],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        if "did not answer" not in done.stderr:  # daemonized, it logs nothing of a failed bind
            break
    assert done.returncode == 0, done.stderr
    url = f"redis://127.0.0.1:{port}/0"
    yield url
    redis.Redis.from_url(url).shutdown(nosave=True)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    events = shape("funnel")
    as_of, at = instants(events)
    past = events[events["timestamp"] < as_of]
    path = tmp_path_factory.mktemp("store") / FILE
    return store_of(past, plan_for(past), as_of, path), events, as_of, at


def test_redis_serves_the_store_it_was_loaded_with(redis_url, stored):
    sqlite, events, as_of, at = stored
    loaded = load_into_redis(sqlite, redis_url, name="t1")
    assert loaded["users"] == len(sqlite)
    store = RedisStore(redis_url, name="t1")
    assert (len(store), store.as_of_ns, store.columns) == (
        len(sqlite),
        sqlite.as_of_ns,
        sqlite.columns,
    )
    assert store.plan == sqlite.plan
    for user_id in events[events["timestamp"] < as_of]["user_id"].unique():
        a, b = store.user(user_id), sqlite.user(user_id)
        assert a.position == b.position and a.history.ns.tolist() == b.history.ns.tolist()
        assert a.history.item_id.tolist() == b.history.item_id.tolist()
        assert all(same(a.row[c], b.row[c]) for c in sqlite.columns)
    assert store.user("nobody") is None
    live = events[(events["timestamp"] >= as_of) & (events["timestamp"] < at)]
    for user_id in live["user_id"].unique()[:5]:
        visit = live_events(live[live["user_id"] == user_id])
        a = OnlineFeatures(store).row(user_id, visit, at.isoformat())
        b = OnlineFeatures(sqlite).row(user_id, visit, at.isoformat())
        assert all(same(a[c], b[c]) for c in sqlite.columns), user_id


def test_a_new_load_replaces_the_old_one_and_the_environment_picks_redis(
    redis_url, stored, monkeypatch
):
    import redis

    sqlite = stored[0]
    first = load_into_redis(sqlite, redis_url, name="t2")["generation"]
    second = load_into_redis(sqlite, redis_url, name="t2")["generation"]
    client = redis.Redis.from_url(redis_url)
    assert client.get("t2:current").decode() == second != first
    assert not list(client.scan_iter(match=f"t2:{first}:*"))  # the old generation is gone
    monkeypatch.setenv(STORE_ENV, redis_url)
    with pytest.raises(FileNotFoundError, match="no online store named 'personalab'"):
        open_store(sqlite.path)  # nothing loaded under the default name
    load_into_redis(sqlite, redis_url)
    assert isinstance(open_store(sqlite.path), RedisStore)
    monkeypatch.delenv(STORE_ENV)
    assert isinstance(open_store(sqlite.path), OnlineStore)


def test_the_command_line_loads_an_exported_folder(redis_url, stored, tmp_path):
    sqlite = stored[0]
    folder = tmp_path / "personalise"
    (folder / "artifacts").mkdir(parents=True)
    (folder / "artifacts" / FILE).write_bytes(sqlite.path.read_bytes())
    done = subprocess.run(
        [sys.executable, "-m", "personalab.online.redis_store", redis_url, str(folder), "--name", "t3"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"loaded {len(sqlite):,} users into {redis_url} as t3:" in done.stdout
    assert len(RedisStore(redis_url, name="t3")) == len(sqlite)
    missing = subprocess.run(
        [sys.executable, "-m", "personalab.online.redis_store", redis_url, str(tmp_path / "none")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert missing.returncode == 2 and "no online store" in missing.stderr
