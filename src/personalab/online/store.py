"""The online store: one SQLite file shipped inside ``models/personalise``.

Built by the export stage at the instant ``S`` just after the log's last event
(:func:`build_store`), it holds for every user:

- ``row``: their features-stage row at ``S`` (JSON; what a request without live events, at
  ``S``, is scored on);
- ``history``: their events before ``S`` (an Arrow IPC stream of
  :data:`personalab.online.history.COLUMNS`), the state a request's live events are folded into;

and once for everybody, the features plan (so the online row has the stage's columns) and the
:class:`~personalab.online.reference.Reference` population. :class:`OnlineStore` opens it
read-only; a server worker reads a user's history by primary key per request, and nothing else
is loaded at start (the population arrays: a few hundred KB for 20,000 users).
"""

from __future__ import annotations

import io
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from personalab.features.build import features_at
from personalab.features.params import FeaturesParams
from personalab.features.plan import FeaturesPlan
from personalab.features.query import DAY_NS, Events, before
from personalab.features.support import Support
from personalab.online.catalogue import PREFIX as CATALOGUE
from personalab.online.catalogue import Catalogue, catalogue_arrays
from personalab.online.history import (
    CODED,
    COLUMNS,
    FLOATS,
    History,
    Vocabulary,
    encode,
    local_codes,
    pack,
    unpack,
)
from personalab.online.moving import PREFIX as MOVING
from personalab.online.moving import moving_arrays
from personalab.online.reference import DAYS, NONE_NS, WINDOW, Reference, ranked_columns

FILE = "online.sqlite"
#: the features params that say where, not what (left out of the stored plan)
ENGINE_KEYS = ("engine", "duckdb", "spark")
SCHEMA_VERSION = 1


def plan_to_json(plan: FeaturesPlan) -> dict[str, Any]:
    support = plan.support
    return {
        # not where it was computed: the store is the same whichever engine built it
        "params": plan.params.model_dump(mode="json", exclude=set(ENGINE_KEYS)),
        "trend_days": plan.trend_days,
        "devices": list(plan.devices),
        "categories": list(plan.categories),
        "left_out": dict(support.left_out),
        "segments": list(support.segments),
        "weights": dict(support.weights),
        "dropped_weights": list(support.dropped_weights),
    }


def plan_from_json(data: dict[str, Any]) -> FeaturesPlan:
    support = Support(
        dict(data["left_out"]),
        tuple(data["segments"]),
        dict(data["weights"]),
        tuple(data["dropped_weights"]),
    )
    params = FeaturesParams.model_validate(data["params"])
    return FeaturesPlan(
        params, data["trend_days"], None, data["devices"], data["categories"], support
    )


def build_store(
    events: Events, plan: FeaturesPlan, as_of: pd.Timestamp, path: Path, session_gap_ns: int
) -> dict[str, Any]:
    """Write the store of every user with an event before ``as_of`` to ``path``; its figures
    (users, events, seconds) for the stage's metrics."""
    t_ns = int(as_of.value)
    table = features_at(events, as_of, plan, events.engine).drop(columns=["cutoff"])
    h = before(events.table, t_ns)
    # every column in the order (nulls last on each engine): ties in time keep one order, so the
    # file has the same bytes whichever engine built it
    kept = h.select("user_id", *COLUMNS)
    by = [kept[c].asc(nulls_first=False) for c in ("user_id", *COLUMNS)]
    arrow = events.engine.backend.to_pyarrow(kept.order_by(by))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    users = arrow.column("user_id").to_numpy(zero_copy_only=False).astype(str)
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]]) if users.size else np.zeros(0)
    ends = np.r_[starts[1:], users.size].astype(int)
    order = {str(u): i for i, u in enumerate(table["user_id"])}
    reference = reference_arrays(arrow, table, order, plan, t_ns)
    reference |= catalogue_arrays(events, t_ns)
    columns = {name: arrow.column(name).to_numpy() for name in ("ns", *FLOATS)}
    vocabulary = {}
    for name in CODED:
        columns[name], vocabulary[name] = encode(arrow.column(name))
    sessions = arrow.column("session_id").to_numpy(zero_copy_only=False)
    rows = RowCodec(table.drop(columns=["user_id"]))
    meta = {
        "schema_version": SCHEMA_VERSION,
        "as_of_ns": t_ns,
        "events": int(arrow.num_rows),
        "session_gap_ns": int(session_gap_ns),
        "plan": plan_to_json(plan),
        "medians": category_medians(events, t_ns),
        "rows": rows.to_json(),
        "vocabulary": vocabulary,
    }

    def user_rows():
        for a, e in zip(starts, ends, strict=True):
            part = {name: values[a:e] for name, values in columns.items()}
            part["session_id"], ids = local_codes(sessions[a:e])
            history, session_ids = pack(part, ids)
            position = order[users[a]]
            yield users[a], position, rows.pack(position), int(e - a), session_ids, history

    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("CREATE TABLE reference (name TEXT PRIMARY KEY, data BLOB NOT NULL)")
        db.execute(
            "CREATE TABLE users (user_id TEXT PRIMARY KEY, position INTEGER NOT NULL, "
            "row BLOB NOT NULL, events INTEGER NOT NULL, sessions TEXT NOT NULL, "
            "history BLOB NOT NULL)"
        )
        db.executemany(
            "INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()]
        )
        db.executemany(
            "INSERT INTO reference VALUES (?, ?)",
            [(name, array_bytes(a)) for name, a in reference.items()],
        )
        db.executemany("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)", user_rows())
    return {"users": len(order), "events": int(arrow.num_rows)}


def store_of_frame(
    events: pd.DataFrame, plan: FeaturesPlan, as_of: pd.Timestamp, path: Path, session_gap_ns: int
) -> dict[str, Any]:
    """:func:`build_store` of canonical events held in memory, on an in-memory DuckDB."""
    from personalab.engine import connect
    from personalab.features.query import events_on

    engine = connect()
    try:
        return build_store(
            Events(engine, events_on(engine, events)), plan, as_of, path, session_gap_ns
        )
    finally:
        engine.close()


class RowCodec:
    """The features-stage rows at ``S``: the numeric columns as float64 bytes, the string
    columns (``rfm_segment``, ``dominant_segment``) as codes into their values."""

    def __init__(self, table: pd.DataFrame | None, spec: dict[str, Any] | None = None):
        if spec is None:
            spec = {
                "columns": list(table.columns),
                "integers": [c for c in table if pd.api.types.is_integer_dtype(table[c])],
                "strings": {
                    c: sorted(table[c].dropna().astype(str).unique().tolist())
                    for c in table
                    if not pd.api.types.is_numeric_dtype(table[c])
                },
            }
        self.spec = spec
        self.columns: list[str] = spec["columns"]
        self.strings: dict[str, list[str]] = spec["strings"]
        self.integers = set(spec["integers"])
        if table is not None:
            block = {
                c: table[c].map({v: i for i, v in enumerate(self.strings[c])}).to_numpy(float)
                if c in self.strings
                else table[c].to_numpy(dtype=float, na_value=np.nan)
                for c in self.columns
            }
            self.block = np.column_stack([block[c] for c in self.columns]) if block else None

    def to_json(self) -> dict[str, Any]:
        return self.spec

    def pack(self, position: int) -> bytes:
        return self.block[position].astype("<f8").tobytes()

    def unpack(self, data: bytes) -> dict[str, Any]:
        values = np.frombuffer(data, dtype="<f8")
        out: dict[str, Any] = {}
        for name, value in zip(self.columns, values.tolist(), strict=True):
            if name in self.strings:
                out[name] = self.strings[name][int(value)]
            elif name in self.integers:
                out[name] = int(value)
            else:
                out[name] = value
        return out


def reference_arrays(
    arrow: pa.Table, table: pd.DataFrame, order: dict[str, int], plan: FeaturesPlan, t_ns: int
) -> dict[str, np.ndarray]:
    """The :class:`~personalab.online.reference.Reference` arrays, by name: every stored user's
    event times (``times/``), ranked values at ``S`` (``values/``), the times each window count
    loses an event or session (``leaving/<column>/times``, ``.../who``) and the clicks."""
    frame = arrow.select(["user_id", "ns", "session_id", "event_type"]).to_pandas()
    who = frame["user_id"].map(order).to_numpy()
    ns, kind = frame["ns"].to_numpy(), frame["event_type"].to_numpy(dtype=object)
    n = len(order)
    out: dict[str, np.ndarray] = {}
    for name, pick, reduce in (
        ("last_ns", slice(None), np.maximum),
        ("first_ns", slice(None), np.minimum),
        ("last_purchase_ns", kind == "purchase", np.maximum),
    ):
        times = np.full(n, NONE_NS if reduce is np.maximum else np.iinfo(np.int64).max)
        reduce.at(times, who[pick], ns[pick])
        out[f"times/{name}"] = times
    longest = plan.params.windows_days[-1]
    monetary = plan.support.keeps("rfm_monetary")
    for name in ranked_columns(longest, monetary, plan.support.weights):
        if name in DAYS:
            continue
        out[f"values/{name}"] = table[name].to_numpy(dtype=float, na_value=np.nan)
        window = WINDOW.fullmatch(name)
        if window is None:
            continue
        kind_of, days = window.group(1), int(window.group(2))
        if kind_of == "sessions":
            ends = frame.assign(_who=who).groupby(["_who", "session_id"], dropna=False)["ns"].max()
            at, by = ends.to_numpy(), ends.index.get_level_values("_who").to_numpy()
        else:
            pick = slice(None) if kind_of == "events" else kind == "purchase"
            at, by = ns[pick], who[pick]
        keep = at >= t_ns - days * DAY_NS
        sort = np.argsort(at[keep], kind="stable")
        out[f"leaving/{name}/times"] = at[keep][sort].astype(np.int64)
        out[f"leaving/{name}/who"] = by[keep][sort].astype(np.int64)
    window = t_ns - plan.params.segments.window_days * DAY_NS
    out["clicks"] = np.sort(ns[(kind == "click") & (ns >= window)]).astype(np.int64)
    seg = plan.params.segments
    names = set(plan.support.weights)
    return out | moving_arrays(arrow, who, n, names, plan.trend_days, seg.abandon_hours, t_ns)


def category_medians(events: Events, t_ns: int) -> list[list[Any]]:
    """``[[category or None, median], ...]``: the catalogue's category medians at ``t_ns``, as
    ``taste_query.price_sensitivity`` takes them."""
    from personalab.features.taste_query import catalogue

    items = catalogue(before(events.table, t_ns))
    medians = items.group_by("category").aggregate(median=items.price.median())
    frame = events.engine.fetch(medians, order_by=["category"])
    return [
        [None if pd.isna(c) else str(c), float(m)]
        for c, m in zip(frame["category"], frame["median"], strict=True)
        if not pd.isna(m)
    ]


def array_bytes(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return out.getvalue()


@dataclass(frozen=True)
class StoredUser:
    position: int  # among the stored users (the population arrays' order)
    row: dict[str, Any]  # the features-stage row at S
    history: History  # the events before S


class StoreBase:
    """What every store holds once for everybody (the plan, the population, the codes), read
    from ``meta`` (key -> JSON text) and ``arrays`` (name -> ``np.save`` bytes); the users are
    read by the subclass (:class:`OnlineStore`: the SQLite file; a Redis store:
    :mod:`personalab.online.redis_store`)."""

    def _setup(self, meta: dict[str, str], arrays: dict[str, bytes], where: str) -> None:
        meta = {k: json.loads(v) for k, v in meta.items()}
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(
                f"{where}: store schema {meta.get('schema_version')}, this code reads "
                f"{SCHEMA_VERSION}; run the export stage again"
            )
        self.as_of_ns: int = meta["as_of_ns"]
        self.session_gap_ns: int = meta["session_gap_ns"]
        self.plan = plan_from_json(meta["plan"])
        self.rows = RowCodec(None, meta["rows"])
        self.columns: list[str] = self.rows.columns
        self.events: int = meta["events"]
        self.vocabulary = Vocabulary(meta["vocabulary"])
        loaded = {
            name: np.load(io.BytesIO(data), allow_pickle=False) for name, data in arrays.items()
        }

        def under(prefix: str) -> dict[str, np.ndarray]:
            return {k.removeprefix(prefix): v for k, v in loaded.items() if k.startswith(prefix)}

        leaving = under("leaving/")
        windows = {k.rsplit("/", 1)[0] for k in leaving}
        medians = {c: m for c, m in meta["medians"]}
        items = under(CATALOGUE)
        self.reference = Reference(
            self.as_of_ns,
            under("times/"),
            under("values/"),
            {w: (leaving[f"{w}/times"], leaving[f"{w}/who"]) for w in windows},
            medians,
            loaded["clicks"],
            Catalogue(items, medians) if items else None,
            under(MOVING),
        )

    def _stored(self, position: int, row: bytes, events: int, sessions, history: bytes):
        history = unpack(history, int(events), json.loads(sessions), self.vocabulary)
        return StoredUser(int(position), self.rows.unpack(row), history)


class OnlineStore(StoreBase):
    """A store file opened read-only: the plan, the population, and each user's row and history
    by id (one connection per process: SQLite connections do not cross a fork)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no online store (run the export stage)")
        self._db: sqlite3.Connection | None = None
        self._setup(*self.tables(), str(self.path))

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            uri = f"{self.path.resolve().as_uri()}?mode=ro&immutable=1"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        return self._db

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_db": None}

    def user(self, user_id: str) -> StoredUser | None:
        """The user's position, row at ``S`` (None values: NaN) and history; None: not
        stored."""
        found = self.db.execute(
            "SELECT position, row, events, sessions, history FROM users WHERE user_id = ?",
            (str(user_id),),
        ).fetchone()
        return None if found is None else self._stored(*found)

    def users(self, batch: int = 5000):
        """Every stored user's id and record (position, row, events, sessions, history), in
        batches of ``batch`` (for copying the store elsewhere)."""
        cursor = self.db.execute(
            "SELECT user_id, position, row, events, sessions, history FROM users"
        )
        while rows := cursor.fetchmany(batch):
            yield rows

    def tables(self) -> tuple[dict[str, str], dict[str, bytes]]:
        """The ``meta`` (key: JSON) and ``reference`` (name: array bytes) tables as stored."""
        meta = dict(self.db.execute("SELECT key, value FROM meta"))
        return meta, dict(self.db.execute("SELECT name, data FROM reference"))

    def __len__(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM users").fetchone()[0])
