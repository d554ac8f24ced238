"""UCI Online Retail as CSV: InvoiceNo, StockCode, Description, Quantity, InvoiceDate,
UnitPrice, CustomerID, Country, or Online Retail II's names for three of them (Invoice, Price,
Customer ID; 2009-2011, usually re-saved from its Excel file); each line is a purchase, the
invoice is the session, invoices starting with C are cancellations (quarantined as
``cancelled_invoice``).

``InvoiceDate`` comes as ``mm/dd/yyyy hh:mm`` (the UCI file), as ``dd/mm/yyyy hh:mm`` (many
re-saved copies) or as ISO 8601. Slash dates are told apart by their values
(:func:`slash_date_format`): a first number above 12 is a day, a second above 12 a month; when
the values do not tell (every day of the month 12 or less, or as many of each) month first,
the UCI order, is assumed and said in a note. Dates that contradict the order the file shows fail to parse and are
quarantined as ``bad_timestamp``, never read with day and month swapped."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from personalab.ingest.sources.adapters._common import as_numbers, require_columns
from personalab.ingest.sources.base import REJECT_COLUMN, RawEvents
from personalab.ingest.sources.files import read_files

#: the columns read, as Online Retail names them, and Online Retail II's names where they differ
COLUMNS = ("InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID")
RETAIL_II_NAMES = {"InvoiceNo": "Invoice", "UnitPrice": "Price", "CustomerID": "Customer ID"}


def read_online_retail(path: Path) -> RawEvents:
    ids = ("InvoiceNo", "StockCode", "CustomerID", "Invoice", "Customer ID")
    frame = read_files(path, "csv", dtype=dict.fromkeys(ids, "string"), encoding_errors="replace")
    # a file with any of Online Retail II's own names is read (and checked) under them
    if set(RETAIL_II_NAMES.values()) & set(frame.columns):
        names = tuple(RETAIL_II_NAMES.get(c, c) for c in COLUMNS)
        require_columns(frame, names, str(path), "online_retail (Online Retail II)")
        frame = frame.rename(columns={ii: first for first, ii in RETAIL_II_NAMES.items()})
    require_columns(frame, COLUMNS, str(path), "online_retail")
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
    fmt, note = slash_date_format(frame["InvoiceDate"])
    return RawEvents(
        frame=out,
        description=f"online_retail {path}",
        timestamp_format=fmt,
        notes=[note] if note else [],
    )


def slash_date_format(dates: pd.Series) -> tuple[str | None, str | None]:
    """The strptime format of slash dates with a time (day or month first, seconds or not),
    and a note when the order had to be assumed; ``(None, None)`` when most values are not
    slash dates (ISO 8601 is parsed without a format)."""
    text = dates.dropna().astype("string")
    parts = text.str.extract(r"^\s*(\d{1,2})/(\d{1,2})/\d{4}\s+\d{1,2}:\d{2}(:\d{2})?\s*$")
    slashed = parts[0].notna()
    if not len(text) or slashed.sum() * 2 <= len(text):
        return None, None
    first, second = as_numbers(parts.loc[slashed, 0]), as_numbers(parts.loc[slashed, 1])
    day_first, month_first = int((first > 12).sum()), int((second > 12).sum())
    clock = " %H:%M:%S" if parts.loc[slashed, 2].notna().sum() * 2 > slashed.sum() else " %H:%M"
    if day_first > month_first:
        return "%d/%m/%Y" + clock, None
    note = (
        None
        if month_first > day_first
        else f"online_retail: InvoiceDate does not show its order ({day_first} value(s) with a "
        f"first number above 12, {month_first} with a second): read month first (mm/dd/yyyy), "
        "the UCI order"
    )
    return "%m/%d/%Y" + clock, note
