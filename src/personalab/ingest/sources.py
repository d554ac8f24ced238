"""Read an event source into raw rows with canonical column names.

Generic files (``csv``, ``parquet``, ``jsonl``) take a ``columns`` mapping from the
file's names to canonical names (identity when omitted) and optional constant
fields. Adapters know well-known public formats:

===============  ============================================================================
format           what it reads
===============  ============================================================================
retailrocket     ``events.csv``: timestamp (ms), visitorid, event (view/addtocart/transaction),
                 itemid, transactionid
rees46           monthly CSVs: event_time, event_type (view/cart/remove_from_cart/purchase),
                 product_id, category_id, category_code, brand, price, user_id, user_session
movielens        ``u.data`` (tab-separated), ``ratings.dat`` (``::``) or ``ratings.csv``; each
                 rating becomes a ``rate`` event
online_retail    UCI Online Retail as CSV: InvoiceNo, StockCode, Description, Quantity,
                 InvoiceDate, UnitPrice, CustomerID, Country; each line is a purchase, the
                 invoice is the session, invoices starting with C are cancellations
                 (quarantined as ``cancelled_invoice``)
===============  ============================================================================

Values are left as read (strings stay strings); parsing and validation happen in
:mod:`personalab.ingest.events`. Each row keeps ``_file`` and ``_row`` (0-based data row in
that file) so a quarantined row can be found in its source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from personalab.core.errors import InputError

CANONICAL_COLUMNS = (
    "event_id", "user_id", "session_id", "timestamp", "event_type", "item_id", "category",
    "price", "quantity", "rating", "dwell_seconds", "scroll_depth", "device", "channel",
)  # fmt: skip
REQUIRED_COLUMNS = ("user_id", "timestamp", "event_type")
_ID_COLUMNS = ("event_id", "user_id", "session_id", "item_id")
FILE_FORMATS = ("csv", "parquet", "jsonl")
ADAPTERS = ("retailrocket", "rees46", "movielens", "online_retail")
FORMATS = ("synthetic", *FILE_FORMATS, *ADAPTERS)
#: adapters may flag rows they reject themselves in this column (the reason, else null)
REJECT_COLUMN = "_reject"
_BOOKKEEPING_COLUMNS = ("_file", "_row")
_EXTENSIONS = {
    "csv": (".csv", ".csv.gz", ".tsv"),
    "parquet": (".parquet", ".pq"),
    "jsonl": (".jsonl", ".json", ".jsonl.gz", ".ndjson"),
}


class SourceError(InputError, ValueError):
    """The source cannot be read as asked: the message names the file and what is wrong."""


@dataclass
class RawEvents:
    """Rows as read, renamed to canonical columns, plus how to parse them."""

    frame: pd.DataFrame
    description: str
    timestamp_unit: str | None = None  # for numeric epochs: s, ms, us, ns
    timestamp_format: str | None = None  # strptime format; None = ISO 8601
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def has_event_id(self) -> bool:
        return "event_id" in self.frame and bool(self.frame["event_id"].notna().any())


def read_source(
    fmt: str,
    path: Path | str,
    columns: Mapping[str, str] | None = None,
    constants: Mapping[str, Any] | None = None,
    event_types: Mapping[str, str] | None = None,
    timestamp_unit: str | None = None,
    timestamp_format: str | None = None,
) -> RawEvents:
    """Read ``path`` in format ``fmt`` (a generic file format or an adapter name)."""
    path = Path(path)
    if fmt in ADAPTERS:
        raw = _ADAPTER_READERS[fmt](path)
    elif fmt in FILE_FORMATS:
        # identifiers stay text in CSV (no "007" -> 7); other columns are inferred as usual
        id_sources = [src for src, dst in (columns or {}).items() if dst in _ID_COLUMNS]
        id_sources += [c for c in _ID_COLUMNS if c not in (columns or {})]
        frame = read_files(
            path, fmt, **({"dtype": dict.fromkeys(id_sources, "string")} if fmt == "csv" else {})
        )
        frame = map_columns(frame, columns or {}, str(path))
        raw = RawEvents(frame=frame, description=str(path))
    else:
        raise SourceError(
            f"{path}: unknown source format {fmt!r}; expected one of: {', '.join(FORMATS)}"
        )
    frame = raw.frame
    for name, value in (constants or {}).items():
        if name not in CANONICAL_COLUMNS:
            raise SourceError(
                f"{path}: constant field {name!r} is not a canonical column ({', '.join(CANONICAL_COLUMNS)})"
            )
        frame[name] = value
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        present = [c for c in frame.columns if not c.startswith("_")]
        raise SourceError(
            f"{path}: required column(s) {', '.join(missing)} missing after mapping "
            f"(have: {', '.join(present) or 'none'}); map them in source.columns or set them in source.constants"
        )
    if event_types:
        mapped = frame["event_type"].map(
            lambda v: event_types.get(v, v) if isinstance(v, str) else v
        )
        frame["event_type"] = mapped
    raw.frame = frame
    raw.timestamp_unit = timestamp_unit or raw.timestamp_unit
    raw.timestamp_format = timestamp_format or raw.timestamp_format
    return raw


def list_files(path: Path, fmt: str) -> list[Path]:
    """The file itself, or the files of a folder with the format's extensions (sorted)."""
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(
            p for p in path.iterdir() if p.is_file() and p.name.lower().endswith(_EXTENSIONS[fmt])
        )
        if not files:
            raise SourceError(f"{path}: folder holds no {fmt} file ({', '.join(_EXTENSIONS[fmt])})")
        return files
    raise SourceError(f"{path}: no such file or folder")


def read_files(path: Path, fmt: str, **options: Any) -> pd.DataFrame:
    """Read one file or every file of a folder, adding ``_file`` and ``_row``."""
    frames = []
    for file in list_files(path, fmt):
        frame = _read_one(file, fmt, **options)
        if frame.empty:
            continue
        frame["_file"] = file.name
        frame["_row"] = range(len(frame))
        frames.append(frame)
    if not frames:
        raise SourceError(f"{path}: empty file (no data rows)")
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _read_one(file: Path, fmt: str, **options: Any) -> pd.DataFrame:
    try:
        if file.stat().st_size == 0:
            raise SourceError(f"{file}: empty file (0 bytes)")
        if fmt == "csv":
            sep = options.pop("sep", "\t" if file.name.endswith(".tsv") else ",")
            return pd.read_csv(file, sep=sep, low_memory=False, **options)
        if fmt == "parquet":
            return pd.read_parquet(file, **options)
        if fmt == "jsonl":
            return pd.read_json(file, lines=True, dtype=False, **options)
    except SourceError:
        raise
    except pd.errors.EmptyDataError:
        raise SourceError(f"{file}: empty file (no header or rows)") from None
    except (pd.errors.ParserError, ValueError, OSError, UnicodeDecodeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SourceError(f"{file}: cannot read as {fmt}: {first}") from None
    raise SourceError(f"{file}: unknown file format {fmt!r}")


def map_columns(frame: pd.DataFrame, columns: Mapping[str, str], where: str) -> pd.DataFrame:
    """Rename file columns to canonical names; keep canonical and bookkeeping columns only."""
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        have = ", ".join(c for c in frame.columns if not c.startswith("_"))
        raise SourceError(
            f"{where}: source.columns maps column(s) {', '.join(map(repr, missing))} that the file lacks (have: {have})"
        )
    bad = {src: dst for src, dst in columns.items() if dst not in CANONICAL_COLUMNS}
    if bad:
        src, dst = next(iter(bad.items()))
        raise SourceError(
            f"{where}: source.columns maps {src!r} to {dst!r}, which is not a canonical column ({', '.join(CANONICAL_COLUMNS)})"
        )
    targets = list(columns.values())
    shared = sorted({dst for dst in targets if targets.count(dst) > 1})
    if shared:
        raise SourceError(
            f"{where}: source.columns maps several columns to {', '.join(map(repr, shared))}"
        )
    # an explicit mapping wins over a file column that already has the target's name
    shadowed = [c for c in frame.columns if c in targets and c not in columns]
    renamed = frame.drop(columns=shadowed).rename(columns=dict(columns))
    keep = [c for c in renamed.columns if c in CANONICAL_COLUMNS or c in _BOOKKEEPING_COLUMNS]
    return renamed[keep]


# --- adapters -----------------------------------------------------------------------------------


def _require(frame: pd.DataFrame, columns: tuple[str, ...], where: str, fmt: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SourceError(
            f"{where}: not a {fmt} file: column(s) {', '.join(missing)} missing (have: {', '.join(c for c in frame.columns if not c.startswith('_'))})"
        )


def read_retailrocket(path: Path) -> RawEvents:
    if path.is_dir() and (path / "events.csv").is_file():
        path = path / "events.csv"
    frame = read_files(
        path, "csv", dtype={"visitorid": "string", "itemid": "string", "transactionid": "string"}
    )
    _require(frame, ("timestamp", "visitorid", "event", "itemid"), str(path), "retailrocket")
    out = frame.rename(columns={"visitorid": "user_id", "event": "event_type", "itemid": "item_id"})
    out["event_type"] = out["event_type"].replace(
        {"addtocart": "add_to_cart", "transaction": "purchase"}
    )
    return RawEvents(
        frame=map_columns(out, {}, str(path)),
        description=f"retailrocket {path}",
        timestamp_unit="ms",
    )


def read_rees46(path: Path) -> RawEvents:
    frame = read_files(
        path, "csv", dtype={"product_id": "string", "category_id": "string", "user_id": "string"}
    )
    _require(frame, ("event_time", "event_type", "product_id", "user_id"), str(path), "rees46")
    out = frame.rename(
        columns={"event_time": "timestamp", "product_id": "item_id", "user_session": "session_id"}
    )
    out["event_type"] = out["event_type"].replace({"cart": "add_to_cart"})
    if "category_code" in out:
        out["category"] = out["category_code"].fillna(out.get("category_id"))
    elif "category_id" in out:
        out["category"] = out["category_id"]
    if out["timestamp"].dtype != "datetime64[ns, UTC]":
        out["timestamp"] = out["timestamp"].astype("string").str.removesuffix(" UTC")
    return RawEvents(
        frame=map_columns(out, {}, str(path)),
        description=f"rees46 {path}",
        timestamp_format="%Y-%m-%d %H:%M:%S",
    )


_MOVIELENS_FILES = ("ratings.csv", "ratings.dat", "u.data")


def read_movielens(path: Path) -> RawEvents:
    if path.is_dir():
        found = [path / name for name in _MOVIELENS_FILES if (path / name).is_file()]
        if not found:
            raise SourceError(f"{path}: no MovieLens ratings file ({', '.join(_MOVIELENS_FILES)})")
        path = found[0]
    names = ["user_id", "item_id", "rating", "timestamp"]
    dtypes = {"user_id": "string", "item_id": "string"}
    if path.name.endswith(".dat"):
        # "1::1193::5::978300760": split on ':' with the fast parser, keep every other field
        frame = read_files(path, "csv", sep=":", header=None, dtype="string")
        if frame.shape[1] != 9:  # 7 fields + _file + _row
            raise SourceError(
                f"{path}: not a MovieLens ratings.dat file (expected UserID::MovieID::Rating::Timestamp)"
            )
        frame = frame[[0, 2, 4, 6, "_file", "_row"]].set_axis([*names, "_file", "_row"], axis=1)
    elif path.name.endswith(".csv"):
        frame = read_files(path, "csv", dtype={"userId": "string", "movieId": "string"})
        _require(frame, ("userId", "movieId", "rating", "timestamp"), str(path), "movielens")
        frame = frame.rename(columns={"userId": "user_id", "movieId": "item_id"})
    else:  # u.data: user item rating timestamp, tab-separated, no header
        frame = read_files(path, "csv", sep="\t", header=None, names=names, dtype=dtypes)
    frame["event_type"] = "rate"
    return RawEvents(
        frame=map_columns(frame, {}, str(path)), description=f"movielens {path}", timestamp_unit="s"
    )


def read_online_retail(path: Path) -> RawEvents:
    frame = read_files(
        path,
        "csv",
        dtype={"InvoiceNo": "string", "StockCode": "string", "CustomerID": "string"},
        encoding_errors="replace",
    )
    _require(
        frame,
        ("InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"),
        str(path),
        "online_retail",
    )
    customer = frame["CustomerID"].str.removesuffix(".0")
    invoice = frame["InvoiceNo"].str.strip()
    out = pd.DataFrame(
        {
            "user_id": customer,
            "session_id": invoice,
            "timestamp": frame["InvoiceDate"],
            "event_type": "purchase",
            "item_id": frame["StockCode"],
            "price": frame["UnitPrice"],
            "quantity": frame["Quantity"],
            "_file": frame["_file"],
            "_row": frame["_row"],
        }
    )
    out[REJECT_COLUMN] = (
        invoice.str.upper().str.startswith("C").map({True: "cancelled_invoice", False: None})
    )
    sample = out["timestamp"].dropna().astype(str).head(1).tolist()
    fmt = "%m/%d/%Y %H:%M" if sample and "/" in sample[0] else None
    return RawEvents(frame=out, description=f"online_retail {path}", timestamp_format=fmt)


_ADAPTER_READERS: dict[str, Callable[[Path], RawEvents]] = {
    "retailrocket": read_retailrocket,
    "rees46": read_rees46,
    "movielens": read_movielens,
    "online_retail": read_online_retail,
}
