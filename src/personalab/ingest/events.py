"""The canonical events table: parsing, validation rules, quarantine, de-duplication, bots.

Every row read ends in exactly one place, so
``rows_read == valid + quarantined + duplicates_removed + bot_events_removed``.

Validation rules (a quarantined row lists every rule it broke, first one first):

=========================  =====================================================================
reason                     rule
=========================  =====================================================================
missing_user_id            ``user_id`` is null or blank
bad_timestamp              ``timestamp`` is null or cannot be parsed
unknown_event_type         ``event_type`` is not one of ``EVENT_TYPES``
missing_item_id            a view/click/add_to_cart/remove_from_cart/purchase/rate has no item
bad_number                 a numeric field (price, quantity, rating, dwell, scroll) is not a number
negative_price             ``price`` < 0
non_positive_quantity      ``quantity`` <= 0
missing_rating             a ``rate`` event has no rating
rating_out_of_range        ``rating`` outside ``rating_range``
negative_dwell             ``dwell_seconds`` < 0
scroll_depth_out_of_range  ``scroll_depth`` outside [0, 1]
late_event                 late arrival, when ``late_events: quarantine``
(adapter reasons)          e.g. ``cancelled_invoice`` from the online_retail adapter
=========================  =====================================================================

A row is *late* when its timestamp is more than ``allowed_lateness`` behind the
largest timestamp that arrived before it in the file.

Bot rules (a user is a bot when any holds; defaults in ``BotRules``): more than
``max_events_per_minute`` events in one clock minute; more than
``max_events_per_day`` in one day; or at least ``min_views_for_dwell_rule`` views
with dwell recorded of which ``zero_dwell_share`` or more have zero dwell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pydantic import BaseModel, ConfigDict, Field

from personalab.ingest.sources import CANONICAL_COLUMNS, RawEvents

EVENT_TYPES = (
    "view",
    "click",
    "scroll",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "purchase",
    "rate",
)
ITEM_EVENTS = ("view", "click", "add_to_cart", "remove_from_cart", "purchase", "rate")
NUMERIC_COLUMNS = ("price", "quantity", "rating", "dwell_seconds", "scroll_depth")
ID_COLUMNS = ("event_id", "user_id", "session_id", "item_id")
LABEL_COLUMNS = ("category", "device", "channel")  # few distinct values: stored as categoricals
RULE_ORDER = (
    "missing_user_id", "bad_timestamp", "unknown_event_type", "missing_item_id", "bad_number",
    "negative_price", "non_positive_quantity", "missing_rating", "rating_out_of_range",
    "negative_dwell", "scroll_depth_out_of_range", "late_event",
)  # fmt: skip
EVENT_TYPE_DTYPE = pd.CategoricalDtype(list(EVENT_TYPES))
_HASH_KEY = "personalab-event"  # pandas wants exactly 16 characters
_OFFSET = r"(?:[Zz]|[+-]\d{2}:?\d{2})\s*$"  # a timestamp string that names its zone


class BotRules(BaseModel):
    """Thresholds that mark a user as a bot (any rule suffices)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_events_per_minute: int = Field(40, ge=1)
    max_events_per_day: int = Field(5000, ge=1)
    zero_dwell_share: float = Field(0.9, gt=0, le=1)
    min_views_for_dwell_rule: int = Field(20, ge=1)


@dataclass
class Parsed:
    """Typed columns plus, per row, the parsing problems found."""

    frame: pd.DataFrame
    bad_number: np.ndarray


def parse_events(raw: RawEvents, timezone: str = "UTC") -> Parsed:
    """Turn raw columns into canonical dtypes; unparseable values become null and are flagged."""
    src = raw.frame
    n = len(src)
    out = pd.DataFrame(index=src.index)
    for name in ID_COLUMNS:
        out[name] = (
            _to_id_string(src[name])
            if name in src
            else pd.Series(np.nan, index=src.index, dtype="str")
        )
    for name in LABEL_COLUMNS:
        out[name] = (
            _to_id_string(src[name]).astype("category")
            if name in src
            else pd.Categorical([np.nan] * n)
        )
    out["timestamp"] = parse_timestamps(
        src["timestamp"], raw.timestamp_unit, raw.timestamp_format, timezone
    )
    out["event_type"] = _normalise_labels(src["event_type"])
    bad_number = np.zeros(n, dtype=bool)
    for name in NUMERIC_COLUMNS:
        if name not in src:
            out[name] = np.nan
            continue
        values = pd.to_numeric(src[name], errors="coerce").astype("float64")
        bad_number |= (values.isna() & src[name].notna()).to_numpy()
        out[name] = values
    return Parsed(frame=out, bad_number=bad_number)


def parse_timestamps(
    values: pd.Series, unit: str | None, fmt: str | None, timezone: str = "UTC"
) -> pd.Series:
    """Parse epochs (``unit``), strptime strings (``fmt``) or ISO 8601 to UTC; failures become NaT."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert(
            "UTC"
        )
    if unit is not None or pd.api.types.is_numeric_dtype(values.dtype):
        numbers = pd.to_numeric(values, errors="coerce")
        return pd.to_datetime(numbers, unit=unit or "s", utc=True, errors="coerce")
    text = values.astype("str")
    # strings with an offset (or Z) are exact; naive strings are read in ``timezone``
    parsed = pd.to_datetime(text, format=fmt or "ISO8601", errors="coerce", utc=True)
    if timezone != "UTC":
        naive = ~text.str.contains(_OFFSET, regex=True, na=False)
        if naive.any():
            local = pd.to_datetime(text[naive], format=fmt or "ISO8601", errors="coerce")
            local = local.dt.tz_localize(
                timezone, ambiguous="NaT", nonexistent="NaT"
            ).dt.tz_convert("UTC")
            parsed = parsed.copy()
            parsed[naive] = local
    return parsed


def _to_id_string(values: pd.Series) -> pd.Series:
    """Identifiers as strings: floats that are whole numbers lose their '.0'; blanks become null."""
    if pd.api.types.is_float_dtype(values.dtype):
        whole = values.dropna()
        if (whole == np.floor(whole)).all():
            values = values.astype("Int64")
    text = values.astype("str").str.strip()
    return text.where(text != "")


def _normalise_labels(values: pd.Series) -> pd.Series:
    """Stripped, lower-cased labels as a categorical (the work is done once per distinct value)."""
    labels = values.astype("category")
    cleaned = pd.Index(labels.cat.categories.astype(str)).str.strip().str.lower()
    uniques, inverse = np.unique(np.asarray(cleaned, dtype=object), return_inverse=True)
    codes = labels.cat.codes.to_numpy()
    new_codes = inverse[np.maximum(codes, 0)] if inverse.size else np.zeros_like(codes)
    new_codes = np.where(codes >= 0, new_codes, -1)
    return pd.Series(pd.Categorical.from_codes(new_codes, categories=uniques), index=values.index)


def events_schema(rating_range: tuple[float, float] = (0.0, 5.0)) -> pa.DataFrameSchema:
    """The pandera schema of parsed events; each failing check's name is a quarantine reason."""
    lo, hi = rating_range

    def check(fn, name: str) -> pa.Check:
        return pa.Check(fn, name=name, ignore_na=True)

    return pa.DataFrameSchema(
        {
            "user_id": pa.Column(nullable=False),
            "timestamp": pa.Column(nullable=False),
            "event_type": pa.Column(
                checks=check(lambda s: s.isin(EVENT_TYPES), "unknown_event_type"), nullable=False
            ),
            "price": pa.Column(float, check(lambda s: s >= 0, "negative_price"), nullable=True),
            "quantity": pa.Column(
                float, check(lambda s: s > 0, "non_positive_quantity"), nullable=True
            ),
            "rating": pa.Column(
                float, check(lambda s: s.between(lo, hi), "rating_out_of_range"), nullable=True
            ),
            "dwell_seconds": pa.Column(
                float, check(lambda s: s >= 0, "negative_dwell"), nullable=True
            ),
            "scroll_depth": pa.Column(
                float, check(lambda s: s.between(0, 1), "scroll_depth_out_of_range"), nullable=True
            ),
        },
        checks=[
            pa.Check(
                lambda df: df["item_id"].notna() | ~df["event_type"].isin(ITEM_EVENTS),
                name="missing_item_id",
            ),
            pa.Check(
                lambda df: df["rating"].notna() | (df["event_type"] != "rate"),
                name="missing_rating",
            ),
        ],
        strict=False,
    )


_NULL_REASONS = {
    "user_id": "missing_user_id",
    "timestamp": "bad_timestamp",
    "event_type": "unknown_event_type",
}


def find_violations(parsed: Parsed, rating_range: tuple[float, float] = (0.0, 5.0)) -> pd.DataFrame:
    """Boolean frame (rows x rules) of every rule each row breaks, using the pandera schema."""
    frame = parsed.frame
    flags = pd.DataFrame(False, index=frame.index, columns=list(RULE_ORDER))
    flags["bad_number"] = parsed.bad_number
    try:
        events_schema(rating_range).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
        cases = cases[cases["index"].notna()]
        for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
            if check == "not_nullable":
                reason = _NULL_REASONS.get(column)
            elif isinstance(check, str) and check in flags.columns:
                reason = check
            else:
                reason = None
            if reason is None:
                raise RuntimeError(
                    f"unexpected schema failure {check!r} on column {column!r}"
                ) from None
            flags.loc[group["index"].astype("int64").unique(), reason] = True
    return flags


def flag_late(timestamps: pd.Series, allowed_lateness: pd.Timedelta) -> np.ndarray:
    """True where a row's time is more than ``allowed_lateness`` behind the max seen before it."""
    ns = timestamps.to_numpy(dtype="datetime64[ns]").astype("int64")
    valid = ~timestamps.isna().to_numpy()
    seen = np.where(valid, ns, np.iinfo(np.int64).min)
    running = np.maximum.accumulate(seen)
    before = np.concatenate([[np.iinfo(np.int64).min], running[:-1]])
    return valid & (ns < before - allowed_lateness.value) & (before > np.iinfo(np.int64).min)


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


def content_event_ids(frame: pd.DataFrame) -> pd.Series:
    """A 16-hex-digit content hash per row (for sources without event ids)."""
    columns = [
        c
        for c in (
            "user_id",
            "session_id",
            "timestamp",
            "event_type",
            "item_id",
            "price",
            "quantity",
            "rating",
        )
        if c in frame
    ]
    hashed = pd.util.hash_pandas_object(frame[columns], index=False, hash_key=_HASH_KEY).to_numpy()
    return pd.Series(hex64(hashed), index=frame.index, dtype="string")


def duplicated_ids(ids: pd.Series) -> np.ndarray:
    """True for every repeat of an id seen earlier in ``ids`` (the first arrival is kept)."""
    codes, _ = pd.factorize(ids, sort=False)  # codes number ids in order of first appearance
    seen = np.maximum.accumulate(np.r_[-1, codes[:-1]]) if codes.size else codes
    return codes <= seen


def hex64(values: np.ndarray) -> np.ndarray:
    """Vectorised ``format(v, '016x')`` for an array of uint64."""
    values = np.asarray(values, dtype=np.uint64)
    shifts = np.arange(60, -1, -4, dtype=np.uint64)
    nibbles = ((values[:, None] >> shifts) & np.uint64(0xF)).astype(np.uint8)
    table = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    return np.ascontiguousarray(table[nibbles]).view("S16").ravel().astype(str)


def find_bot_users(events: pd.DataFrame, rules: BotRules) -> pd.DataFrame:
    """Per flagged user: events, peak per minute and per day, zero-dwell share, the rules hit."""
    codes, users = pd.factorize(events["user_id"], sort=True)
    ns = events["timestamp"].to_numpy(dtype="datetime64[ns]").view("int64")
    order = np.lexsort((ns, codes))
    dwell = events["dwell_seconds"].to_numpy(dtype=float)[order]
    is_view = (events["event_type"] == "view").to_numpy()[order]
    stats = bot_user_stats(codes[order], ns[order], is_view, dwell, len(users))
    stats.insert(0, "user_id", pd.Series(np.asarray(users), dtype="str"))
    return flag_bots(stats, rules)


def bot_user_stats(
    codes: np.ndarray, ns: np.ndarray, is_view: np.ndarray, dwell: np.ndarray, n_users: int
) -> pd.DataFrame:
    """Per user code: events, peak events in a clock minute and in a UTC day, zero-dwell views.

    The arrays must be sorted by user code, then time.
    """

    def peak_per(bucket_ns: int) -> np.ndarray:
        peak = np.zeros(n_users, dtype=np.int64)
        if codes.size == 0:
            return peak
        bucket = ns // bucket_ns
        new_run = np.r_[True, (codes[1:] != codes[:-1]) | (bucket[1:] != bucket[:-1])]
        run_starts = np.flatnonzero(new_run)
        run_len = np.diff(np.r_[run_starts, codes.size])
        np.maximum.at(peak, codes[run_starts], run_len)
        return peak

    with_dwell = is_view & ~np.isnan(dwell)
    views = np.bincount(codes[with_dwell], minlength=n_users)
    zero = np.bincount(codes[with_dwell & (dwell == 0)], minlength=n_users)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(views > 0, zero / np.maximum(views, 1), np.nan)
    return pd.DataFrame(
        {
            "events": np.bincount(codes, minlength=n_users),
            "peak_per_minute": peak_per(60 * 10**9),
            "peak_per_day": peak_per(86_400 * 10**9),
            "views_with_dwell": views,
            "zero_dwell_share": share,
        }
    )


def flag_bots(stats: pd.DataFrame, rules: BotRules) -> pd.DataFrame:
    """The rows of ``stats`` that break a bot rule, with a ``rules`` column naming them."""
    hit = pd.DataFrame(
        {
            "events_per_minute": stats["peak_per_minute"] > rules.max_events_per_minute,
            "events_per_day": stats["peak_per_day"] > rules.max_events_per_day,
            "zero_dwell": (stats["views_with_dwell"] >= rules.min_views_for_dwell_rule)
            & (stats["zero_dwell_share"] >= rules.zero_dwell_share),
        }
    )
    flagged = hit.any(axis=1).to_numpy()
    out = stats.loc[flagged].copy()
    names = np.asarray(hit.columns, dtype=object)
    out["rules"] = pd.Series(
        [";".join(names[row]) for row in hit.to_numpy()[flagged]], index=out.index, dtype="str"
    )
    return out.reset_index(drop=True)


def summarise_reasons(reasons: pd.Series, top: int | None = None) -> pd.Series:
    """Rows per rule (a row breaking two rules counts for each), largest first."""
    counts = reasons.str.split(";").explode().value_counts()
    return counts.head(top) if top else counts


def canonical_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns in the contract's order, event_type as a categorical."""
    out = frame[list(CANONICAL_COLUMNS)].copy()
    out["event_type"] = out["event_type"].astype(EVENT_TYPE_DTYPE)
    return out
