"""Validation: the rules a parsed event must meet, late arrivals, and the reasons a row failed.

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
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa

from personalab.ingest.events import EVENT_TYPES, ITEM_EVENTS, Parsed

RULE_ORDER = (
    "missing_user_id", "bad_timestamp", "unknown_event_type", "missing_item_id", "bad_number",
    "negative_price", "non_positive_quantity", "missing_rating", "rating_out_of_range",
    "negative_dwell", "scroll_depth_out_of_range", "late_event",
)  # fmt: skip


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


def summarise_reasons(reasons: pd.Series, top: int | None = None) -> pd.Series:
    """Rows per rule (a row breaking two rules counts for each), largest first."""
    counts = reasons.str.split(";").explode().value_counts()
    return counts.head(top) if top else counts
