"""personalab.engine: the DuckDB side (Spark is compared with it in tests/unit/ingest/test_engines.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pydantic import ValidationError

from personalab.engine import DuckDBParams, EngineParams, connect


def duck(tmp_path, **limits):
    return connect(EngineParams(duckdb=DuckDBParams(spill_dir=str(tmp_path), **limits)))


def test_each_connection_spills_to_a_folder_of_its_own_removed_at_close(tmp_path):
    first, second = duck(tmp_path), duck(tmp_path)
    assert first.spill != second.spill and first.spill.parent == tmp_path
    first.close()
    assert not first.spill.exists() and second.spill.exists()
    second.close()
    assert list(tmp_path.iterdir()) == []


def test_a_sort_larger_than_memory_limit_spills_and_completes(tmp_path):
    engine = duck(tmp_path, memory_limit="64MB", threads=1)
    try:
        i = np.arange(3_000_000)
        rows = engine.table(
            pa.table({"k": i * 7919 % 3_000_001, "s": np.char.add("x" * 40, i.astype(str))})
        )
        ranked = engine.cache(rows.mutate(r=rows.k.rank()))  # a window over all rows
        spilled = sum(1 for _ in engine.spill.rglob("*"))
        top = engine.fetch(ranked.filter(ranked.r < 3), order_by=["r"])
    finally:
        engine.close()
    assert top["k"].tolist() == [0, 1, 2]
    assert spilled > 0, "nothing spilled: the test no longer exceeds memory_limit"


def test_fetch_orders_nulls_last_and_tables_take_pandas_nan_as_null(tmp_path):
    engine = duck(tmp_path)
    try:
        frame = pd.DataFrame({"k": [2.0, float("nan"), 1.0], "c": pd.Categorical(["a", None, "b"])})
        table = engine.table(frame)
        out = engine.fetch(table, order_by=["k"])
        assert out["k"].tolist()[:2] == [1.0, 2.0] and pd.isna(out["k"].iloc[2])
        assert engine.scalar(table.k.isnull().sum()) == 1
        assert engine.scalar(table.c.isnull().sum()) == 1
        assert engine.fetch(engine.table(pa.table({"x": [1]})))["x"].tolist() == [1]
    finally:
        engine.close()


def test_release_frees_a_cached_table_and_refuses_others(tmp_path):
    engine = duck(tmp_path)
    try:
        cached = engine.cache(engine.table(pd.DataFrame({"x": [1, 2]})))
        engine.release(cached)
        with pytest.raises(ValueError, match="not made by Engine.cache"):
            engine.release(cached)
    finally:
        engine.close()


@pytest.mark.parametrize("limit", ["8", "lots", "8 GBs"])
def test_a_memory_limit_must_have_a_unit(limit):
    with pytest.raises(ValidationError, match="memory_limit"):
        DuckDBParams(memory_limit=limit)


def test_describe_names_the_engine_and_its_limit(tmp_path):
    engine = duck(tmp_path, memory_limit="1GB")
    try:
        assert engine.describe().startswith("duckdb ") and "memory_limit" in engine.describe()
    finally:
        engine.close()


def _typed_rows():
    return pd.DataFrame(
        {
            "k": [3, 1, 2],
            "small": pd.array([1, -2, 3], dtype="int8"),
            "name": ["c", None, "a"],
            "at": pd.to_datetime(["2024-01-02", "2024-01-01", None], utc=True).as_unit("us"),
            "x": [0.1, float("nan"), 1 / 3],
            "flag": [True, False, True],
        }
    )


def _last_fetch_equals_fetch(engine) -> str:
    """A last fetch gives what a plain one gives; returns the name of the table it dropped."""
    cached = engine.cache(engine.table(_typed_rows()))
    expr = cached.mutate(total=cached.x.sum(), share=cached.k / cached.k.sum())
    plain = engine.fetch(expr, order_by=["k"])
    last = engine.fetch(expr, order_by=["k"], last=True)
    pd.testing.assert_frame_equal(last, plain)
    assert plain["k"].tolist() == [1, 2, 3]
    return cached.op().name


def test_a_last_fetch_goes_through_a_file_drops_the_caches_and_gives_the_same_frame(tmp_path):
    engine = duck(tmp_path)
    try:
        name = _last_fetch_equals_fetch(engine)
        tables = engine.backend.raw_sql("SELECT table_name FROM duckdb_tables()").fetchall()
        assert (name,) not in tables and len(tables) == 0
        assert list(engine.spill.iterdir()) == []  # the result's file is removed once read
    finally:
        engine.close()


@pytest.mark.slow
def test_a_last_fetch_on_spark_drops_the_caches_and_gives_the_same_frame(spark_engine):
    name = _last_fetch_equals_fetch(spark_engine)
    assert not spark_engine.backend._session.catalog.isCached(name)


def test_read_parquet_reads_the_file_where_it_lies(tmp_path):
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"k": [3, 1, 2], "s": ["c", None, "b"]}), tmp_path / "t.parquet")
    engine = duck(tmp_path / "spill")
    try:
        table = engine.read_parquet(tmp_path / "t.parquet")
        got = engine.fetch(table.filter(table.k > 1), order_by=["k"])
    finally:
        engine.close()
    assert got["k"].tolist() == [2, 3] and got["s"].tolist() == ["b", "c"]


def _batches_in_order(engine) -> list[pa.RecordBatch]:
    rows = engine.table(pd.DataFrame({"k": [3.0, None, 1.0, 2.0, 5.0], "v": list("abcde")}))
    return list(engine.batches(rows, order_by=["k"], rows=2))


def test_batches_stream_the_result_in_order_nulls_last(tmp_path):
    engine = duck(tmp_path)
    try:
        got = _batches_in_order(engine)
    finally:
        engine.close()
    assert [batch.num_rows for batch in got] == [2, 2, 1]
    assert pa.Table.from_batches(got).column("v").to_pylist() == ["c", "d", "a", "e", "b"]


def test_batches_on_spark_stream_the_result_in_order_cut_as_on_duckdb(spark_engine):
    """Spark gives a batch or more per partition; they are cut as DuckDB's are, so a file
    written a batch at a time (the events) is the same bytes on both engines."""
    got = _batches_in_order(spark_engine)
    assert [batch.num_rows for batch in got] == [2, 2, 1]
    assert pa.Table.from_batches(got).column("v").to_pylist() == ["c", "d", "a", "e", "b"]


@pytest.mark.parametrize("sizes", [[1, 1, 1, 1, 1], [3, 2], [5], [0, 2, 0, 3], [2, 2, 1]])
def test_batches_of_any_sizes_are_cut_to_the_same_batches(sizes):
    from personalab.engine import _cut

    values = iter(range(sum(sizes)))
    schema = pa.schema({"k": pa.int64()})
    came = [pa.record_batch({"k": [next(values) for _ in range(n)]}, schema) for n in sizes]
    reader = pa.RecordBatchReader.from_batches(schema, iter(came))
    got = list(_cut(reader, 2))
    assert [batch.num_rows for batch in got] == [2, 2, 1]
    assert pa.Table.from_batches(got).column("k").to_pylist() == [0, 1, 2, 3, 4]
