"""The ingest stage's wiring: read the source, then validate, de-duplicate, remove bots, sessionise.

``run_ingest(params)`` returns an :class:`IngestResult` (tables + metrics); the row checks are in
:mod:`personalab.ingest.checks`. It writes only to a temporary folder that lives as long as the
result: the spool (the parsed rows the engine reads, removed once read:
:mod:`personalab.ingest.spool`) and the events, which the engine writes a batch at a time, so a
log larger than memory is never held whole.
:func:`personalab.ingest.io.save_ingest` writes the stage's outputs atomically.
Accounting: ``rows_read == rows_valid + rows_quarantined + duplicates_removed + bot_events_removed``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import weakref
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from personalab.engine import Engine, connect
from personalab.ingest.accounting import stage_metrics
from personalab.ingest.bots import bot_users, rate_rule_notes, rules_text
from personalab.ingest.checks import validate_rows
from personalab.ingest.duplicates import (
    COARSE_NOTE,
    MINUTE_NS,
    coarse_times,
    duplicate_positions,
    many_duplicates_warning,
    minute_note,
    with_content_ids,
)
from personalab.ingest.messages import (
    one_time_notes,
)
from personalab.ingest.overview import daily_counts, funnel_users
from personalab.ingest.params import IngestParams
from personalab.ingest.profile import PROFILE_COLUMNS, build_profile, profile_metrics
from personalab.ingest.sessions import EVENT_ORDER, assign_sessions, build_sessions
from personalab.ingest.sources import (
    RawEvents,
    SourceError,
    read_source,
)
from personalab.ingest.sources.identity import apply_identity
from personalab.ingest.spool import (
    EventsFile,
    write_events,
)
from personalab.ingest.synth.generate import generate_log
from personalab.ingest.timestamps import timestamp_metrics


@dataclass
class IngestResult:
    #: the valid events in the contract, written by the engine (a Parquet file in a temporary
    #: folder that lives as long as this result; :func:`~personalab.ingest.io.save_ingest`
    #: copies it into place); :attr:`events` reads it whole
    events_file: Path
    sessions: pd.DataFrame
    quarantine: pd.DataFrame
    bot_users: pd.DataFrame
    truth: pd.DataFrame | None
    metrics: dict[str, Any]
    source: str
    timings: dict[str, float] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)  # what the log holds (.profile)
    notes: list[str] = field(default_factory=list)  # how the input was read, in sentences
    warnings: list[str] = field(default_factory=list)  # what may be wrong with the answer
    engine: str = ""  # where the rules ran (Engine.describe)
    #: events per UTC day and event type (:func:`~personalab.ingest.overview.daily_counts`)
    daily: pd.DataFrame | None = None
    #: users reaching each funnel step (:func:`~personalab.ingest.overview.funnel_users`)
    funnel: pd.DataFrame | None = None

    @cached_property
    def events(self) -> pd.DataFrame:
        """The valid events as a frame (read from :attr:`events_file` once; a large log's
        events may not fit in memory: read the columns needed from the file instead)."""
        return pd.read_parquet(self.events_file)

    def events_head(self, rows: int = 5) -> pd.DataFrame:
        """The first ``rows`` events, read from :attr:`events_file` alone."""
        file = pq.ParquetFile(self.events_file)
        first = next(file.iter_batches(batch_size=rows), None)
        return (file.schema_arrow.empty_table() if first is None else first).to_pandas()


def load_raw(params: IngestParams, root: Path) -> tuple[RawEvents, pd.DataFrame | None]:
    """The raw rows of the configured source, and the ground truth when the source is synthetic."""
    src = params.source
    if src.format == "synthetic":
        log = generate_log(params.synthetic)
        frame = log.events
        frame["_file"] = "synthetic"
        frame["_row"] = np.arange(len(frame))
        return RawEvents(
            frame=frame, description=f"synthetic log (seed {params.synthetic.seed})"
        ), log.truth
    path = Path(src.path)
    raw = read_source(
        src.format,
        path if path.is_absolute() else root / path,
        columns=src.columns,
        constants=src.constants,
        event_types=src.event_types,
        timestamp_unit=src.timestamp_unit,
        timestamp_format=src.timestamp_format,
        sep=src.sep,
        header=src.header,
        names=src.names,
        encoding=src.encoding,
        identity=src.identity,
        query=src.query,
    )
    return raw, None


def run_ingest(params: IngestParams, root: Path | str = ".") -> IngestResult:
    """Read, validate, de-duplicate, remove bots and sessionise; return frames and metrics."""
    timings: dict[str, float] = {}
    tick = time.perf_counter()
    raw, truth = load_raw(params, Path(root))
    timings["read"] = time.perf_counter() - tick
    result = process_events(raw, params, timings)
    result.truth = truth
    return result


def process_events(
    raw: RawEvents,
    params: IngestParams,
    timings: dict[str, float] | None = None,
    engine: Engine | None = None,
) -> IngestResult:
    """Everything after reading: the pure core of the stage, on ``engine`` (else the one
    ``params`` names, opened and closed here).

    Values are parsed in pandas batch by batch into a spool file (:mod:`personalab.ingest.spool`)
    that the engine reads; the validation rules and the rules that relate rows (late arrivals,
    conflicting ids, duplicates, bots, sessions) run there, and the events come back from it in
    their order. To keep peak memory low, ``raw.frame`` (of a source read whole) is released
    (set to its quarantined rows) once it has been parsed, and the sessions, the largest
    result, come back last, once the engine's tables are dropped.
    """
    if engine is None:
        engine = connect(params.engine_params())
        try:
            return process_events(raw, params, timings, engine)
        finally:
            engine.close()
    folder = Path(tempfile.mkdtemp(prefix="personalab-ingest-"))
    try:
        result = _process(raw, params, {} if timings is None else timings, engine, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    weakref.finalize(result, shutil.rmtree, folder, ignore_errors=True)
    return result


def _process(
    raw: RawEvents, params: IngestParams, timings: dict[str, float], engine: Engine, folder: Path
) -> IngestResult:
    """:func:`process_events` with the spool in ``folder``."""
    start = time.perf_counter()
    rows_read = raw.rows
    if rows_read == 0:
        raise SourceError(f"{raw.description}: no data rows")
    if "identity" not in raw.extra:  # rows not read by read_source (synthetic, hand-built)
        apply_identity(raw, params.source.identity)
    checked = validate_rows(raw, params, rows_read, engine, folder)
    timings["validate"] = time.perf_counter() - start

    tick = time.perf_counter()
    clean, held = checked.clean, checked.rows
    by_content = False
    if engine.scalar(clean.event_id.isnull().any()):  # else the content window is not needed
        by_content = not engine.scalar(coarse_times(clean))
        checked.notes += [] if by_content else [COARSE_NOTE]
        clean = engine.cache(with_content_ids(clean, by_content))
        engine.release(held)
        held = clean
    repeats = engine.cache(duplicate_positions(clean))
    dup = int(engine.scalar(repeats.count()))
    if by_content and dup and engine.scalar(coarse_times(clean, MINUTE_NS)):
        checked.notes.append(minute_note(dup))
    many = many_duplicates_warning(dup, rows_read) if by_content else None
    kept = clean.anti_join(repeats, "pos")
    timings["dedup"] = time.perf_counter() - tick

    tick = time.perf_counter()
    flagged = bot_users(kept, params.bots)
    bots = rules_text(engine.fetch(flagged, order_by=["user_id"]))
    bot_rows = int(bots["events"].sum())
    found = engine.table(pa.table({"user_id": pa.array(bots["user_id"], pa.string())}))
    humans = kept.anti_join(found, "user_id")  # the fetched users: no second bot search
    timings["bots"] = time.perf_counter() - tick

    tick = time.perf_counter()
    source_sessions = engine.scalar(humans.session_id.notnull().cast("float64").mean())
    sessionised = engine.cache(assign_sessions(humans, round(params.session_gap_minutes * 60e9)))
    engine.release(held)
    daily, funnel = daily_counts(engine, sessionised), funnel_users(engine, sessionised)
    events_file = write_events(
        engine, sessionised, list(EVENT_ORDER), checked.spool, folder / "events.parquet"
    )
    checked.spool.path.unlink()
    # the largest result last: the engine's tables are dropped before it comes into memory
    order = ["user_id", "start", "first_pos"]
    sessions = _sessions_frame(engine.fetch(build_sessions(sessionised), order, last=True))
    timings["sessions"] = time.perf_counter() - tick
    profile = build_profile(
        EventsFile(events_file).chunks(list(PROFILE_COLUMNS)),
        sessions,
        identity=raw.extra["identity"],
        order=checked.order,
        source_session_share=None if source_sessions is None else float(source_sessions),
        timezone=params.source.timezone,
    )
    elapsed = time.perf_counter() - start

    metrics = stage_metrics(
        sessions,
        checked.quarantine,
        bots,
        rows_read=rows_read,
        profile=profile,
        rate=checked.rate,
        duplicates=dup,
        bot_rows=bot_rows,
        late_events=checked.late_events,
        elapsed=elapsed,
    )
    metrics |= timestamp_metrics(checked.read_as)
    metrics |= profile_metrics(profile)
    metrics["files_skipped"] = raw.files_skipped  # empty or header-only files of a folder
    dwell = bool(profile["populated"]["dwell_seconds"])  # the zero-dwell rule has values
    blind = rate_rule_notes(profile["granularity_seconds"], params.bots, dwell)  # coarse clocks
    blind += one_time_notes(profile)
    return IngestResult(
        events_file=events_file,
        sessions=sessions,
        quarantine=checked.quarantine,
        bot_users=bots,
        truth=None,
        metrics=metrics,
        source=raw.description,
        timings=timings,
        profile=profile,
        notes=[*raw.notes, *checked.notes, *blind],
        warnings=[*checked.warnings, *([many] if many else [])],
        engine=engine.describe(),
        daily=daily,
        funnel=funnel,
    )


def _sessions_frame(fetched: pd.DataFrame) -> pd.DataFrame:
    """Engine sessions back as a frame: ``start`` and ``end`` as UTC timestamps."""
    for name in ("start", "end"):
        fetched[name] = pd.to_datetime(fetched[name].to_numpy(dtype="int64"), unit="ns", utc=True)
    for name in ("session_id", "user_id", *(["device"] if "device" in fetched else [])):
        fetched[name] = fetched[name].astype("str")
    return fetched.drop(columns="first_pos")
