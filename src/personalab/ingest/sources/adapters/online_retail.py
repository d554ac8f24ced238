"""UCI Online Retail as CSV: InvoiceNo, StockCode, Description, Quantity, InvoiceDate,
UnitPrice, CustomerID, Country; each line is a purchase, the invoice is the session, invoices
starting with C are cancellations (quarantined as ``cancelled_invoice``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from personalab.ingest.sources.adapters._common import require_columns
from personalab.ingest.sources.base import REJECT_COLUMN, RawEvents
from personalab.ingest.sources.files import read_files


def read_online_retail(path: Path) -> RawEvents:
    frame = read_files(
        path,
        "csv",
        dtype={"InvoiceNo": "string", "StockCode": "string", "CustomerID": "string"},
        encoding_errors="replace",
    )
    require_columns(
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
