"""Tiny hand-built event logs whose answers are known, shared by the features tests."""

from __future__ import annotations

import pandas as pd
import pytest

from personalab.features.params import FeaturesParams
from personalab.ingest.events import EVENT_TYPE_DTYPE
from personalab.ingest.sources import CANONICAL_COLUMNS

T = pd.Timestamp("2024-03-01 00:00", tz="UTC")
NAN = float("nan")
DEVICES = ["desktop", "mobile"]
#: item -> (category, price); item events take these unless the row overrides them
CATALOGUE = {
    "i1": ("books", 10.0),
    "i2": ("books", 30.0),
    "i3": ("games", 20.0),
    "i4": ("games", 40.0),
}
MOB, DESK = {"device": "mobile"}, {"device": "desktop"}
_NUMERIC = ("price", "quantity", "rating", "dwell_seconds", "scroll_depth")


def t(d: float = 0, h: float = 0, m: float = 0, s: float = 0, us: float = 0) -> pd.Timestamp:
    """``T`` shifted by the given (signed) amounts."""
    return T + pd.Timedelta(days=d, hours=h, minutes=m, seconds=s, microseconds=us)


def events_frame(rows: list[tuple]) -> pd.DataFrame:
    """Canonical events from ``(user, session, timestamp, event_type[, item_id[, extras]])``.

    ``extras`` is a dict of any other canonical column; the item's category and price
    come from ``CATALOGUE`` unless given; every column not given is NaN/None.
    """
    records = []
    for k, row in enumerate(rows):
        user, session, when, etype, *rest = row
        item = rest[0] if rest else None
        extras = rest[1] if len(rest) > 1 else {}
        category, price = CATALOGUE.get(item, (None, NAN))
        record = {name: None for name in CANONICAL_COLUMNS}
        record.update({name: NAN for name in _NUMERIC})
        record.update(event_id=f"e{k}", user_id=user, session_id=session, timestamp=when)
        record.update(event_type=etype, item_id=item, category=category, price=price)
        record.update(extras)
        records.append(record)
    frame = pd.DataFrame(records, columns=list(CANONICAL_COLUMNS))
    for name in ("event_id", "user_id", "session_id", "item_id"):
        frame[name] = frame[name].astype("str")
    for name in ("category", "device", "channel"):
        frame[name] = frame[name].astype("category")
    for name in _NUMERIC:
        frame[name] = frame[name].astype("float64")
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).astype("datetime64[ns, UTC]")
    frame["event_type"] = frame["event_type"].astype(EVENT_TYPE_DTYPE)
    return frame


def by_user(table: pd.DataFrame, name: str) -> dict:
    return table.set_index("user_id")[name].to_dict()


def params(**values) -> FeaturesParams:
    return FeaturesParams.from_mapping(values)


# The main log. a: engaged buyer on mobile; b: browser who abandons a cart; c: lapsed.
LOG = [
    ("a", "a1", t(d=-20), "view", "i1", {**MOB, "dwell_seconds": 200.0}),
    ("a", "a1", t(d=-20, m=1), "click", "i1", MOB),
    ("a", "a1", t(d=-20, m=2), "add_to_cart", "i1", {**MOB, "quantity": 2.0}),
    ("a", "a1", t(d=-20, m=5), "purchase", "i1", {**MOB, "quantity": 2.0}),  # 10 x 2
    ("a", "a2", t(d=-7), "view", "i2", {**MOB, "dwell_seconds": 100.0}),  # exactly T - 7 d
    ("a", "a2", t(d=-7, m=1), "scroll", None, {**MOB, "scroll_depth": 0.9}),
    ("a", "a2", t(d=-7, m=2), "add_to_cart", "i2", MOB),
    ("a", "a2", t(d=-7, m=4), "purchase", "i2", MOB),  # no quantity: 30 x 1
    ("a", "a3", t(h=-12), "view", "i3", {**MOB, "dwell_seconds": 300.0}),
    ("a", "a3", t(h=-12, s=30), "click", "i3", MOB),
    ("b", "b1", t(d=-10), "view", "i1", {**DESK, "dwell_seconds": 20.0}),
    ("b", "b1", t(d=-10, m=1), "view", "i4", {**DESK, "dwell_seconds": 40.0}),
    ("b", "b1", t(d=-10, m=3), "add_to_cart", "i4", DESK),  # never bought: abandoned
    ("b", "b2", t(d=-7, s=-1), "view", "i2", {**MOB, "dwell_seconds": 60.0}),  # 1 s before T - 7 d
    ("b", "b3", t(h=-2), "view", "i1", {**MOB, "dwell_seconds": 10.0}),
    ("b", "b3", t(h=-2, m=1), "add_to_cart", "i4", MOB),  # 2 h old at T: not judged
    ("c", "c1", t(d=-40), "search", None, {**DESK, "category": "toys"}),
    ("c", "c2", t(d=-20), "scroll", None, {"scroll_depth": 0.3}),  # device unknown
]
#: after T: b buys (a positive label) and c's view stretches the log to T + 7 d
FUTURE = [
    ("b", "b4", t(d=1), "purchase", "i4", MOB),
    ("c", "c3", t(d=7), "view", "i1", MOB),
]


def approx(expected: dict):
    return pytest.approx(expected, nan_ok=True, rel=1e-9, abs=1e-12)


DEFAULT_PRIORITY = [
    "converter", "cart_abandoner", "high_clicker", "deep_scroller", "long_dweller", "at_risk",
]  # fmt: skip
