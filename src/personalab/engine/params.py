"""The params every data stage shares: the engine its relational work runs on."""

from __future__ import annotations

from typing import Literal

from personalab.core.params import StageParams
from personalab.engine import DuckDBParams, EngineParams, SparkParams


class DataStageParams(StageParams):
    """Base of the ingest and features params: ``engine`` (duckdb | spark) and each engine's
    settings (:mod:`personalab.engine`)."""

    engine: Literal["duckdb", "spark"] = "duckdb"
    duckdb: DuckDBParams = DuckDBParams()
    spark: SparkParams = SparkParams()

    def engine_params(self) -> EngineParams:
        """The engine the stage's relational work runs on."""
        return EngineParams(engine=self.engine, duckdb=self.duckdb, spark=self.spark)
