"""The ingest stage's wiring: read the source, then validate, de-duplicate, remove bots, sessionise.

``run_ingest(params)`` returns an :class:`IngestResult` (tables + metrics). It writes only to
a temporary folder that lives as long as the result: the spool (the parsed rows the engine
reads, removed once read: :mod:`personalab.ingest.spool`) and the events, which the engine
writes a batch at a time, so a log larger than memory is never held whole.
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

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from personalab.engine import Engine, connect
from personalab.ingest.accounting import quarantine_table, stage_metrics
from personalab.ingest.bots import bot_users, rate_rule_notes, rules_text
from personalab.ingest.duplicates import (
    COARSE_NOTE,
    CONTENT,
    MINUTE_NS,
    coarse_times,
    conflicting_ids,
    duplicate_positions,
    many_duplicates_warning,
    minute_note,
    with_content_ids,
)
from personalab.ingest.events import LABEL_COLUMNS
from personalab.ingest.messages import (
    items_notes,
    late_notes,
    one_time_notes,
    synonym_notes,
    too_many_rejected,
)
from personalab.ingest.overview import daily_counts, funnel_users
from personalab.ingest.params import IngestParams
from personalab.ingest.profile import PROFILE_COLUMNS, build_profile, profile_metrics
from personalab.ingest.sessions import EVENT_ORDER, assign_sessions, build_sessions
from personalab.ingest.sources import (
    REJECT_COLUMN,
    RawEvents,
    SourceError,
    read_source,
)
from personalab.ingest.sources.base import MALFORMED_LINE
from personalab.ingest.sources.identity import apply_identity
from personalab.ingest.spool import (
    EventsFile,
    Spool,
    column_reading,
    kept_order,
    raw_rows,
    spool_events,
    write_events,
)
from personalab.ingest.synth.generate import generate_log
from personalab.ingest.timestamps import timestamp_metrics, timestamp_notes
from personalab.ingest.validation import (
    ARRIVAL_COLUMN,
    arrival_known,
    late_positions,
    plausible_window,
    rating_scale,
    reasons_text,
    require_arrival_order,
    rule_flags,
    rule_frame,
)


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
    checked = _validate(raw, params, rows_read, engine, folder)
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


@dataclass
class _Checked:
    """What validation leaves: the rows that passed (an engine table), the quarantine table and
    rate, late events (None when not measured), the time order, how timestamps were read."""

    clean: Any
    rows: Any  # the cached table ``clean`` reads (released once read)
    spool: Spool
    quarantine: pd.DataFrame
    rate: float
    late_events: int | None
    order: dict[str, Any]
    read_as: str
    notes: list[str]  # how the rows were read and checked, in sentences
    warnings: list[str] = field(default_factory=list)  # what may be wrong with the answer


def _validate(
    raw: RawEvents, params: IngestParams, rows_read: int, engine: Engine, folder: Path
) -> _Checked:
    """Parse and check every row.

    Rows sharing an event id with other content are quarantined as ``conflicting_event_id``
    (only among rows that pass every other rule). Late events are counted among all rows when
    they are quarantined, else among those otherwise valid. Releases ``raw.frame`` (keeps its
    rejected rows); raises :class:`QuarantineRateError` (carrying the quarantine table) when
    too many rows fail.
    """
    require_arrival_order(raw.frame, params)  # parameter errors first, before any work
    window = plausible_window(params.plausible_timestamps, pd.Timestamp.now(tz="UTC"))
    timezone = params.source.timezone
    reading = column_reading(raw, "timestamp", timezone)  # decided on the whole column
    arrival = column_reading(raw, ARRIVAL_COLUMN, timezone) if ARRIVAL_COLUMN in raw.frame else None
    known = arrival is not None or arrival_known(params)
    spool = spool_events(raw, reading, arrival, timezone, folder / "parsed.parquet")
    pa.default_memory_pool().release_unused()  # Arrow's allocator keeps what parsing freed
    parsed = engine.read_parquet(spool.path)
    rows = parsed
    malformed = rows.reject.fill_null("") == MALFORMED_LINE  # no fields to check: its one reason
    items = bool(engine.scalar(rows.item_id.notnull().any()))  # a log without: item rule off
    scale, scale_notes, warnings = rating_scale(rows, engine, params.rating_range)
    flagged = rule_flags(rows, scale, window, items)
    rules = {rule: flag & ~malformed for rule, flag in flagged.items()}
    rows = rows.select(*KEY_COLUMNS, *(["arrival_ns"] if spool.arrival else []), **rules)
    rows = rows.mutate(bad=ibis.or_(*(rows[rule] for rule in rules)) | rows.reject.notnull())
    quarantine_late = params.late_events == "quarantine"
    if known:
        lateness = round(params.allowed_lateness_minutes * 60e9)
        late = late_positions(parsed, lateness, spool.arrival)
        rows = rows.mutate(late=rows.pos.isin(late.pos))
        rows = rows.mutate(bad=rows.bad | rows.late) if quarantine_late else rows
    conflicts = conflicting_ids(rows.filter(~rows.bad)).mutate(conflict=True)
    rows = rows.left_join(conflicts, "event_id").drop("event_id_right")
    rows = rows.mutate(conflict=rows.conflict.fill_null(False) & ~rows.bad)
    rows = engine.cache(rows)
    late = rows.late if known else ibis.literal(False)
    marked = engine.fetch(
        rows.filter(rows.bad | rows.conflict | late).select(
            "pos", "bad", "conflict", *rules, late=late
        ),
        order_by=["pos"],
    )
    flags = rule_frame(marked, late_events=quarantine_late)
    bad = np.zeros(rows_read, dtype=bool)
    bad[flags.index.to_numpy()] = (marked["bad"] | marked["conflict"]).to_numpy(dtype=bool)
    late_events = None
    if known:
        late_at = marked["late"].to_numpy(dtype=bool)
        late_events = int(
            late_at.sum() if quarantine_late else (late_at & ~bad[marked["pos"]]).sum()
        )
    flags = flags.loc[bad[flags.index.to_numpy()]]
    order = kept_order(spool, bad)
    rejected = raw_rows(raw, np.flatnonzero(bad))
    pa.default_memory_pool().release_unused()  # what reading the source batches left
    extra = rejected[REJECT_COLUMN].set_axis(flags.index) if REJECT_COLUMN in rejected else None
    reasons = reasons_text(flags, extra).set_axis(rejected.index)
    quarantine = quarantine_table(rejected, reasons)
    if raw.batches is None:
        raw.frame = rejected  # release the raw rows: only the rejected ones are still needed
    rate = len(quarantine) / rows_read
    if rate > params.max_quarantine_rate:
        raise too_many_rejected(raw.description, quarantine, rows_read, params, spool.unknown_types)
    clean = rows.filter(~rows.bad & ~rows.conflict).select(*KEY_COLUMNS).drop("reject")
    notes = [*timestamp_notes(spool.read_as), *synonym_notes(spool.synonyms), *scale_notes]
    notes += [*items_notes(items), *late_notes(late_events)]
    return _Checked(
        clean, rows, spool, quarantine, rate, late_events, order, spool.read_as, notes, warnings
    )


#: the spool's columns the rows carry past validation: every column of the events, with
#: ``pos`` and ``reject`` (carried through the windows, which costs less than joining the
#: labels back from the spool by ``pos`` at the end)
KEY_COLUMNS = (
    "pos",
    "event_id",
    *CONTENT,
    "dwell_seconds",
    *LABEL_COLUMNS,
    "scroll_depth",
    "reject",
)


def _sessions_frame(fetched: pd.DataFrame) -> pd.DataFrame:
    """Engine sessions back as a frame: ``start`` and ``end`` as UTC timestamps."""
    for name in ("start", "end"):
        fetched[name] = pd.to_datetime(fetched[name].to_numpy(dtype="int64"), unit="ns", utc=True)
    for name in ("session_id", "user_id", *(["device"] if "device" in fetched else [])):
        fetched[name] = fetched[name].astype("str")
    return fetched.drop(columns="first_pos")
