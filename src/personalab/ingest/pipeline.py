"""The ingest stage's wiring: read the source, then validate, de-duplicate, remove bots, sessionise.

``run_ingest(params)`` returns an :class:`IngestResult` (frames + metrics) and
writes nothing; :func:`personalab.ingest.io.save_ingest` writes its outputs atomically.
Accounting: ``rows_read == rows_valid + rows_quarantined + duplicates_removed + bot_events_removed``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personalab.core.errors import InputError
from personalab.ingest.bots import bot_user_stats, flag_bots
from personalab.ingest.duplicates import (
    conflicting_ids,
    content_event_ids,
    duplicated_codes,
    event_id_codes,
)
from personalab.ingest.events import Parsed, canonical_order, parse_events
from personalab.ingest.params import IngestParams
from personalab.ingest.profile import build_profile, profile_metrics, read_order
from personalab.ingest.sessions import assign_sessions, build_sessions
from personalab.ingest.sources import (
    CANONICAL_COLUMNS,
    REJECT_COLUMN,
    RawEvents,
    SourceError,
    read_source,
)
from personalab.ingest.sources.base import MALFORMED_LINE, RAW_LINE_COLUMN
from personalab.ingest.sources.identity import apply_identity
from personalab.ingest.synth.generate import generate_log
from personalab.ingest.timestamps import timestamp_metrics, timestamp_notes
from personalab.ingest.validation import (
    find_violations,
    flag_late_events,
    late_notes,
    plausible_window,
    reasons_text,
    require_arrival_order,
    summarise_reasons,
)


class QuarantineRateError(InputError, RuntimeError):
    """Too large a share of the source failed validation; ``quarantine`` holds the rejected rows
    (:func:`personalab.ingest.io.run_keeping_quarantine` writes them before the stop)."""

    def __init__(self, message: str, quarantine: pd.DataFrame | None = None) -> None:
        super().__init__(message)
        self.quarantine = quarantine


@dataclass
class IngestResult:
    events: pd.DataFrame
    sessions: pd.DataFrame
    quarantine: pd.DataFrame
    bot_users: pd.DataFrame
    truth: pd.DataFrame | None
    metrics: dict[str, Any]
    source: str
    timings: dict[str, float] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)  # what the log holds (.profile)
    notes: list[str] = field(default_factory=list)  # how the input was read, in sentences


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
    raw: RawEvents, params: IngestParams, timings: dict[str, float] | None = None
) -> IngestResult:
    """Everything after reading: the pure core of the stage.

    To keep peak memory near one copy of the data, ``raw.frame`` is released
    (set to its quarantined rows) once it has been parsed.
    """
    timings = {} if timings is None else timings
    start = time.perf_counter()
    rows_read = len(raw.frame)
    if rows_read == 0:
        raise SourceError(f"{raw.description}: no data rows")
    if "identity" not in raw.extra:  # rows not read by read_source (synthetic, hand-built)
        apply_identity(raw, params.source.identity)
    parsed, bad, late_events, quarantine, rate = _validate(raw, params, rows_read)
    order = read_order(parsed.frame["timestamp"], ~bad)
    read_as = parsed.timestamps_read_as
    timings["validate"] = time.perf_counter() - start

    tick = time.perf_counter()
    frame = parsed.frame
    kept, dup = _deduplicate(frame, bad, parsed.id_codes)
    timings["dedup"] = time.perf_counter() - tick

    tick = time.perf_counter()
    events, bots, bot_rows = _remove_bots(frame, kept, params)
    del frame, parsed
    timings["bots"] = time.perf_counter() - tick

    tick = time.perf_counter()
    source_sessions = float(events["session_id"].notna().mean()) if len(events) else None
    events, sessions = _sessionise(events, params)
    timings["sessions"] = time.perf_counter() - tick
    profile = build_profile(
        events,
        sessions,
        identity=raw.extra["identity"],
        order=order,
        source_session_share=source_sessions,
        timezone=params.source.timezone,
    )
    elapsed = time.perf_counter() - start

    metrics = _stage_metrics(
        events,
        sessions,
        quarantine,
        bots,
        rows_read=rows_read,
        rate=rate,
        dup=dup,
        bot_rows=bot_rows,
        late_events=late_events,
        elapsed=elapsed,
    )
    metrics |= timestamp_metrics(read_as)
    metrics |= profile_metrics(profile)
    metrics["files_skipped"] = raw.files_skipped  # empty or header-only files of a folder
    return IngestResult(
        events=events,
        sessions=sessions,
        quarantine=quarantine,
        bot_users=bots,
        truth=None,
        metrics=metrics,
        source=raw.description,
        timings=timings,
        profile=profile,
        notes=[*raw.notes, *timestamp_notes(read_as), *late_notes(late_events)],
    )


def _validate(
    raw: RawEvents, params: IngestParams, rows_read: int
) -> tuple[Parsed, np.ndarray, int | None, pd.DataFrame, float]:
    """Parse and check every row.

    Returns the parsed rows, which rows are bad, how many are late (all of them when late
    events are quarantined, else those otherwise valid; None when the arrival order is not
    known), the quarantine table and its rate. Rows sharing an event id with other content are
    quarantined as ``conflicting_event_id`` (only among rows that pass every other rule).
    Releases ``raw.frame`` (keeps its rejected rows); raises :class:`QuarantineRateError`
    (carrying the quarantine table) when too many rows fail.
    """
    require_arrival_order(raw.frame, params)  # parameter errors first, before any work
    window = plausible_window(params.plausible_timestamps, pd.Timestamp.now(tz="UTC"))
    parsed = parse_events(raw, timezone=params.source.timezone)
    flags = find_violations(parsed, params.rating_range, window)
    late = flag_late_events(parsed, raw.frame, params, raw.timestamp_unit, raw.timestamp_format)
    if params.late_events == "quarantine":
        flags["late_event"] = late
    reject = raw.frame.get(REJECT_COLUMN)
    if reject is not None:  # a malformed line has no fields to check: that is its one reason
        flags.loc[(reject == MALFORMED_LINE).to_numpy(), :] = False
    bad = flags.to_numpy().any(axis=1)
    if reject is not None:
        bad |= reject.notna().to_numpy()
    good = np.flatnonzero(~bad)
    parsed.id_codes = event_id_codes(parsed.frame["event_id"])  # hashed once, used again in dedup
    conflict = good[conflicting_ids(parsed.frame, good, parsed.id_codes)]
    if conflict.size:
        flags.iloc[conflict, flags.columns.get_loc("conflicting_event_id")] = True
        bad[conflict] = True
    quarantine = _quarantine_table(raw.frame.loc[bad], reasons_text(flags, reject))
    raw.frame = raw.frame.loc[bad]  # release the raw rows: only the rejected ones are still needed
    rate = len(quarantine) / rows_read
    if rate > params.max_quarantine_rate:
        top = summarise_reasons(quarantine["reason"], top=3)
        listed = ", ".join(f"{reason} ({count})" for reason, count in top.items())
        raise QuarantineRateError(
            f"{raw.description}: {len(quarantine)} of {rows_read} rows ({rate:.1%}) failed validation, "
            f"more than max_quarantine_rate {params.max_quarantine_rate:.1%}; top reasons: {listed}",
            quarantine,
        )
    if late is None:
        return parsed, bad, None, quarantine, rate
    late_events = int(late.sum()) if params.late_events == "quarantine" else int(late[~bad].sum())
    return parsed, bad, late_events, quarantine, rate


def _quarantine_table(rows: pd.DataFrame, reasons: pd.Series) -> pd.DataFrame:
    """Rejected rows as read (values as strings), with file, row and reason first."""
    data_cols = [c for c in rows.columns if c in CANONICAL_COLUMNS]
    out = pd.DataFrame(
        {
            "file": rows["_file"].astype("str")
            if "_file" in rows
            else pd.Series(pd.NA, index=rows.index, dtype="str"),
            "row": rows["_row"].astype("int64")
            if "_row" in rows
            else pd.Series(rows.index, index=rows.index),
            "reason": reasons.reindex(rows.index).astype("str"),
        }
    )
    for col in data_cols:
        out[col] = rows[col].astype("str")
    if RAW_LINE_COLUMN in rows:  # a malformed line's text, as it stands in its file
        out["raw_line"] = rows[RAW_LINE_COLUMN].astype("str")
    return out.reset_index(drop=True)


def _deduplicate(
    frame: pd.DataFrame, bad: np.ndarray, codes: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the valid rows to keep (first arrival of each id), and which valid rows repeat.

    Valid rows without an event id get a content hash, written into ``frame["event_id"]``:
    ``frame`` is the stage's own parsed frame, changed in place so the data is not copied.
    ``codes`` are the rows' :func:`~personalab.ingest.duplicates.event_id_codes` (computed when
    not given); content hashes get codes of their own.
    """
    good = np.flatnonzero(~bad)
    codes = event_id_codes(frame["event_id"]) if codes is None else codes
    missing = np.flatnonzero((codes < 0) & ~bad)
    if missing.size:
        ids = content_event_ids(frame.iloc[missing])
        event_id = frame["event_id"].copy()
        event_id.iloc[missing] = ids.to_numpy()
        frame["event_id"] = event_id
        codes = codes.copy()
        codes[missing] = codes.max(initial=-1) + 1 + pd.factorize(ids, sort=False)[0]
    dup = duplicated_codes(codes[good])
    kept = good[~dup]
    return kept, dup


def _remove_bots(
    frame: pd.DataFrame, kept: np.ndarray, params: IngestParams
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Drop the rows of users the bot rules flag.

    Returns the kept rows of the other users (ordered by user, then time), the bot users
    found, and which kept rows (in that order) were the bots'.
    """
    codes, users = pd.factorize(frame["user_id"].iloc[kept], sort=True)
    ns = frame["timestamp"].iloc[kept].to_numpy(dtype="datetime64[ns]").view("int64")
    order = np.lexsort((ns, codes))
    codes, kept = codes[order], kept[order]
    is_view = (frame["event_type"].iloc[kept] == "view").to_numpy()
    dwell = frame["dwell_seconds"].to_numpy(dtype=float)[kept]
    stats = bot_user_stats(codes, ns[order], is_view, dwell, len(users))
    stats.insert(0, "user_id", pd.Series(np.asarray(users), dtype="str"))
    bots = flag_bots(stats, params.bots)
    is_bot = np.zeros(len(users), dtype=bool)
    is_bot[np.searchsorted(np.asarray(users), bots["user_id"].to_numpy())] = True
    bot_rows = is_bot[codes]
    events = frame.take(kept[~bot_rows]).reset_index(drop=True)
    return events, bots, bot_rows


def _sessionise(events: pd.DataFrame, params: IngestParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The events with their session ids, in the contract's columns, and one row per session.

    ``events`` is the stage's own frame (from :func:`_remove_bots`): its ``session_id`` column
    is set in place.
    """
    events["session_id"] = assign_sessions(
        events, pd.Timedelta(minutes=params.session_gap_minutes)
    ).to_numpy()
    events = canonical_order(events)
    sessions = build_sessions(events)
    return events, sessions


def _stage_metrics(
    events: pd.DataFrame,
    sessions: pd.DataFrame,
    quarantine: pd.DataFrame,
    bots: pd.DataFrame,
    *,
    rows_read: int,
    rate: float,
    dup: np.ndarray,
    bot_rows: np.ndarray,
    late_events: int | None,
    elapsed: float,
) -> dict[str, Any]:
    """The stage's metrics: where every row read went, sizes, and speed; checks the accounting.

    ``late_events_measured`` is 1 when the arrival order was known, and only then is
    ``late_events`` reported (metrics are flat numbers: not measured is not 0).
    """
    metrics: dict[str, Any] = {
        "rows_read": rows_read,
        "rows_valid": len(events),
        "rows_quarantined": len(quarantine),
        "quarantine_rate": rate,
        "duplicates_removed": int(dup.sum()),
        "bot_events_removed": int(bot_rows.sum()),
        "bot_users": len(bots),
        "late_events_measured": int(late_events is not None),
        **({} if late_events is None else {"late_events": late_events}),
        "users": int(events["user_id"].nunique()),
        "items": int(events["item_id"].nunique()),
        "sessions": len(sessions),
        "events_per_session": len(events) / max(len(sessions), 1),
        "processing_seconds": elapsed,
        "events_per_second": rows_read / elapsed if elapsed > 0 else float("nan"),
    }
    for name, count in summarise_reasons(quarantine["reason"]).items():
        metrics[f"quarantined_{name}"] = int(count)
    _check_accounting(metrics)
    return metrics


def _check_accounting(metrics: dict[str, Any]) -> None:
    """Every row read is valid, quarantined, a duplicate or a bot's: an invariant, not an input problem."""
    rows_read = metrics["rows_read"]
    accounted = (
        metrics["rows_valid"]
        + metrics["rows_quarantined"]
        + metrics["duplicates_removed"]
        + metrics["bot_events_removed"]
    )
    if accounted != rows_read:  # an invariant, not an input problem
        raise AssertionError(f"row accounting broken: {accounted} accounted for, {rows_read} read")
