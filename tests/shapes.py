"""Small behaviour logs of every shape the pipeline must complete on, written in the documented
layout of a public format (or as a plain CSV), for the end-to-end tests and for trying the
pipeline by hand (``python -m tests.shapes OUT_DIR``).

Each log is derived from one tiny synthetic log, so it holds real structure (users of types with
tastes): a recommender can learn from it. Each shape keeps only what its public format can
carry:

======== ============== =====================================================================
shape    format         what it holds
======== ============== =====================================================================
ratings  movielens      ``ratings.csv``: explicit 0.5-5 star ratings, epoch seconds, no events
sessions yoochoose      ``yoochoose-clicks.dat``: item views keyed by session, no user ids
purchase online_retail  invoice lines (purchases only) with day-first dates, minutes
orders   instacart      ``orders.csv`` + ``order_products__prior.csv``: baskets, relative time
short    csv            the full funnel squeezed into six hours (a day-long export) under a
                        shop's own column names, mapped by ``source.columns`` (the README's)
funnel   retailrocket   ``events.csv``: view, addtocart, transaction (epoch milliseconds)
pages    csv            a page-level clickstream with no item ids, dated to the day, with page
                        names mapped by ``source.event_types`` (the retentioneering layout)
======== ============== =====================================================================
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from personalab.ingest.synth import SynthConfig, generate_log

#: source params (params/ingest.yaml `source`) of each shape, relative to the folder it was written in
SOURCES = {
    "ratings": {"format": "movielens", "path": "ratings/ratings.csv"},
    "sessions": {"format": "yoochoose", "path": "sessions"},
    "purchase": {"format": "online_retail", "path": "purchase/online_retail.csv"},
    "orders": {"format": "instacart", "path": "orders"},
    "short": {
        "format": "csv",
        "path": "short/shop.csv",
        "columns": {
            "visitor": "user_id",
            "ts": "timestamp",
            "action": "event_type",
            "sku": "item_id",
        },
    },
    "funnel": {"format": "retailrocket", "path": "funnel/events.csv"},
    "pages": {
        "format": "csv",
        "path": "pages/ecom.csv",
        "columns": {"event": "event_type", "platform": "device"},
        "event_types": {
            "product_view": "view",
            "compare": "click",
            "add_to_cart": "add_to_cart",
            "purchase": "purchase",
            "search": "search",
        },  # fmt: skip
    },
}
PAGES = {"view": "product_view", "click": "compare", "add_to_cart": "add_to_cart",
         "purchase": "purchase", "search": "search"}  # fmt: skip
SESSION_GAP = pd.Timedelta(minutes=30)
DEPTH = {"view": 1, "click": 2, "add_to_cart": 3, "purchase": 4}


def clean_log(n_users: int = 400, n_items: int = 150, n_days: int = 28, seed: int = 7):
    """The synthetic log without dirt or bots, with parsed timestamps and 30-minute sessions."""
    config = SynthConfig(
        seed=seed, n_users=n_users, n_items=n_items, n_days=n_days, bot_users=0,
        duplicate_rate=0.0, late_rate=0.0, malformed_rate=0.0, rating_prob=0.2,
    )  # fmt: skip
    events = generate_log(config).events
    events["timestamp"] = pd.to_datetime(events["timestamp"], utc=True, format="ISO8601")
    events = events.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    new = events["user_id"].ne(events["user_id"].shift()) | events["timestamp"].diff().gt(
        SESSION_GAP
    )
    events["session"] = new.cumsum()
    return events


def ratings(events: pd.DataFrame, folder: Path) -> None:
    """Each user's deepest touch of an item as a star rating (half stars), MovieLens layout."""
    touched = events[events["event_type"].isin(DEPTH) & events["item_id"].notna()].copy()
    touched["depth"] = touched["event_type"].map(DEPTH)
    pairs = touched.groupby(["user_id", "item_id"]).agg(
        depth=("depth", "max"), timestamp=("timestamp", "max")
    )
    pairs = pairs.reset_index()
    noise = np.random.default_rng(1).choice([-0.5, 0.0, 0.5], len(pairs))
    stars = np.clip(1.0 + pairs["depth"] + noise, 0.5, 5.0)
    out = pd.DataFrame(
        {
            "userId": pairs["user_id"].str.removeprefix("u").astype(int),
            "movieId": pairs["item_id"].str.removeprefix("i").astype(int),
            "rating": stars,
            "timestamp": epoch(pairs["timestamp"], "s"),
        }
    ).sort_values(["userId", "movieId"])
    _write_csv(out, folder / "ratings.csv")


def sessions(events: pd.DataFrame, folder: Path) -> None:
    """Item views keyed by session only (YooChoose clicks: no header, ISO times with ``Z``)."""
    views = events[events["event_type"].isin(["view", "click"]) & events["item_id"].notna()]
    views = views.sort_values(["session", "timestamp"], kind="stable")
    stamp = views["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"
    out = pd.DataFrame(
        {
            "session": views["session"] + 1000,
            "timestamp": stamp,
            "item": views["item_id"].str.removeprefix("i").astype(int) + 214500000,
            "category": views["category"].str.len().fillna(0).astype(int),
        }
    )
    _write_csv(out, folder / "yoochoose-clicks.dat", header=False)


def purchase(events: pd.DataFrame, folder: Path) -> None:
    """Carts and purchases as invoice lines, one invoice per session (UCI Online Retail, day-first
    minutes): a log of what was bought and nothing else."""
    bought = events[events["event_type"].isin(["add_to_cart", "purchase"])]
    bought = bought[bought["item_id"].notna()].drop_duplicates(["session", "item_id"])
    start = bought.groupby("session")["timestamp"].transform("min")
    out = pd.DataFrame(
        {
            "InvoiceNo": (bought["session"] + 536000).astype(str),
            "StockCode": bought["item_id"].str.removeprefix("i"),
            "Description": "ITEM " + bought["item_id"],
            "Quantity": bought["quantity"].fillna(1).astype(int).clip(lower=1),
            "InvoiceDate": start.dt.strftime("%d/%m/%Y %H:%M"),
            "UnitPrice": bought["price"].fillna(2.5).round(2),
            "CustomerID": bought["user_id"].str.removeprefix("u").astype(int) + 12000,
            "Country": "United Kingdom",
        }
    )
    _write_csv(out, folder / "online_retail.csv")


def orders(events: pd.DataFrame, folder: Path) -> None:
    """Each session with a cart or purchase as an order (Instacart: order numbers, hour of day
    and days since the previous order only; no dates)."""
    bought = events[events["event_type"].isin(["add_to_cart", "purchase"])]
    bought = bought[bought["item_id"].notna()].drop_duplicates(["session", "item_id"])
    heads = bought.groupby("session").agg(user=("user_id", "first"), at=("timestamp", "min"))
    heads = heads.reset_index().sort_values(["user", "at"], kind="stable")
    heads["order_id"] = np.arange(len(heads)) + 1
    heads["order_number"] = heads.groupby("user").cumcount() + 1
    days = heads.groupby("user")["at"].diff().dt.days.clip(upper=30)
    table = pd.DataFrame(
        {
            "order_id": heads["order_id"],
            "user_id": heads["user"].str.removeprefix("u").astype(int),
            "eval_set": "prior",
            "order_number": heads["order_number"],
            "order_dow": heads["at"].dt.day_of_week,
            "order_hour_of_day": heads["at"].dt.hour,
            "days_since_prior_order": days.astype("Float64"),
        }
    )
    _write_csv(table, folder / "orders.csv")
    lines = bought.merge(heads[["session", "order_id"]], on="session")
    lines["add_to_cart_order"] = lines.groupby("order_id").cumcount() + 1
    lines["reordered"] = lines.duplicated(["user_id", "item_id"]).astype(int)
    lines["product_id"] = lines["item_id"].str.removeprefix("i").astype(int)
    columns = ["order_id", "product_id", "add_to_cart_order", "reordered"]
    _write_csv(lines[columns].sort_values(["order_id", "add_to_cart_order"]),
               folder / "order_products__prior.csv")  # fmt: skip


def short(events: pd.DataFrame, folder: Path) -> None:
    """The whole funnel of the first days squeezed into six hours (a day's export), as a CSV
    whose identity, time, event and item columns carry the shop's own names (the README's
    mapping example)."""
    first = events["timestamp"].min()
    keep = events[events["timestamp"] < first + pd.Timedelta(days=7)].copy()
    scale = pd.Timedelta(hours=6) / pd.Timedelta(days=7)
    keep["timestamp"] = first + (keep["timestamp"] - first) * scale
    columns = ["event_id", "user_id", "timestamp", "event_type", "item_id", "category", "price",
               "quantity", "rating", "dwell_seconds", "scroll_depth", "device", "channel"]  # fmt: skip
    out = keep[columns].assign(timestamp=keep["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    own = {"user_id": "visitor", "timestamp": "ts", "event_type": "action", "item_id": "sku"}
    _write_csv(out.rename(columns=own), folder / "shop.csv")


def funnel(events: pd.DataFrame, folder: Path) -> None:
    """Views, carts and purchases of known visitors (RetailRocket ``events.csv``)."""
    kinds = {"view": "view", "add_to_cart": "addtocart", "purchase": "transaction"}
    keep = events[events["event_type"].isin(kinds) & events["item_id"].notna()]
    out = pd.DataFrame(
        {
            "timestamp": epoch(keep["timestamp"], "ms"),
            "visitorid": keep["user_id"].str.removeprefix("u").astype(int),
            "event": keep["event_type"].map(kinds),
            "itemid": keep["item_id"].str.removeprefix("i").astype(int),
            "transactionid": np.where(keep["event_type"] == "purchase", keep["session"], np.nan),
        }
    ).sort_values("timestamp", kind="stable")
    out["transactionid"] = out["transactionid"].astype("Int64")
    _write_csv(out, folder / "events.csv")


def pages(events: pd.DataFrame, folder: Path) -> None:
    """Page views, carts, purchases and searches without items, each dated to its day (a
    day's repeated views of a page are separate events), in sessions of known users."""
    keep = events[events["event_type"].isin(PAGES)]
    out = pd.DataFrame(
        {
            "user_id": keep["user_id"],
            "session_id": "sess_" + keep["session"].astype(str),
            "event": keep["event_type"].map(PAGES),
            "timestamp": keep["timestamp"].dt.strftime("%Y-%m-%d"),
            "platform": keep["device"],
        }
    )
    _write_csv(out, folder / "ecom.csv")


WRITERS = {"ratings": ratings, "sessions": sessions, "purchase": purchase, "orders": orders,
           "short": short, "funnel": funnel, "pages": pages}  # fmt: skip


def write_shapes(root: Path, shapes=tuple(WRITERS), events: pd.DataFrame | None = None) -> dict:
    """Write each shape under ``root/<shape>/``; returns {shape: source params} with paths made
    relative to ``root``'s parent's project (as SOURCES, prefixed by ``root``'s name)."""
    events = clean_log() if events is None else events
    out = {}
    for shape in shapes:
        WRITERS[shape](events, root / shape)
        source = dict(SOURCES[shape])
        source["path"] = f"{root.name}/{source['path']}"
        out[shape] = source
    return out


def epoch(times: pd.Series, unit: str) -> pd.Series:
    """Whole ``unit``s since 1970 (whatever resolution pandas holds the times in)."""
    return times.dt.as_unit(unit).astype("int64")


def _write_csv(frame: pd.DataFrame, path: Path, header: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, header=header, lineterminator="\n")


if __name__ == "__main__":  # python -m tests.shapes OUT_DIR
    target = Path(sys.argv[1])
    for name, params in write_shapes(target).items():
        print(f"{name:9s} {params}")
