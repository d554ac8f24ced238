"""Validation: the rules a parsed event must meet, late arrivals, and the reasons a row failed.

Validation rules (a quarantined row lists every rule it broke, first one first):

=========================  =====================================================================
reason                     rule
=========================  =====================================================================
missing_user_id            ``user_id`` is null or blank
bad_timestamp              ``timestamp`` is null or cannot be parsed (also a naive time that does
                           not exist or happens twice in ``source.timezone``: a DST gap/overlap)
implausible_timestamp      ``timestamp`` outside ``plausible_timestamps`` (default 1990-01-01 to a
                           day after the run), or outside what datetime64[ns] holds (1677-2262)
unknown_event_type         ``event_type`` is not one of ``EVENT_TYPES``
missing_item_id            a view/click/add_to_cart/remove_from_cart/purchase/rate has no item
                           (in a log with item ids: a log with none keeps its events, and the
                           recommenders are skipped)
bad_number                 a numeric field (price, quantity, rating, dwell, scroll) is not a
                           finite number (text, ``inf``, ``-inf``)
negative_price             ``price`` < 0
non_positive_quantity      ``quantity`` <= 0
missing_rating             a ``rate`` event has no rating
rating_out_of_range        ``rating`` outside ``rating_range``
negative_dwell             ``dwell_seconds`` < 0
scroll_depth_out_of_range  ``scroll_depth`` outside [0, 1]
late_event                 late arrival, when ``late_events: quarantine``
conflicting_event_id       an ``event_id`` that valid rows share with different content (every
                           row of that id; the same id with the same content is a duplicate)
(adapter reasons)          e.g. ``cancelled_invoice`` from the online_retail adapter
=========================  =====================================================================

A row is *late* when its timestamp is more than ``allowed_lateness`` behind the
largest timestamp that arrived before it. That needs the arrival order: the file's row order
when ``source.arrival_ordered`` is true (the synthetic source is), or a mapped ``arrival``
column. Without either, late events are not measured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import pandas as pd

from personalab.core.params import ParamsError
from personalab.ingest.events import EVENT_TYPES, ITEM_EVENTS, Parsed
from personalab.ingest.timestamps import NS_BOUNDS

if TYPE_CHECKING:
    from personalab.ingest.params import IngestParams

#: a source column of arrival times (map one to it) makes late events measurable
ARRIVAL_COLUMN = "arrival"

_INT64_MIN = np.iinfo(np.int64).min

RULE_ORDER = (
    "missing_user_id", "bad_timestamp", "implausible_timestamp", "unknown_event_type",
    "missing_item_id", "bad_number", "negative_price", "non_positive_quantity", "missing_rating",
    "rating_out_of_range", "negative_dwell", "scroll_depth_out_of_range", "late_event",
    "conflicting_event_id",
)  # fmt: skip


def plausible_window(
    bounds: tuple[str, str | None], now: pd.Timestamp
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``plausible_timestamps`` as UTC bounds: a null end is a day after ``now``; naive dates are UTC.

    The window never reaches past what datetime64[ns] holds (1677-09-22..2262-04-11), and
    may span at most 292 years, the longest time difference nanoseconds hold (gaps between
    events, session durations): a wider one is a parameter error.
    """

    def utc(value: str | pd.Timestamp) -> pd.Timestamp:
        stamp = pd.Timestamp(value)
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")

    start = max(utc(bounds[0]), NS_BOUNDS[0])
    end = utc(bounds[1]) if bounds[1] is not None else utc(now) + pd.Timedelta(days=1)
    end = min(end, NS_BOUNDS[1])
    if end.value - start.value > np.iinfo(np.int64).max:  # Python ints: no overflow here
        raise ParamsError(
            f"params/ingest.yaml: plausible_timestamps: {list(bounds)} spans {start:%Y-%m-%d} to "
            f"{end:%Y-%m-%d}, more than 292 years, the longest time difference datetime64[ns] "
            "holds; narrow it"
        )
    return start, end


#: the rules :func:`rule_flags` checks row by row (the others relate rows)
ROW_RULES = RULE_ORDER[:-2]


def rule_flags(
    rows: ibis.Table,
    rating_range: tuple[float, float] = (0.0, 5.0),
    window: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    items: bool = True,
) -> dict[str, ibis.Value]:
    """Per row rule (:data:`ROW_RULES`), an Ibis boolean: true where the row breaks it.

    ``rows`` holds the parsed columns with the timestamp as ``ns`` (epoch nanoseconds) and the
    parse's ``bad_number`` and ``out_of_range`` flags. ``window`` is the plausibility window
    (:func:`plausible_window`); without one only dates datetime64[ns] cannot hold are
    implausible. A check of an optional column holds where the column is null. Without
    ``items`` (a log with no item id on any row) an item event needs none.
    """
    lo, hi = rating_range
    kind = rows.event_type
    implausible = rows.out_of_range
    if window is not None:
        start, end = (int(bound.value) for bound in window)
        implausible = implausible | (rows.ns < start) | (rows.ns > end)
    flags = {
        "missing_user_id": rows.user_id.isnull(),
        "bad_timestamp": rows.ns.isnull() & ~rows.out_of_range,
        "implausible_timestamp": implausible,
        "unknown_event_type": kind.isnull() | ~kind.isin(EVENT_TYPES),
        "missing_item_id": rows.item_id.isnull() & kind.isin(ITEM_EVENTS) & ibis.literal(items),
        "bad_number": rows.bad_number,
        "negative_price": rows.price < 0,
        "non_positive_quantity": rows.quantity <= 0,
        "missing_rating": rows.rating.isnull() & (kind == "rate"),
        "rating_out_of_range": ~rows.rating.between(lo, hi),
        "negative_dwell": rows.dwell_seconds < 0,
        "scroll_depth_out_of_range": ~rows.scroll_depth.between(0, 1),
    }
    return {rule: flag.fill_null(False) for rule, flag in flags.items()}


def find_violations(
    parsed: Parsed,
    rating_range: tuple[float, float] = (0.0, 5.0),
    window: tuple[pd.Timestamp, pd.Timestamp] | None = None,
) -> pd.DataFrame:
    """Boolean frame (rows x :data:`RULE_ORDER`) of the rules each parsed row breaks, by
    :func:`rule_flags` on DuckDB (``late_event`` and ``conflicting_event_id`` left False: they
    relate rows; the pipeline checks them on its engine)."""
    from personalab.engine import connect

    engine = connect()
    try:
        rows = engine.table(rule_columns(parsed))
        flags = rule_flags(rows, rating_range, window)
        out = engine.fetch(rows.select("pos", **flags), order_by=["pos"])
    finally:
        engine.close()
    frame = pd.DataFrame(False, index=parsed.frame.index, columns=list(RULE_ORDER))
    frame[list(ROW_RULES)] = out[list(ROW_RULES)].to_numpy(dtype=bool)
    return frame


def rule_columns(parsed: Parsed) -> pd.DataFrame:
    """The parsed rows as :func:`rule_flags` reads them: ``pos``, ``ns``, the parse's flags, and
    every parsed column but the timestamp (no copies: Arrow takes the buffers)."""
    frame = parsed.frame.drop(columns="timestamp").reset_index(drop=True)
    frame.insert(0, "pos", np.arange(len(frame), dtype=np.int64))
    frame["ns"] = epoch_ns(parsed.frame["timestamp"]).reset_index(drop=True)  # Int64: nulls
    frame["bad_number"] = parsed.bad_number
    out_of_range = parsed.out_of_range
    frame["out_of_range"] = (
        np.zeros(len(frame), dtype=bool) if out_of_range is None else np.asarray(out_of_range)
    )
    return frame


def arrival_known(params: IngestParams) -> bool:
    """Whether the row order is the arrival order, for a log without an ``arrival`` column:
    when ``source.arrival_ordered`` (the synthetic generator writes rows as they arrived)."""
    return bool(params.source.arrival_ordered or params.source.format == "synthetic")


def epoch_ns(stamps: pd.Series) -> pd.Series:
    """UTC timestamps as nullable int64 nanoseconds since the epoch."""
    ns = stamps.to_numpy(dtype="datetime64[ns]").view("int64")
    return pd.Series(ns, index=stamps.index, dtype="Int64").where(stamps.notna().to_numpy())


#: rows of a block of arrival order (``pos`` order), and nanoseconds of one (arrival times)
LATE_BLOCK_ROWS = 1_000_000
LATE_BLOCK_NS = 3_600 * 10**9


def late_positions(
    rows: ibis.Table,
    allowed_lateness_ns: int,
    by_arrival: bool,
    block: int | None = None,
) -> ibis.Table:
    """The ``pos`` of the late rows (one column, few rows): a row is late when its ``ns`` is
    more than the lateness behind the largest ``ns`` that arrived before it.

    Rows arrive in ``pos`` order, or in ``arrival_ns`` order (ties by ``pos``) when
    ``by_arrival``: there a row without a known arrival is never late and does not raise the
    running max, nor does a row without a timestamp.

    The running max is taken within blocks of the arrival order (``block`` rows of ``pos``,
    or ``block`` nanoseconds of arrival time; :data:`LATE_BLOCK_ROWS`, :data:`LATE_BLOCK_NS`),
    each block's start raised by the max of the blocks before it: a window with no partition
    runs on one thread (Spark moves every row to one task), and the windows sort only these
    columns, not every column of ``rows``.
    """
    by = rows.arrival_ns if by_arrival else rows.pos
    size = block or (LATE_BLOCK_NS if by_arrival else LATE_BLOCK_ROWS)
    known = rows.arrival_ns.notnull() if by_arrival else ibis.literal(True)
    narrow = rows.select(
        "pos",
        "ns",
        *(["arrival_ns"] if by_arrival else []),
        _known=known,
        _seen=ibis.ifelse(known, rows.ns, ibis.null("int64")),
        _block=by.floordiv(size),  # null for an unknown arrival: never late, raises nothing
    )
    order = [narrow.arrival_ns, narrow.pos] if by_arrival else [narrow.pos]
    within = narrow._seen.max().over(
        ibis.window(group_by=narrow._block, order_by=order, rows=(None, -1))
    )
    tops = narrow.group_by("_block").agg(_top=narrow._seen.max())  # one row per block
    earlier = tops.select(
        "_block",
        _earlier=tops._top.max().over(ibis.window(order_by=tops._block, rows=(None, -1))),
    )
    joined = narrow.mutate(_within=within).left_join(earlier, "_block")
    before = ibis.coalesce(
        ibis.greatest(joined._within, joined._earlier), joined._within, joined._earlier
    )
    floor = ibis.literal(_INT64_MIN + allowed_lateness_ns, "int64")  # never overflows
    threshold = ibis.greatest(before, floor) - allowed_lateness_ns
    late = joined._known & joined.ns.notnull() & before.notnull() & (joined.ns < threshold)
    return joined.filter(late.fill_null(False)).select("pos")


def require_arrival_order(raw: pd.DataFrame, params: IngestParams) -> None:
    """Stop before any work when late events are to be quarantined but the arrival order is not
    known: every row of an unsorted file would look late."""
    known = ARRIVAL_COLUMN in raw or params.source.arrival_ordered
    if params.late_events == "quarantine" and not (known or params.source.format == "synthetic"):
        raise ParamsError(
            "params/ingest.yaml: late_events: quarantine needs the order rows arrived in, and this "
            "source has none; set source.arrival_ordered: true if the file's rows are in arrival "
            "order, map an arrival column in source.columns, or set late_events: keep"
        )


#: the scales ``rating_range: auto`` chooses among, narrowest first: stars (1-5, MovieLens'
#: 0.5-5 and 0-5), ten points (Book-Crossing, anime lists), Jester's -10 to 10, percentages
RATING_SCALES = ((0.0, 5.0), (0.0, 10.0), (-10.0, 10.0), (0.0, 100.0))
#: the share of the log's ratings the chosen scale holds at least; the others are out of range
RATING_SCALE_SHARE = 0.99


def rating_scale(
    rows: ibis.Table, engine: Any, wanted: tuple[float, float] | str
) -> tuple[tuple[float, float], list[str], list[str]]:
    """The range ratings are checked against, a sentence for the run when it was chosen, and
    the warning of :func:`zero_ratings_warning` (with ``auto``, counted in the same pass).

    ``wanted`` as given, unless ``"auto"``: the narrowest of :data:`RATING_SCALES` holding at
    least :data:`RATING_SCALE_SHARE` of the ratings (a stray 99 in a five-star log is out of
    range), else the ratings' own span (nothing out of range). A log without ratings, or whose
    ratings fit 0-5, gets 0-5 and no sentence."""
    if wanted != "auto":
        return tuple(wanted), [], []  # type: ignore[return-value]
    rating = rows.rating
    counts = engine.fetch(
        rows.aggregate(
            n=rating.count(),
            low=rating.min(),
            high=rating.max(),
            zeros=(rating == 0).sum(),
            **{f"in_{i}": rating.between(*scale).sum() for i, scale in enumerate(RATING_SCALES)},
        )
    ).iloc[0]
    n = int(counts["n"])
    if not n:
        return RATING_SCALES[0], [], []
    warnings = zero_ratings_warning(n, int(counts["zeros"]))
    span = f"{float(counts['low']):g} to {float(counts['high']):g}"
    for i, scale in enumerate(RATING_SCALES):
        inside = int(counts[f"in_{i}"])
        if inside >= RATING_SCALE_SHARE * n:
            if i == 0 and inside == n:
                return scale, [], warnings
            outside = f"; {n - inside} outside it are quarantined" if inside < n else ""
            return (
                scale,
                [
                    f"rating_range auto: ratings on the {scale[0]:g}-{scale[1]:g} scale "
                    f"({n} ratings from {span}){outside}"
                ],
                warnings,
            )
    low, high = float(counts["low"]), float(counts["high"])
    return (
        (low, high),
        [
            f"rating_range auto: the ratings span {span}, wider than any common scale "
            f"({', '.join(f'{a:g}-{b:g}' for a, b in RATING_SCALES)}): every rating is kept; "
            "set rating_range in params/ingest.yaml to check them"
        ],
        warnings,
    )


#: the share of the ratings at 0 over which ingest warns that 0 may mean "no rating"
ZERO_RATINGS = 0.3


def zero_ratings_warning(n: int, zeros: int) -> list[str]:
    """A warning when more than :data:`ZERO_RATINGS` of the ``n`` ratings are 0: in logs such
    as Book-Crossing a 0 records an interaction without a rating, which a rating model would
    learn as the lowest grade."""
    if not n or zeros <= ZERO_RATINGS * n:
        return []
    return [
        f"ratings: {zeros:,} of {n:,} ({zeros / n:.0%}) are 0. If 0 means no rating (as in "
        "Book-Crossing), give those rows another event type, e.g. in source.query: CASE WHEN "
        "rating = 0 THEN 'view' ELSE 'rate' END AS event_type (with rating NULLIF(rating, 0)); "
        "else a rating model learns them as the lowest grade"
    ]


def rule_frame(marked: pd.DataFrame, late_events: bool) -> pd.DataFrame:
    """The fetched rows' rules as a boolean frame (rows by ``pos`` x :data:`RULE_ORDER`):
    ``marked`` holds ``pos``, each row rule, ``conflict`` and (with ``late_events``) ``late``."""
    flags = pd.DataFrame(False, index=marked["pos"].to_numpy(), columns=list(RULE_ORDER))
    for rule in ROW_RULES:
        flags[rule] = marked[rule].to_numpy(dtype=bool)
    flags["conflicting_event_id"] = marked["conflict"].to_numpy(dtype=bool)
    if late_events:
        flags["late_event"] = marked["late"].to_numpy(dtype=bool)
    return flags


def reasons_text(flags: pd.DataFrame, extra: pd.Series | None = None) -> pd.Series:
    """Per flagged row, the rules it broke joined by ';' (``extra`` reasons, e.g. an adapter's, first)."""
    any_flag = flags.to_numpy().any(axis=1)
    has_extra = extra.notna().to_numpy() if extra is not None else np.zeros(len(flags), dtype=bool)
    rows = flags.index[any_flag | has_extra]
    text = pd.Series("", index=rows, dtype=object)
    if extra is not None:
        text = extra.loc[rows].astype(object).fillna("") + ";"
    sub = flags.loc[rows]
    for rule in flags.columns:
        hit = sub[rule].to_numpy()
        if hit.any():
            text = text.where(~hit, text + (rule + ";"))
    return text.str.strip(";").astype("str")


def summarise_reasons(reasons: pd.Series, top: int | None = None) -> pd.Series:
    """Rows per rule (a row breaking two rules counts for each), largest first."""
    counts = reasons.str.split(";").explode().value_counts()
    return counts.head(top) if top else counts
