"""The stage's reads and writes: the ingest stage's events in, the table, metrics and plot data out."""

from __future__ import annotations

from typing import Any

import pandas as pd

from personalab.core.paths import ProjectPaths, upstream
from personalab.core.storage import write_csv, write_metrics, write_parquet
from personalab.engine import EngineParams, connect
from personalab.features.build import FeaturesError, FeaturesResult
from personalab.features.plan import STAGE
from personalab.features.query import Events, events_from_parquet
from personalab.features.report import (
    PLOT_COLUMNS,
    feature_summary_by_label,
    positive_rate_by_cutoff,
    segment_sizes,
)


def open_events(paths: ProjectPaths, engine: EngineParams | None = None) -> Events:
    """The ingest stage's events, read by the engine ``engine`` names (None: DuckDB) where they
    lie (out of core on DuckDB); a clear error when the stage has not run or the file lacks a
    column. Close them with ``events.engine.close()``."""
    path = upstream(paths.interim / "events.parquet", "ingest", FeaturesError)
    on = connect(engine)
    try:
        return Events(on, events_from_parquet(on, path))
    except KeyError as error:
        on.close()
        raise FeaturesError(f"{error.args[0]}; run the ingest stage again") from None
    except BaseException:
        on.close()
        raise


def save_features(result: FeaturesResult, paths: ProjectPaths) -> dict[str, Any]:
    """Write the table (its definition in its attrs), metrics and plot data atomically; a
    table without rows gets plot data with the header row only."""
    table, plots = result.table, paths.plots_dir(STAGE)
    if table.empty:
        data = {name: pd.DataFrame(columns=columns) for name, columns in PLOT_COLUMNS.items()}
    else:
        data = {
            "positive_rate": positive_rate_by_cutoff(table),
            "segment_sizes": segment_sizes(table),
            "by_label": feature_summary_by_label(table, result.feature_names),
        }
    return {
        "features": write_parquet(table, paths.processed / "features.parquet"),
        "metrics": write_metrics(result.metrics, paths.metrics_file(STAGE)),
        "positive_rate": write_csv(data["positive_rate"], plots / "positive_rate.csv"),
        "segment_sizes": write_csv(data["segment_sizes"], plots / "segment_sizes.csv"),
        "by_label": write_csv(data["by_label"], plots / "feature_by_label.csv"),
    }


def save_skipped(result: FeaturesResult, paths: ProjectPaths) -> dict[str, Any]:
    """A skipped stage's declared outputs: the table with no rows (key and label columns, the
    reason in its attrs), metrics with the status, header-only plot data and an empty figures
    folder, so DVC and the later stages run."""
    written = save_features(result, paths)
    figures = paths.figures_dir(STAGE)
    figures.mkdir(parents=True, exist_ok=True)
    for old in figures.glob("*.png"):
        old.unlink()
    return {**written, "figures": figures}
