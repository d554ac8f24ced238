"""Large synthetic logs in bounded memory: users in chunks, one arrival-ordered file out.

:func:`write_chunked_log` generates the users of a config ``chunk_users`` at a time. Every
chunk shares the item catalogue and taste (drawn once from the seed, as
:func:`~personalab.ingest.synth.generate_log` draws them); chunk 0 continues that generator,
so a config of at most ``chunk_users`` users gives exactly ``generate_log(config).events``,
and chunk ``k > 0`` draws from its own stream ``SeedSequence(seed, spawn_key=(k,))``.
User, bot and event ids are offset per chunk so they never collide (``u{k:06d}`` and
``e{k:08d}`` widen past a million users and 100 million events).

Each chunk's users span the whole period, so chunks written one after another would make
chunk 2's early events look late after chunk 1's last ones. Each chunk is therefore written
to a temporary Parquet part with an arrival key, the running maximum of its timestamps in
file order (the dirt places late and re-sent rows where they arrived, so that is when the
row arrived as far as the late rule can tell), and DuckDB merges the parts out of core:
``ORDER BY arrival, chunk, row``. The late rule then flags in the merged file exactly the
rows it flags within each chunk.
"""

from __future__ import annotations

import resource
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from personalab.core.storage import atomic_path
from personalab.ingest.synth.behaviour import make_events, make_sessions
from personalab.ingest.synth.config import SECONDS_PER_DAY, SynthConfig
from personalab.ingest.synth.dirt import add_dirt, make_bots
from personalab.ingest.synth.drift import drift_users
from personalab.ingest.synth.generate import SyntheticLog
from personalab.ingest.synth.population import Taste, make_items, make_taste, make_users

DEFAULT_CHUNK_USERS = 20_000  # the default config's size: about 1.9 M events, 2 GiB to generate
EVENTS_PER_USER = 90  # about what a user yields over the default 90 days
FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".jsonl": "json",
    ".json": "json",
}
_KEYS = ("_arrival", "_chunk", "_row")  # part-only columns, dropped from the output


@dataclass(frozen=True)
class ChunkSpec:
    """Which users and bots one chunk generates, and where its ids start."""

    index: int
    first_user: int
    n_users: int
    first_bot: int  # counted after all regular users: bot ids are ``u{n_users + first_bot + k}``
    n_bots: int


def users_for_events(n_events: int, n_days: int = 90) -> int:
    """About how many users give ``n_events`` events over ``n_days`` days."""
    return max(1, round(n_events / (EVENTS_PER_USER * n_days / 90)))


def plan_chunks(config: SynthConfig, chunk_users: int = DEFAULT_CHUNK_USERS) -> list[ChunkSpec]:
    """Split the config's users into chunks of ``chunk_users`` and its bots evenly across them."""
    if chunk_users < 1:
        raise ValueError(f"chunk_users must be at least 1, got {chunk_users}")
    n_chunks = -(-config.n_users // chunk_users)
    bots = np.full(n_chunks, config.bot_users // n_chunks)
    bots[: config.bot_users % n_chunks] += 1
    first_bot = np.cumsum(bots) - bots
    return [
        ChunkSpec(
            index=k,
            first_user=k * chunk_users,
            n_users=min(chunk_users, config.n_users - k * chunk_users),
            first_bot=int(first_bot[k]),
            n_bots=int(bots[k]),
        )
        for k in range(n_chunks)
    ]


def make_catalogue(config: SynthConfig) -> tuple[pd.DataFrame, Taste, np.random.Generator]:
    """Items and taste, drawn as ``generate_log`` draws them, and the generator for chunk 0."""
    rng = np.random.default_rng(config.seed)
    items = make_items(config, rng)
    taste = make_taste(items, rng)
    return items, taste, rng


def chunk_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of chunk ``index > 0``: an independent stream spawned from the seed."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))


def generate_chunk(
    config: SynthConfig,
    spec: ChunkSpec,
    items: pd.DataFrame,
    taste: Taste,
    rng: np.random.Generator,
    first_event: int = 0,
) -> SyntheticLog:
    """The raw log of one chunk's users (``generate_log``'s steps), ids offset by the spec.

    ``first_event`` is the number of distinct events of the chunks before (re-sent
    duplicates share their original's id, so they do not count).
    """
    sub = config.model_copy(update={"n_users": spec.n_users, "bot_users": spec.n_bots})
    users = make_users(sub, rng, taste)
    if spec.first_user:
        ids = np.array([f"u{spec.first_user + k:06d}" for k in range(spec.n_users)], dtype=object)
        users["user_id"] = ids
        users["truth"] = users["truth"].assign(user_id=ids)
    drift_users(sub, users, rng)
    sessions = make_sessions(sub, users, rng)
    clean = make_events(sub, users, sessions, items, taste, rng)
    bots = make_bots(sub, items, rng, first_user=config.n_users + spec.first_bot)
    events = pd.concat([clean, bots["events"]], ignore_index=True)
    stamp = events["timestamp_s"]
    events = events.loc[(stamp >= 0) & (stamp < sub.n_days * SECONDS_PER_DAY)]
    events = events.reset_index(drop=True)
    truth = pd.concat([users["truth"], bots["truth"]], ignore_index=True)
    events, counts = add_dirt(sub, events, rng)
    if first_event:
        number = events["event_id"].str.slice(1).astype("int64").to_numpy() + first_event
        events["event_id"] = np.array([f"e{k:08d}" for k in number], dtype=object)
    counts["bot_events"] = len(bots["events"])
    counts["clean_events"] = len(clean)
    return SyntheticLog(events=events, truth=truth, items=items, counts=counts)


def arrival_keys(timestamps: pd.Series) -> np.ndarray:
    """When each row arrived, as far as the order tells: the running max of the valid
    timestamps in file order (int64 microseconds; rows before the first valid one get it)."""
    parsed = pd.to_datetime(timestamps, format="%Y-%m-%dT%H:%M:%S.%fZ", errors="coerce", utc=True)
    micros = parsed.to_numpy(dtype="datetime64[us]").astype("int64")  # NaT: int64 min
    running = np.maximum.accumulate(micros) if micros.size else micros
    valid = running > np.iinfo(np.int64).min
    if valid.any():
        running = np.where(valid, running, running[valid][0])
    return running


def write_chunked_log(
    config: SynthConfig,
    path: Path | str,
    *,
    chunk_users: int = DEFAULT_CHUNK_USERS,
    memory_limit: str = "4GB",
    threads: int | None = None,
    truth_path: Path | str | None = None,
    rename: dict[str, str] | None = None,
) -> dict:
    """Write the config's raw log to ``path`` in arrival order, ``chunk_users`` users at a time.

    The file type follows the extension (Parquet, CSV or JSON lines). DuckDB merges the chunks
    within ``memory_limit`` on ``threads`` threads (None: all cores), spilling to a temporary
    folder beside ``path``. ``truth_path`` (Parquet) also gets the truth per user (users, then
    bots, as ``generate_log`` orders it). Returns events, users, bots, chunks, seconds (in
    all, generating, merging), peak RSS (GiB) and the dirt counts.
    """
    import duckdb

    start = time.perf_counter()
    path = Path(path)
    fmt = FORMATS.get(path.suffix)
    if fmt is None:
        raise ValueError(f"{path}: unknown extension; use .parquet, .csv or .jsonl")
    specs = plan_chunks(config, chunk_users)
    path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{path.name}.parts-", dir=path.parent))
    try:
        columns, counts = _write_parts(config, specs, work)
        generated = time.perf_counter()
        con = duckdb.connect(
            config={
                "memory_limit": memory_limit,
                "temp_directory": str(work / "spill"),
                "preserve_insertion_order": True,
                **({"threads": threads} if threads else {}),
            }
        )
        try:
            con.execute("SET enable_progress_bar = false")
            select = ", ".join(
                f"{_quote(c)} AS {_quote((rename or {}).get(c, c))}" for c in columns
            )
            parts = _sql_list(sorted(work.glob("events-*.parquet")))
            options = {
                "parquet": "FORMAT parquet",
                "csv": "FORMAT csv, HEADER",
                "json": "FORMAT json",
            }
            with atomic_path(path) as tmp:
                con.execute(
                    f"COPY (SELECT {select} FROM read_parquet({parts}) "
                    f"ORDER BY _arrival, _chunk, _row) TO '{_sql_str(tmp)}' ({options[fmt]})"
                )
            if truth_path is not None:
                truths = _sql_list(sorted(work.glob("truth-*.parquet")))
                with atomic_path(truth_path) as tmp:
                    con.execute(
                        f"COPY (SELECT * EXCLUDE (_chunk, _row) FROM read_parquet({truths}) "
                        f"ORDER BY is_bot, _chunk, _row) TO '{_sql_str(tmp)}' (FORMAT parquet)"
                    )
        finally:
            con.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "path": str(path),
        "events": counts["rows"],
        "users": config.n_users,
        "bots": config.bot_users,
        "chunks": len(specs),
        "seconds": round(time.perf_counter() - start, 2),
        "seconds_generate": round(generated - start, 2),
        "seconds_merge": round(time.perf_counter() - generated, 2),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
        "counts": counts,
    }


def _write_parts(
    config: SynthConfig, specs: list[ChunkSpec], folder: Path
) -> tuple[list[str], dict[str, int]]:
    """Generate each chunk and write its events (with arrival keys) and truth as Parquet parts."""
    items, taste, rng = make_catalogue(config)
    totals: dict[str, int] = {}
    columns: list[str] = []
    first_event = 0
    for spec in specs:
        chunk_gen = rng if spec.index == 0 else chunk_rng(config.seed, spec.index)
        log = generate_chunk(config, spec, items, taste, chunk_gen, first_event)
        first_event += log.counts["rows"] - log.counts["duplicates"]
        for key, value in log.counts.items():
            totals[key] = totals.get(key, 0) + value
        events = log.events.assign(
            _arrival=arrival_keys(log.events["timestamp"]),
            _chunk=spec.index,
            _row=np.arange(len(log.events), dtype=np.int64),
        )
        columns = list(log.events.columns)
        _write_part(events, folder / f"events-{spec.index:06d}.parquet")
        truth = log.truth.assign(_chunk=spec.index, _row=np.arange(len(log.truth)))
        _write_part(truth, folder / f"truth-{spec.index:06d}.parquet")
        del log, events, truth
    return columns, totals


def _write_part(frame: pd.DataFrame, path: Path) -> None:
    """One part with a fixed schema, so every part reads alike (no all-null column typed null)."""
    fields = []
    for name, dtype in frame.dtypes.items():
        if name in _KEYS:
            arrow = pa.int64()
        elif pd.api.types.is_bool_dtype(dtype):
            arrow = pa.bool_()
        elif pd.api.types.is_float_dtype(dtype):
            arrow = pa.float64()
        elif isinstance(dtype, pd.DatetimeTZDtype):
            arrow = pa.timestamp(dtype.unit, tz="UTC")
        else:
            arrow = pa.string()
        fields.append(pa.field(name, arrow))
    arrays = [_arrow_array(frame[f.name], f.type) for f in fields]
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    pq.write_table(table, path)


def _arrow_array(column: pd.Series, arrow: pa.DataType) -> pa.Array:
    """A column as Arrow (through its own Arrow conversion where it has one: tz-aware times)."""
    values = column.array
    if hasattr(values, "__arrow_array__"):
        return pa.array(values, type=arrow)
    return pa.array(column.to_numpy(), type=arrow, from_pandas=True)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(value: Path | str) -> str:
    return str(value).replace("'", "''")


def _sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join(f"'{_sql_str(p)}'" for p in paths) + "]"
