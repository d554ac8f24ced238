"""The online store in Redis: one store for a fleet of model servers.

The export stage writes the store as a SQLite file inside ``models/personalise``; each server
then reads its own copy. For several servers (hosts), ``make redis-load`` copies that file into
one Redis server (:func:`load_into_redis`) and ``make serve ONLINE_STORE=redis://host:6379/0``
makes every worker read the store from there (:data:`STORE_ENV`, read by
:func:`open_store`).

Layout, under a name (default ``personalab``): ``<name>:current`` holds the generation being
served; generation ``g`` has the hashes ``<name>:<g>:meta`` (key -> JSON), ``<name>:<g>:reference``
(name -> array bytes) and ``<name>:<g>:user:<user_id>`` (position, row, events, sessions,
history; the SQLite file's columns). A load writes a new generation, then switches
``current`` to it in one command and deletes the old one: servers started before the switch
keep reading theirs until it is deleted, so restart them after a load.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from personalab.online.store import OnlineStore, StoreBase, StoredUser

STORE_ENV = "PERSONALAB_ONLINE_STORE"
NAME = "personalab"
FIELDS = ("position", "row", "events", "sessions", "history")


def _client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=10)


def load_into_redis(store: OnlineStore, url: str, name: str = NAME) -> dict[str, Any]:
    """Copy ``store`` into the Redis server at ``url`` as a new generation and serve it; the
    figures of the load (users, generation)."""
    client = _client(url)
    generation = f"{store.as_of_ns}-{os.getpid()}-{client.incr(f'{name}:generations')}"
    key = f"{name}:{generation}"
    meta, reference = store.tables()
    client.hset(f"{key}:meta", mapping={**meta, "users": str(len(store))})
    client.hset(f"{key}:reference", mapping=reference)
    users = 0
    for rows in store.users():
        pipe = client.pipeline(transaction=False)
        for user_id, *values in rows:
            pipe.hset(f"{key}:user:{user_id}", mapping=dict(zip(FIELDS, values, strict=True)))
        pipe.execute()
        users += len(rows)
    old = client.getset(f"{name}:current", generation)
    if old is not None:
        drop_generation(client, name, old.decode())
    return {"users": users, "generation": generation}


def drop_generation(client: Any, name: str, generation: str) -> None:
    """Delete every key of an old generation."""
    batch = []
    for key in client.scan_iter(match=f"{name}:{generation}:*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            client.delete(*batch)
            batch.clear()
    if batch:
        client.delete(*batch)


class RedisStore(StoreBase):
    """The store a Redis server serves (its current generation), read like an
    :class:`~personalab.online.store.OnlineStore`."""

    def __init__(self, url: str, name: str = NAME):
        self.url, self.name = url, name
        self._redis = None
        current = self.client.get(f"{name}:current")
        if current is None:
            raise FileNotFoundError(
                f"{url}: no online store named {name!r} (load one with `make redis-load`)"
            )
        self.key = f"{name}:{current.decode()}"
        meta = {k.decode(): v.decode() for k, v in self.client.hgetall(f"{self.key}:meta").items()}
        self.n_users = int(meta.pop("users"))
        arrays = {k.decode(): v for k, v in self.client.hgetall(f"{self.key}:reference").items()}
        self._setup(meta, arrays, f"{url} ({self.key})")
        self.path = None

    @property
    def client(self):
        if self._redis is None:  # one connection pool per process (not across a fork)
            self._redis = _client(self.url)
        return self._redis

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_redis": None}

    def user(self, user_id: str) -> StoredUser | None:
        found = self.client.hmget(f"{self.key}:user:{user_id}", FIELDS)
        if found[0] is None:
            return None
        position, row, events, sessions, history = found
        return self._stored(int(position), row, int(events), sessions.decode(), history)

    def __len__(self) -> int:
        return self.n_users


def open_store(path: Path | str) -> StoreBase:
    """The store a server reads: the Redis one :data:`STORE_ENV` names (a ``redis://`` URL),
    else the file at ``path`` (the copy shipped in the model folder)."""
    url = os.environ.get(STORE_ENV)
    if url:
        return RedisStore(url)
    return OnlineStore(path)


def main(argv: list[str] | None = None) -> int:
    """``python -m personalab.online.redis_store URL [FOLDER]``: load the online store of an
    exported ``models/personalise`` (default) into the Redis server at URL."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m personalab.online.redis_store")
    parser.add_argument("url", help="the Redis server, e.g. redis://127.0.0.1:6379/0")
    parser.add_argument("folder", nargs="?", default="models/personalise", type=Path)
    parser.add_argument("--name", default=NAME, help="the store's name in Redis")
    args = parser.parse_args(argv)
    path = args.folder / "artifacts" / "online.sqlite"
    if not path.is_file():
        parser.error(f"{path}: no online store (run `make repro`; personalise.online_store)")
    loaded = load_into_redis(OnlineStore(path), args.url, args.name)
    print(f"loaded {loaded['users']:,} users into {args.url} as {args.name}:{loaded['generation']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
