"""Stage ``ingest``: read a behavioural log, validate it, and write canonical events and sessions.

``run_ingest(params)`` returns an :class:`IngestResult` (frames + metrics) and
writes nothing; :func:`save_ingest` writes its outputs atomically. Accounting:
``rows_read == rows_valid + rows_quarantined + duplicates_removed + bot_events_removed``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from personalab.core.errors import InputError
from personalab.core.params import StageParams
from personalab.core.paths import ProjectPaths
from personalab.core.storage import write_csv, write_metrics, write_parquet
from personalab.ingest import events as ev
from personalab.ingest import sessions as ss
from personalab.ingest.sources import (
    CANONICAL_COLUMNS,
    FORMATS,
    REJECT_COLUMN,
    RawEvents,
    SourceError,
    read_source,
)
from personalab.ingest.synth import SynthConfig, generate_log

STAGE = "ingest"


class SourceParams(BaseModel):
    """Where the events come from and how to map them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal[FORMATS] = "synthetic"  # type: ignore[valid-type]
    path: str = Field("data/raw", description="file or folder; ignored for synthetic")
    columns: dict[str, str] = Field(
        default_factory=dict, description="file column -> canonical column"
    )
    constants: dict[str, Any] = Field(
        default_factory=dict, description="canonical column -> constant value"
    )
    event_types: dict[str, str] = Field(
        default_factory=dict, description="source event name -> canonical"
    )
    timestamp_unit: Literal["s", "ms", "us", "ns"] | None = None
    timestamp_format: str | None = None
    timezone: str = "UTC"


class IngestParams(StageParams):
    """Parameters of the ingest stage (params/ingest.yaml)."""

    source: SourceParams = SourceParams()
    synthetic: SynthConfig = SynthConfig()
    session_gap_minutes: float = Field(30.0, gt=0)
    allowed_lateness_minutes: float = Field(60.0, ge=0)
    late_events: Literal["keep", "quarantine"] = "keep"
    max_quarantine_rate: float = Field(0.05, ge=0, le=1)
    rating_range: tuple[float, float] = (0.0, 5.0)
    bots: ev.BotRules = ev.BotRules()

    @model_validator(mode="after")
    def _check_rating_range(self) -> IngestParams:
        lo, hi = self.rating_range
        if lo >= hi:
            raise ValueError(
                f"rating_range must be [low, high] with low < high, got {list(self.rating_range)}"
            )
        return self


class QuarantineRateError(InputError, RuntimeError):
    """Too large a share of the source failed validation."""


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
    parsed = ev.parse_events(raw, timezone=params.source.timezone)
    flags = ev.find_violations(parsed, params.rating_range)
    late = ev.flag_late(
        parsed.frame["timestamp"], pd.Timedelta(minutes=params.allowed_lateness_minutes)
    )
    if params.late_events == "quarantine":
        flags["late_event"] = late
    reject = raw.frame.get(REJECT_COLUMN)
    bad = flags.to_numpy().any(axis=1)
    if reject is not None:
        bad |= reject.notna().to_numpy()
    quarantine = _quarantine_table(raw.frame.loc[bad], ev.reasons_text(flags, reject))
    raw.frame = raw.frame.loc[bad]  # release the raw rows: only the rejected ones are still needed
    rate = len(quarantine) / rows_read
    if rate > params.max_quarantine_rate:
        top = ev.summarise_reasons(quarantine["reason"], top=3)
        listed = ", ".join(f"{reason} ({count})" for reason, count in top.items())
        raise QuarantineRateError(
            f"{raw.description}: {len(quarantine)} of {rows_read} rows ({rate:.1%}) failed validation, "
            f"more than max_quarantine_rate {params.max_quarantine_rate:.1%}; top reasons: {listed}"
        )
    timings["validate"] = time.perf_counter() - start

    tick = time.perf_counter()
    frame = parsed.frame
    good = np.flatnonzero(~bad)
    event_id = frame["event_id"]
    missing_id = event_id.isna().to_numpy() & ~bad
    if missing_id.any():
        ids = ev.content_event_ids(frame.iloc[np.flatnonzero(missing_id)])
        event_id = event_id.copy()
        event_id.iloc[np.flatnonzero(missing_id)] = ids.to_numpy()
        frame["event_id"] = event_id
    dup = ev.duplicated_ids(event_id.iloc[good])
    kept = good[~dup]
    timings["dedup"] = time.perf_counter() - tick

    tick = time.perf_counter()
    codes, users = pd.factorize(frame["user_id"].iloc[kept], sort=True)
    ns = frame["timestamp"].iloc[kept].to_numpy(dtype="datetime64[ns]").view("int64")
    order = np.lexsort((ns, codes))
    codes, kept = codes[order], kept[order]
    is_view = (frame["event_type"].iloc[kept] == "view").to_numpy()
    dwell = frame["dwell_seconds"].to_numpy(dtype=float)[kept]
    stats = ev.bot_user_stats(codes, ns[order], is_view, dwell, len(users))
    stats.insert(0, "user_id", pd.Series(np.asarray(users), dtype="str"))
    bots = ev.flag_bots(stats, params.bots)
    is_bot = np.zeros(len(users), dtype=bool)
    is_bot[np.searchsorted(np.asarray(users), bots["user_id"].to_numpy())] = True
    bot_rows = is_bot[codes]
    events = frame.take(kept[~bot_rows]).reset_index(drop=True)
    del frame, parsed
    timings["bots"] = time.perf_counter() - tick

    tick = time.perf_counter()
    events["session_id"] = ss.assign_sessions(
        events, pd.Timedelta(minutes=params.session_gap_minutes)
    ).to_numpy()
    events = ev.canonical_order(events)
    sessions = ss.build_sessions(events)
    timings["sessions"] = time.perf_counter() - tick
    elapsed = time.perf_counter() - start

    metrics: dict[str, Any] = {
        "rows_read": rows_read,
        "rows_valid": len(events),
        "rows_quarantined": len(quarantine),
        "quarantine_rate": rate,
        "duplicates_removed": int(dup.sum()),
        "bot_events_removed": int(bot_rows.sum()),
        "bot_users": len(bots),
        "late_events": int(late.sum())
        if params.late_events == "quarantine"
        else int(late[~bad].sum()),
        "users": int(events["user_id"].nunique()),
        "items": int(events["item_id"].nunique()),
        "sessions": len(sessions),
        "events_per_session": len(events) / max(len(sessions), 1),
        "processing_seconds": elapsed,
        "events_per_second": rows_read / elapsed if elapsed > 0 else float("nan"),
    }
    for name, count in ev.summarise_reasons(quarantine["reason"]).items():
        metrics[f"quarantined_{name}"] = int(count)
    accounted = (
        metrics["rows_valid"]
        + metrics["rows_quarantined"]
        + metrics["duplicates_removed"]
        + metrics["bot_events_removed"]
    )
    if accounted != rows_read:  # an invariant, not an input problem
        raise AssertionError(f"row accounting broken: {accounted} accounted for, {rows_read} read")
    return IngestResult(
        events=events,
        sessions=sessions,
        quarantine=quarantine,
        bot_users=bots,
        truth=None,
        metrics=metrics,
        source=raw.description,
        timings=timings,
    )


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
    return out.reset_index(drop=True)


# --- reporting ----------------------------------------------------------------------------------


def daily_event_counts(events: pd.DataFrame) -> pd.DataFrame:
    """Events per UTC day and event type (long format)."""
    day = events["timestamp"].dt.floor("D").dt.strftime("%Y-%m-%d")
    counts = events.groupby([day, events["event_type"]], observed=True).size()
    return counts.rename("events").rename_axis(["date", "event_type"]).reset_index()


def funnel_counts(events: pd.DataFrame) -> pd.DataFrame:
    """Users reaching each funnel step (view -> click -> add_to_cart -> purchase)."""
    steps = ["view", "click", "add_to_cart", "purchase"]
    users = [events.loc[events["event_type"] == step, "user_id"].nunique() for step in steps]
    return pd.DataFrame({"step": steps, "users": users})


def session_length_histogram(sessions: pd.DataFrame, max_events: int = 40) -> pd.DataFrame:
    clipped = sessions["n_events"].clip(upper=max_events)
    hist = clipped.value_counts().sort_index()
    return hist.rename("sessions").rename_axis("events_per_session").reset_index()


def plot_overview(events: pd.DataFrame, sessions: pd.DataFrame, quarantine: pd.DataFrame):
    """A 2x2 overview: events per day by type, session lengths, funnel, quarantine reasons."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    daily = (
        daily_event_counts(events)
        .pivot(index="date", columns="event_type", values="events")
        .fillna(0)
    )
    daily.index = pd.to_datetime(daily.index)
    daily.plot(ax=axes[0, 0], lw=1)
    axes[0, 0].set(title="Events per day by type", xlabel="", ylabel="events")
    axes[0, 0].legend(fontsize=7, ncol=2)
    hist = session_length_histogram(sessions)
    axes[0, 1].bar(hist["events_per_session"], hist["sessions"], color="tab:blue")
    axes[0, 1].set(
        title="Session length (last bar: 40+)", xlabel="events per session", ylabel="sessions"
    )
    funnel = funnel_counts(events)
    axes[1, 0].barh(funnel["step"][::-1], funnel["users"][::-1], color="tab:green")
    axes[1, 0].set(title="Users reaching each funnel step", xlabel="users")
    reasons = (
        ev.summarise_reasons(quarantine["reason"]) if len(quarantine) else pd.Series(dtype=int)
    )
    if len(reasons):
        axes[1, 1].barh(reasons.index[::-1], reasons.to_numpy()[::-1], color="tab:red")
    axes[1, 1].set(title=f"Quarantined rows by rule ({len(quarantine)} rows)", xlabel="rows")
    fig.tight_layout()
    return fig


def save_ingest(result: IngestResult, paths: ProjectPaths) -> dict[str, Path]:
    """Write the stage's data, metrics and plot data atomically; return what was written."""
    out = {
        "events": write_parquet(result.events, paths.interim / "events.parquet"),
        "sessions": write_parquet(result.sessions, paths.interim / "sessions.parquet"),
        "quarantine": write_parquet(result.quarantine, paths.interim / "quarantine.parquet"),
        "bot_users": write_parquet(result.bot_users, paths.interim / "bot_users.parquet"),
        "truth": write_parquet(
            result.truth if result.truth is not None else _empty_truth(),
            paths.interim / "truth.parquet",
        ),
        "metrics": write_metrics(
            {k: v for k, v in result.metrics.items() if k != "processing_seconds"},
            paths.metrics_file(STAGE),
        ),
    }
    plots = paths.plots_dir(STAGE)
    daily = daily_event_counts(result.events).groupby("date", as_index=False)["events"].sum()
    out["daily_events"] = write_csv(daily, plots / "daily_events.csv")
    out["session_lengths"] = write_csv(
        session_length_histogram(result.sessions), plots / "session_lengths.csv"
    )
    reasons = (
        ev.summarise_reasons(result.quarantine["reason"])
        if len(result.quarantine)
        else pd.Series(dtype="int64")
    )
    out["quarantine_reasons"] = write_csv(
        reasons.rename("rows").rename_axis("reason").reset_index(), plots / "quarantine_reasons.csv"
    )
    return out


def _empty_truth() -> pd.DataFrame:
    """A zero-row truth table: the source has no ground truth."""
    return pd.DataFrame(
        {
            "user_id": pd.Series(dtype="str"),
            "user_type": pd.Series(dtype="str"),
            "is_bot": pd.Series(dtype=bool),
            "base_rate": pd.Series(dtype=float),
            "purchase_prob": pd.Series(dtype=float),
        }
    )


def input_paths(params: IngestParams, root: Path) -> list[Path]:
    """The data files the stage reads (none for the synthetic source)."""
    if params.source.format == "synthetic":
        return []
    path = Path(params.source.path)
    return [path if path.is_absolute() else root / path]


def summary_table(result: IngestResult) -> pd.DataFrame:
    """The stage's metrics as a two-column table for display."""
    rows = [(k, v) for k, v in result.metrics.items()]
    return pd.DataFrame(rows, columns=["metric", "value"]).set_index("metric")
