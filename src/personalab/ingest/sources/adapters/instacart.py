"""Instacart Market Basket Analysis (2017): grocery orders and the products in each.

Files (comma-separated, with a header line), as documented with the data set:

- ``orders.csv`` (required): ``order_id,user_id,eval_set,order_number,order_dow,
  order_hour_of_day,days_since_prior_order``; one row per order, each user's orders numbered
  from 1.
- ``order_products__prior.csv`` and/or ``order_products__train.csv``: ``order_id,product_id,
  add_to_cart_order,reordered``; one row per product in an order. Each becomes a ``purchase``
  of ``product_id`` by the order's user, in the order's session (``session_id`` = ``order_id``).
- ``products.csv`` (optional): ``product_id,product_name,aisle_id,department_id``, and
  ``aisles.csv`` (optional): ``aisle_id,aisle``: ``category`` is the product's aisle name (or its
  aisle id without ``aisles.csv``).

``path`` is the folder holding them (the orders and the order lines are both needed).

Time: the data has no dates, only each order's hour of day and the days since the same user's
previous order. Assumptions, stated because the timeline is built, not read:

- Each user's last order in ``orders.csv`` (the ``train`` or ``test`` order: the data set is a
  snapshot taken at one time) is placed on :data:`LAST_ORDER_DATE`; every earlier order lies
  the summed ``days_since_prior_order`` of the orders after it before that date (a cumulative sum
  per user, from the end). Anchoring the end, not the start, keeps every user's latest orders
  at the same time, so a temporal split finds every user's recent orders after the cut.
- The time of day is ``order_hour_of_day`` (0-23) on the hour, for the order's first product;
  each later product follows a second apart in ``add_to_cart_order`` (its product ``n`` at
  ``n - 1`` seconds), so the order the basket was filled in is in the timestamps (what the
  next-item model learns from) rather than left to the file. A line whose
  ``add_to_cart_order`` is missing or not a positive whole number stays on the hour.
  ``order_dow`` is not reproduced (the
  built dates have their own weekdays), and the data caps gaps at 30 days, so long pauses are
  shortened.
- An order whose time cannot be built gets a null timestamp (its rows are quarantined as
  ``bad_timestamp``): an hour that is not 0-23, a user whose ``order_number``s are not all
  numbers, or an order before a gap that is missing or negative (``days_since_prior_order``
  may be empty only on a user's first order).

Other fields: ``reordered`` and ``add_to_cart_order`` (once in the time) have no canonical
column and are dropped;
there is no price or quantity. An order line whose ``order_id`` is not in ``orders.csv`` is
quarantined as ``unknown_order``. An ``order_id`` listed twice in ``orders.csv`` stops the read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from personalab.ingest.sources.adapters._common import (
    add_reason,
    as_numbers,
    bookkeeping,
    lookup,
    map_text,
    positions,
    require_columns,
)
from personalab.ingest.sources.base import RawEvents, SourceError
from personalab.ingest.sources.files import read_files

FMT = "instacart"
ORDERS = "orders.csv"
LINES = ("order_products__prior.csv", "order_products__train.csv")
ORDER_COLUMNS = (
    "order_id", "user_id", "order_number", "order_hour_of_day", "days_since_prior_order",
)  # fmt: skip
#: where each user's last order is placed (the data set was published in May 2017)
LAST_ORDER_DATE = pd.Timestamp("2017-05-01")
UNKNOWN_ORDER = "unknown_order"


def read_instacart(path: Path) -> RawEvents:
    """One purchase per order line, on a per-user timeline (see the module docstring)."""
    if not path.is_dir():
        raise SourceError(
            f"{path}: {FMT} needs the folder that holds {ORDERS} and {' and/or '.join(LINES)}"
        )
    if not (path / ORDERS).is_file():
        raise SourceError(f"{path}: folder holds no {ORDERS} (the {FMT} orders table)")
    line_files = [path / name for name in LINES if (path / name).is_file()]
    if not line_files:
        raise SourceError(f"{path}: folder holds no {FMT} order lines ({', '.join(LINES)})")
    orders = _read_orders(path / ORDERS)
    frames = [_read_lines(file, orders) for file in line_files]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    category = _categories(path)
    if category is not None:
        frame["category"] = map_text(frame["item_id"], category)
    return RawEvents(frame=frame, description=f"{FMT} {path}")


def _read_orders(file: Path) -> pd.DataFrame:
    """The orders with an id: ``order_id``, ``user_id`` and the built ``timestamp``."""
    orders = read_files(file, "csv", sep=",", dtype="string")
    require_columns(orders, ORDER_COLUMNS, str(file), FMT)
    repeated = orders["order_id"].duplicated() & orders["order_id"].notna()
    if repeated.any():
        order_id = orders["order_id"][repeated].iloc[0]
        raise SourceError(f"{file}: order_id {order_id} is listed more than once")
    table = pd.DataFrame(
        {
            "order_id": orders["order_id"],
            "user_id": orders["user_id"],
            "timestamp": order_times(orders),
        }
    )
    return table[table["order_id"].notna()].reset_index(drop=True)  # no line can refer to the rest


def _cart_offsets(lines: pd.DataFrame) -> pd.Series:
    """Each line's time after its order's: ``add_to_cart_order - 1`` seconds (0 where that is
    missing or not a positive whole number)."""
    if "add_to_cart_order" not in lines:
        return pd.Series(pd.Timedelta(0), index=lines.index)
    rank = as_numbers(lines["add_to_cart_order"])
    usable = np.isfinite(rank) & (rank >= 1) & (rank == np.floor(rank))
    seconds = np.where(usable, rank - 1, 0).astype("int64")
    return pd.Series(pd.to_timedelta(seconds, unit="s"), index=lines.index)


def _read_lines(file: Path, orders: pd.DataFrame) -> pd.DataFrame:
    """One order-lines file as canonical purchase rows."""
    lines = read_files(file, "csv", sep=",", dtype="string")
    require_columns(lines, ("order_id", "product_id"), str(file), FMT)
    position = positions(orders["order_id"], lines["order_id"])
    found = pd.Series(position >= 0, index=lines.index)
    take = np.where(found, position, 0)
    placed = orders["timestamp"].take(take).set_axis(lines.index).where(found)
    out = pd.DataFrame(
        {
            "user_id": orders["user_id"].take(take).set_axis(lines.index).where(found),
            "session_id": lines["order_id"],
            "timestamp": placed + _cart_offsets(lines),
            "event_type": "purchase",
            "item_id": lines["product_id"],
        }
    )
    return add_reason(out.assign(**bookkeeping(lines)), ~found, UNKNOWN_ORDER)


def order_times(orders: pd.DataFrame, last: pd.Timestamp = LAST_ORDER_DATE) -> pd.Series:
    """Each order's built timestamp (naive), or NaT where it cannot be built (module docstring).

    Vectorised: the orders sorted by user and ``order_number``; sums over each user's later
    orders of the gaps (and of the unusable gaps) give each order's days before its user's
    last order.
    """
    user, _ = pd.factorize(orders["user_id"])  # -1: no user
    number = as_numbers(orders["order_number"])
    order = np.lexsort((number, user))
    u = user[order]
    gap = as_numbers(orders["days_since_prior_order"])[order]
    hour = as_numbers(orders["order_hour_of_day"])[order]
    first = np.r_[True, u[1:] != u[:-1]] if len(u) else np.zeros(0, dtype=bool)
    unusable = ~first & ~(np.isfinite(gap) & (gap >= 0))
    days_after = _sum_after(np.where(first | unusable, 0.0, gap), first)
    bad_after = _sum_after(unusable.astype("float64"), first)
    unnumbered = _sum_after(np.isnan(number[order]).astype("float64"), first, whole=True) > 0
    whole_hour = (hour >= 0) & (hour <= 23) & (hour == np.floor(hour))
    valid = (u >= 0) & (bad_after == 0) & ~unnumbered & whole_hour
    sorted_times = (
        last
        - pd.to_timedelta(np.where(valid, days_after, np.nan), unit="D")
        + pd.to_timedelta(np.where(valid, hour, np.nan), unit="h")
    ).to_numpy()
    times = np.empty_like(sorted_times)
    times[order] = sorted_times
    return pd.Series(times, index=orders.index)


def _sum_after(values: np.ndarray, first: np.ndarray, whole: bool = False) -> np.ndarray:
    """Per row, the sum of ``values`` on the later rows of its group (or of the whole group).

    Rows of a group are together and ``first`` marks each group's first row.
    """
    if not len(values):
        return values
    starts = np.flatnonzero(first)
    sizes = np.diff(np.r_[starts, len(values)])
    totals = np.repeat(np.add.reduceat(values, starts), sizes)
    if whole:
        return totals
    running = np.cumsum(values)
    before_group = np.repeat(running[starts] - values[starts], sizes)
    return totals - (running - before_group)


def _categories(path: Path) -> pd.Series | None:
    """Product id -> aisle name (or aisle id without ``aisles.csv``); None without products."""
    file = path / "products.csv"
    if not file.is_file():
        return None
    products = read_files(file, "csv", sep=",", dtype="string")
    require_columns(products, ("product_id", "aisle_id"), str(file), FMT)
    aisle = lookup(products, "product_id", "aisle_id", str(file))
    names_file = path / "aisles.csv"
    if names_file.is_file():
        names = read_files(names_file, "csv", sep=",", dtype="string")
        require_columns(names, ("aisle_id", "aisle"), str(names_file), FMT)
        named = map_text(aisle, lookup(names, "aisle_id", "aisle", str(names_file)))
        aisle = named.where(named.notna(), aisle)
    return aisle
