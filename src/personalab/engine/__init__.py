"""Where the data stages' relational work runs: DuckDB (embedded, out of core) or Spark.

The ingest rules (:mod:`personalab.ingest.sessions`, ``bots``, ``duplicates``, the late rule of
``validation``) are Ibis expressions, written once and compiled by Ibis to the engine named in
a stage's params::

    engine: duckdb            # or spark
    duckdb: {memory_limit: 8GB, threads: null, spill_dir: null}
    spark: {master: "local[*]", remote: null, config: {}}

:func:`connect` opens the engine; :class:`Engine` moves frames in (as Arrow, so a float NaN is
a null on every engine) and results out, ordered as the caller asks (engines order rows only
when told to).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field

#: environment variables that override ``spark.master`` and ``spark.remote``
SPARK_MASTER_ENV, SPARK_REMOTE_ENV = "PERSONALAB_SPARK_MASTER", "SPARK_REMOTE"


class DuckDBParams(BaseModel):
    """DuckDB's limits: past ``memory_limit`` it spills to ``spill_dir``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    memory_limit: str = Field("8GB", pattern=r"^\s*\d+(\.\d+)?\s*[KMGT]i?B\s*$")
    threads: int | None = Field(None, ge=1)  # null: every core
    spill_dir: str | None = None  # null: <system temp>/personalab-spill


class SparkParams(BaseModel):
    """Where Spark runs: a master URL (``local[*]``, ``spark://host:7077``, ``yarn``) or a Spark
    Connect address (``sc://host:15002``); ``config`` is passed to the session builder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    master: str = "local[*]"
    remote: str | None = None
    config: dict[str, str | int | float | bool] = {}


class EngineParams(BaseModel):
    """The ``engine``, ``duckdb`` and ``spark`` keys a data stage's params carry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: Literal["duckdb", "spark"] = "duckdb"
    duckdb: DuckDBParams = DuckDBParams()
    spark: SparkParams = SparkParams()


@dataclass
class Engine:
    """An Ibis backend and its name; :meth:`table` and :meth:`fetch` cross the border."""

    name: str
    backend: Any  # ibis.backends.BaseBackend
    _names: list[str] = field(default_factory=list)
    _views: dict[str, Any] = field(default_factory=dict)  # Spark: cached frames by view name
    spill: Path | None = None  # DuckDB: this connection's own spill folder (removed at close)

    def table(self, frame: pd.DataFrame | pa.Table):
        """An Ibis table of ``frame``; float NaN becomes null, categoricals become strings."""
        import ibis

        if isinstance(frame, pd.DataFrame):
            frame = pa.Table.from_pandas(frame, preserve_index=False)
        if self.name == "duckdb":
            return ibis.memtable(frame)  # DuckDB scans the Arrow buffers (dictionaries too)
        return self._view(self.backend._session.createDataFrame(_decoded(frame)))

    def read_parquet(self, path: Path | str, columns: dict[str, str] | None = None):
        """An Ibis table of a Parquet file (or folder of part files), read by the engine where it
        lies: DuckDB scans it out of core (within ``memory_limit``), Spark with
        ``spark.read.parquet`` (the file must be where the Spark workers can read it). The file
        must stay until the last query that reads it has run.

        ``columns`` ({name: SQL expression over the file's columns}, in the engine's dialect)
        selects and converts as the file is read, for types Ibis cannot name (DuckDB's
        nanosecond timestamps, columns stored without a type)."""
        if columns is None and self.name == "duckdb":
            return self.backend.read_parquet(str(path), table_name=_temp_name())
        if self.name == "duckdb":
            name = _temp_name()
            select = ", ".join(f'{sql} AS "{col}"' for col, sql in columns.items())
            self.backend.raw_sql(
                f'CREATE TEMP VIEW "{name}" AS SELECT {select} '
                f"FROM read_parquet('{str(path).replace(chr(39), chr(39) * 2)}')"
            ).fetchall()
            return self.backend.table(name)
        frame = self.backend._session.read.parquet(str(path))
        if columns is not None:
            frame = frame.selectExpr(*(f"{sql} AS `{col}`" for col, sql in columns.items()))
        return self._view(frame)

    def describe(self) -> str:
        """The engine in a few words, for the run's notes (e.g. ``duckdb 2.0.1, memory_limit
        8GB``, ``spark 4.0.5 at local[*]``)."""
        if self.name == "duckdb":
            limit = self.backend.raw_sql("SELECT current_setting('memory_limit')").fetchall()[0][0]
            return f"duckdb {self.backend.version}, memory_limit {limit}"
        session = self.backend._session
        where = getattr(getattr(session, "sparkContext", None), "master", None) or "Spark Connect"
        return f"spark {session.version} at {where}"

    def fetch(self, expr, order_by: list[str] | None = None, *, last: bool = False) -> pd.DataFrame:
        """``expr`` as a pandas frame, rows in ``order_by`` order (nulls last on every engine).

        ``last``: the stage's last and largest result, after which no table :meth:`cache` kept
        is needed. They are all dropped before the result comes into memory, and on DuckDB the
        result is first written out of core to a Parquet file in the spill folder; so the peak
        is DuckDB's working memory or the result, not both.
        """
        if order_by:
            expr = expr.order_by([expr[c].asc(nulls_first=False) for c in order_by])
        if last and self.name == "duckdb":
            path = Path(self.spill or tempfile.gettempdir()) / f"{_temp_name()}.parquet"
            try:
                self.backend.to_parquet(expr, path)
                self.release_all()  # DuckDB hands the freed memory back after the drop
                result = pq.read_table(path).cast(expr.schema().to_pyarrow())
            finally:
                path.unlink(missing_ok=True)
        else:
            result = self.backend.to_pyarrow(expr)
            if last:
                self.release_all()
        # each Arrow column is freed once converted: the result is not held twice
        return result.to_pandas(self_destruct=True, split_blocks=True)

    def batches(self, expr, order_by: list[str] | None = None, rows: int = 1_000_000):
        """``expr`` as a stream of Arrow record batches of ``rows`` rows (the last fewer), in
        ``order_by`` order (nulls last): a result larger than memory, taken a batch at a time
        (DuckDB sorts out of core, within ``memory_limit``). The batches are cut the same on
        every engine, so files written a batch at a time are the same bytes."""
        if order_by:
            expr = expr.order_by([expr[c].asc(nulls_first=False) for c in order_by])
        if self.name == "duckdb":  # Ibis 12's stream calls a method DuckDB 2 no longer has
            self.backend._run_pre_execute_hooks(expr)  # registers the in-memory tables it reads
            reader = self.backend.con.sql(self.backend.compile(expr)).to_arrow_reader(rows)
        else:
            reader = self.backend.to_pyarrow_batches(expr, chunk_size=rows)
        return pa.RecordBatchReader.from_batches(reader.schema, _cut(reader, rows))

    def scalar(self, expr) -> Any:
        return self.backend.execute(expr)

    def cache(self, expr):
        """``expr`` computed once and kept until :meth:`close` (a temp table on DuckDB, a
        persisted frame on Spark)."""
        if self.name == "duckdb":
            name = _temp_name()
            table = self.backend.create_table(name, expr, temp=True)
            self._names.append(name)
            return table
        frame = self.backend._session.sql(self.backend.compile(expr)).cache()
        table = self._view(frame)
        self._views[table.op().name] = frame
        return table

    def release(self, table) -> None:
        """Free the data of a table :meth:`cache` made, before :meth:`close`. (On Spark the view
        stays until then: a Spark Connect plan reads other views by name.)"""
        name = table.op().name
        if name not in self._names:
            raise ValueError(f"{name} was not made by Engine.cache")
        self._drop(name)

    def release_all(self) -> None:
        """:meth:`release` every table :meth:`cache` kept."""
        for name in [*self._views] if self.name == "spark" else [*self._names]:
            self._drop(name)

    def _drop(self, name: str) -> None:
        if self.name == "duckdb":
            self._names.remove(name)
            self.backend.raw_sql(f'DROP TABLE IF EXISTS temp.main."{name}"')
        elif name in self._views:
            self._views.pop(name).unpersist()

    def _view(self, frame):
        """A Spark frame as an Ibis table (a temp view, dropped by :meth:`close`)."""
        name = _temp_name()
        frame.createTempView(name)
        self._names.append(name)
        return self.backend.table(name)

    def close(self) -> None:
        """Drop what :meth:`cache` kept; DuckDB closes, a Spark session (the process's) stays."""
        if self.name == "duckdb":
            self.backend.disconnect()
            if self.spill is not None:
                shutil.rmtree(self.spill, ignore_errors=True)
            return
        for name in self._names:
            self.backend._session.catalog.dropTempView(name)
        for frame in self._views.values():
            frame.unpersist()
        self._names.clear()
        self._views.clear()


def connect(params: EngineParams | None = None) -> Engine:
    """Open the engine ``params`` names (DuckDB in memory with its limits, or a Spark session)."""
    import ibis

    params = params or EngineParams()
    if params.engine == "duckdb":
        db = params.duckdb
        root = Path(db.spill_dir or Path(tempfile.gettempdir()) / "personalab-spill")
        root.mkdir(parents=True, exist_ok=True)
        # a folder of its own: DuckDB instances sharing one spill folder overwrite each
        # other's files (duckdb/duckdb#15173), e.g. two stages or experiments run at once
        spill = Path(tempfile.mkdtemp(prefix=f"duckdb-{os.getpid()}-", dir=root))
        config: dict[str, Any] = {
            "memory_limit": db.memory_limit.replace(" ", ""),
            "temp_directory": str(spill),
        }
        if db.threads:
            config["threads"] = db.threads
        backend = ibis.duckdb.connect(**config)
        backend.raw_sql("SET enable_progress_bar = false")
        return Engine("duckdb", backend, spill=spill)
    return Engine("spark", ibis.pyspark.connect(spark_session(params.spark)))


def spark_session(params: SparkParams):
    """A Spark session (the running one when there is one): UTC, Arrow transfers, no UI."""
    from pyspark.sql import SparkSession

    remote = os.environ.get(SPARK_REMOTE_ENV) or params.remote
    builder = SparkSession.builder
    if remote:
        builder = builder.remote(remote)
    else:
        master = os.environ.get(SPARK_MASTER_ENV) or params.master
        builder = builder.master(master).config("spark.ui.enabled", "false")
        builder = builder.config("spark.ui.showConsoleProgress", "false")
        builder = builder.config("spark.sql.shuffle.partitions", str(2 * (os.cpu_count() or 2)))
    builder = builder.config("spark.sql.session.timeZone", "UTC")
    warehouse = Path(tempfile.gettempdir()) / "personalab-spark-warehouse"  # not the project
    builder = builder.config("spark.sql.warehouse.dir", str(warehouse))
    builder = builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
    for key, value in params.config.items():
        builder = builder.config(key, str(value).lower() if isinstance(value, bool) else value)
    with _stderr_to(SPARK_LOG):  # a JVM started here writes its log there, not in notebooks
        session = builder.getOrCreate()
    if not remote:
        session.sparkContext.setLogLevel("ERROR")
    return session


#: where the Java processes PySpark starts write their start-up messages and log
SPARK_LOG = Path(tempfile.gettempdir()) / "personalab-spark.log"


@contextlib.contextmanager
def _stderr_to(path: Path):
    """Point file descriptor 2 at ``path`` (appending) for the block: a child process started
    in it (the JVM) keeps writing there; this process's stderr comes back after."""
    saved = os.dup(2)
    try:
        with open(path, "ab") as log:
            os.dup2(log.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _decoded(table: pa.Table) -> pa.Table:
    """Dictionary columns (pandas categoricals) as plain strings, for engines without them."""
    fields = [
        pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type) else f
        for f in table.schema
    ]
    return table.cast(pa.schema(fields))


_COUNTER = iter(range(1, 1 << 62))


def _temp_name() -> str:
    return f"personalab_{os.getpid()}_{next(_COUNTER)}"


def _cut(batches: pa.RecordBatchReader, rows: int):
    """The rows of ``batches`` in batches of ``rows`` (the last fewer), whatever sizes they came
    in (Spark gives one or more per partition): a batch of the right size passes as it is."""
    held: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        if not held and batch.num_rows == rows:
            yield batch
            continue
        held.append(batch)
        count += batch.num_rows
        while count >= rows:
            table = pa.Table.from_batches(held, batches.schema)
            yield from table.slice(0, rows).combine_chunks().to_batches()
            rest = table.slice(rows)
            held, count = rest.to_batches(), rest.num_rows
    if count:
        yield from pa.Table.from_batches(held, batches.schema).combine_chunks().to_batches()
