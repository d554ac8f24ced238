"""Reading text files as they come (:mod:`personalab.ingest.sources.files` and its helpers):
delimiters sniffed or set, header or ``names``, encodings, compression from the content,
malformed lines quarantined as ``malformed_line``, empty files in a folder skipped with a note,
duplicate header names, and the same missing-value tokens in every format.

Every fixture is a few hand-written lines in ``tmp_path``, in the shapes the public logs have
(a comma log with a header, a header-less Taobao-like log, a whitespace ledger). The bad-input
table runs the whole stage (``bad_inputs.ingest``) and checks the row identity on every case
that completes.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import re
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from personalab.ingest.sources import SourceError, read_source
from personalab.ingest.sources.base import MISSING_TOKENS
from personalab.ingest.sources.files import read_files
from personalab.ingest.sources.lines import scan_lines
from personalab.ingest.sources.sniff import detect_compression, sniff_sep
from tests.unit.ingest.bad_inputs import assert_accounted, ingest, reasons, write

HEADER = "user_id,timestamp,event_type,item_id,price\n"
ROWS = [
    "u1,2024-03-01T10:00:00Z,view,007,9.5\n",
    "u1,2024-03-01T10:01:00Z,add_to_cart,007,9.5\n",
    "u2,2024-03-01T11:00:00Z,view,B-2,20.0\n",
    "u2,2024-03-01T11:02:00Z,purchase,B-2,20.0\n",
]
LOG = HEADER + "".join(ROWS)
# the same rows as JSON lines
JSONL = "".join(
    json.dumps(dict(zip(HEADER.strip().split(","), row.strip().split(","), strict=True))) + "\n"
    for row in ROWS
)


def compress(kind: str, data: bytes) -> bytes:
    if kind == "gzip":
        return gzip.compress(data)
    if kind == "bz2":
        return bz2.compress(data)
    if kind == "xz":
        return lzma.compress(data)
    if kind == "zstd":
        return pa.compress(data, codec="zstd", asbytes=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("events.csv", data)
    return buffer.getvalue()


# --- the bad-input table: whole stage, a named error or quarantine reasons -----------------------


def _two_member_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.csv", LOG)
        archive.writestr("b.csv", LOG)
    return buffer.getvalue()


@dataclass
class Case:
    """Files to write, the source params, and the outcome: an error (``match``) or reasons."""

    files: dict[str, str | bytes]
    source: dict = field(default_factory=dict)
    path: str = "log.csv"
    fmt: str = "csv"
    match: str | None = None  # regex on the error message
    quarantined: dict[str, int] = field(default_factory=dict)
    valid: int | None = None
    files_skipped: int = 0


CASES = {
    "ragged line, one field too many": Case(
        {"log.csv": LOG + "u3,2024-03-01T12:00:00Z,view,C-3,1.0,surplus\n"},
        quarantined={"malformed_line": 1},
        valid=4,
    ),
    "ragged line, fields missing": Case(
        {"log.csv": HEADER + ROWS[0] + "u3,2024-03-01T12:00:00Z\n" + "".join(ROWS[1:])},
        quarantined={"malformed_line": 1},
        valid=4,
    ),
    "ragged first data line (pandas would make it an index)": Case(
        {"log.csv": HEADER + "u3,2024-03-01T12:00:00Z,view,C-3,1.0,x\n" + "".join(ROWS)},
        quarantined={"malformed_line": 1},
        valid=4,
    ),
    "ragged line beside quoted fields with commas and a newline": Case(
        {
            "log.csv": HEADER
            + 'u9,2024-03-01T09:00:00Z,view,"A,1\nsecond line",3.0\n'
            + "".join(ROWS)
            + "u3,2024-03-01T12:00:00Z,view\n"
        },
        quarantined={"malformed_line": 1},
        valid=5,
    ),
    "ragged line in a file with a stray quote inside a field": Case(
        {
            "log.csv": HEADER
            + 'u9,2024-03-01T09:00:00Z,view,12" pizza,3.0\n'
            + "".join(ROWS)
            + "u3,2024-03-01T12:00:00Z,view,x,1,2\n"
        },
        quarantined={"malformed_line": 1},
        valid=5,
    ),
    "two stray quotes that hide a line break from the fast count": Case(
        {
            "log.csv": HEADER
            + 'u9,2024-03-01T09:00:00Z,view,12" pizza,3.0\n'
            + 'u8,2024-03-01T09:30:00Z,view,7" disc,2.0\n'
            + "".join(ROWS)
        },
        valid=6,
    ),
    "bad JSON line": Case(
        {"log.jsonl": JSONL + '{"user_id": "u3", "timestamp": \n'},
        path="log.jsonl",
        fmt="jsonl",
        quarantined={"malformed_line": 1},
        valid=4,
    ),
    "JSON line that is not an object": Case(
        {"log.jsonl": "[1, 2, 3]\n" + JSONL},
        path="log.jsonl",
        fmt="jsonl",
        quarantined={"malformed_line": 1},
        valid=4,
    ),
    "undecodable byte (latin-1 pound sign read as utf-8)": Case(
        {"log.csv": (LOG + "u3,2024-03-01T12:00:00Z,view,Gift \xa340,1.0\n").encode("latin-1")},
        match=r"log\.csv: line 6: byte 0xa3 is not valid utf-8; set source\.encoding \(e\.g\. latin-1\)$",
    ),
    "explicit sep that is wrong": Case(
        {"log.csv": LOG},
        source={"sep": ";"},
        match=r"log\.csv: the header is one column, 'user_id,timestamp,event_type,item_id,price', "
        r"which holds ',': is source\.sep right\? \(read with ';'; null sniffs it\)$",
    ),
    "names that do not fit any line": Case(
        {"log.csv": "".join(ROWS)},
        source={"header": False, "names": ["user_id", "timestamp", "event_type"]},
        match=r"log\.csv: line 1: 5 field\(s\), not source\.names' 3, and no line has 3: "
        r"is source\.sep right\? \(read with ','\)$",
    ),
    "a header-less file read with the default header: true": Case(
        {"log.csv": "1,2268318,2520377,pv,1511544070\n1,2333346,2520771,pv,1511561733\n"},
        match=r"log\.csv: the first line looks like data, not a header \(1, 2268318, 2520377, "
        r"pv, 1511544070\); for a file without a header set source\.header: false",
    ),
    "most lines malformed: a misread, not a few bad lines": Case(
        {"log.csv": HEADER + "".join(ROWS) * 125 + "u3,2024-03-01T12:00:00Z,view\n" * 600},
        match=r"log\.csv: 600 of the first 1100 lines do not have 5 fields \(line 502 has 3\): "
        r"the file is not read as it is written; is source\.sep right \(read with ','\)",
    ),
    "duplicate header names": Case(
        {"log.csv": "user_id,timestamp,event_type,user_id\nu1,2024-03-01T10:00:00Z,view,u2\n"},
        match=r"log\.csv: columns 1 and 4 are both named 'user_id'; give every column its own name$",
    ),
    "duplicate names in source.names": Case(
        {"log.csv": "".join(ROWS)},
        source={"header": False, "names": ["user_id", "timestamp", "event_type", "user_id", "p"]},
        match=r"log\.csv: source\.names entries 1 and 4 are both named 'user_id'",
    ),
    "empty file in a folder": Case(
        {"logs/a.csv": LOG, "logs/b.csv": ""},
        path="logs",
        valid=4,
        files_skipped=1,
    ),
    "header-only file in a folder": Case(
        {"logs/a.csv": HEADER, "logs/b.csv.gz": gzip.compress(LOG.encode())},
        path="logs",
        valid=4,
        files_skipped=1,
    ),
    "a single empty file": Case({"log.csv": ""}, match=r"log\.csv: empty file \(0 bytes\)$"),
    "a single header-only file": Case(
        {"log.csv": HEADER}, match=r"log\.csv: empty file \(no data rows\)$"
    ),
    "every file of a folder empty": Case(
        {"logs/a.csv": "", "logs/b.tsv": HEADER},
        path="logs",
        match=r"logs: no data rows in any file \(.*a\.csv: empty file \(0 bytes\); skipped; "
        r".*b\.tsv: empty file \(no data rows\); skipped\)$",
    ),
    "gzip content under a .csv name": Case({"log.csv": gzip.compress(LOG.encode())}, valid=4),
    "a zip archive with two files": Case(
        {"log.csv": _two_member_zip()}, match=r"log\.csv: a zip archive with 2 files"
    ),
    "lines ending in a bare carriage return": Case(
        {"log.csv": LOG.replace("\n", "\r")},
        match=r"log\.csv: lines end in a bare carriage return",
    ),
    "a whitespace ledger without header (CDNOW shape), a short line among them": Case(
        {"CDNOW.txt": "00001 19970101  1  11.77\n00002 19970112  1\n  00003\t19970112 5 77.00\n"},
        path="CDNOW.txt",
        source={
            "sep": "whitespace",
            "header": False,
            "names": ["user_id", "timestamp", "quantity", "price"],
            "timestamp_format": "%Y%m%d",
            "constants": {"event_type": "purchase", "item_id": "cd"},
        },
        quarantined={"malformed_line": 1},
        valid=2,
    ),
    "NA tokens in a CSV": Case(
        {"log.csv": HEADER + "NA,2024-03-01T10:00:00Z,view,C-3,null\n" + "".join(ROWS)},
        quarantined={"missing_user_id": 1},
        valid=4,
    ),
    "NA tokens in JSON lines": Case(
        {
            "log.jsonl": json.dumps(
                {
                    "user_id": "NA",
                    "timestamp": "2024-03-01T10:00:00Z",
                    "event_type": "view",
                    "item_id": "C-3",
                    "price": "N/A",
                }
            )
            + "\n"
            + JSONL
        },
        path="log.jsonl",
        fmt="jsonl",
        quarantined={"missing_user_id": 1},
        valid=4,
    ),
    "a byte-order mark before JSON lines": Case(
        {"log.jsonl": b"\xef\xbb\xbf" + JSONL.encode()}, path="log.jsonl", fmt="jsonl", valid=4
    ),
    "duplicate header names after a byte-order mark": Case(
        {"log.csv": b"\xef\xbb\xbfuser_id,timestamp,event_type,user_id\nu1,2024-03-01,view,u2\n"},
        match=r"log\.csv: columns 1 and 4 are both named 'user_id'",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(tmp_path, name):
    case = CASES[name]
    for file, content in case.files.items():
        write(tmp_path, file, content)
    if case.match is not None:
        with pytest.raises(SourceError, match=case.match):
            ingest(tmp_path, case.path, case.fmt, **case.source)
        return
    result = ingest(tmp_path, case.path, case.fmt, **case.source)
    assert_accounted(result)
    assert reasons(result) == case.quarantined
    if case.valid is not None:
        assert result.metrics["rows_valid"] == case.valid
    assert result.metrics["files_skipped"] == case.files_skipped


# --- malformed lines: what the quarantine keeps -------------------------------------------------


def test_a_malformed_line_is_quarantined_with_its_file_row_and_text(tmp_path):
    ragged = "u3,2024-03-01T12:00:00Z,view,C-3,1.0,surplus"
    write(tmp_path, "log.csv", HEADER + ROWS[0] + ROWS[1] + ragged + "\n" + ROWS[2] + ROWS[3])

    result = ingest(tmp_path, "log.csv")

    row = result.quarantine.iloc[0]
    assert len(result.quarantine) == 1
    assert (row["file"], row["row"], row["reason"], row["raw_line"]) == (
        "log.csv", 2, "malformed_line", ragged
    )  # fmt: skip
    assert result.metrics["rows_read"] == 5
    assert result.metrics["quarantined_malformed_line"] == 1
    assert "missing_user_id" not in reasons(result)  # its empty fields are not checked too
    assert any("1 malformed line(s)" in note and "line 4" in note for note in result.notes)


def test_good_rows_around_a_malformed_line_keep_their_row_numbers_and_types(tmp_path):
    text = "user_id,ts,event_type\nu1,1700000000,view\nu2,1700000060\nu3,1700000120,view\n"
    raw = read_source("csv", write(tmp_path, "log.csv", text), columns={"ts": "timestamp"})
    frame = raw.frame
    # good rows in file order, then the malformed one, each with its data row in the file
    assert frame["_row"].tolist() == [0, 2, 1]
    assert frame["_reject"].fillna("").tolist() == ["", "", "malformed_line"]
    assert frame["_raw_line"].fillna("").tolist() == ["", "", "u2,1700000060"]
    assert frame["user_id"].tolist()[:2] == ["u1", "u3"]
    assert pd.api.types.is_integer_dtype(frame["timestamp"].dtype)  # epochs stay whole numbers
    assert frame["timestamp"].iloc[1] == 1700000120


def test_a_malformed_line_in_an_adapter_file_is_quarantined(tmp_path):
    events = (
        "timestamp,visitorid,event,itemid,transactionid\n"
        "1433221332117,257597,view,355908,\n"
        "1433224214164,992329,view,248676\n"  # a field short
        "1433221999827,111016,view,318965,,extra\n"
        "1433221955914,483717,view,253185,\n"
    )
    write(tmp_path, "events.csv", events)
    result = ingest(tmp_path, "events.csv", "retailrocket")
    assert_accounted(result)
    assert reasons(result) == {"malformed_line": 2}  # a field short, a field too many
    assert result.quarantine["row"].tolist() == [1, 2]


def test_a_malformed_line_survives_an_adapter_that_rebuilds_its_frame(tmp_path):
    retail = (
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "536365,85123A,WHITE HANGING HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom\n"
        "536366,22633,HAND WARMER,6,12/1/2010 8:28\n"
        "536367,84879,ASSORTED BIRD,32,12/1/2010 8:34,1.69,13047,United Kingdom\n"
    )
    write(tmp_path, "retail.csv", retail)
    result = ingest(tmp_path, "retail.csv", "online_retail")
    assert_accounted(result)
    assert reasons(result) == {"malformed_line": 1}
    assert result.quarantine["raw_line"].tolist() == ["536366,22633,HAND WARMER,6,12/1/2010 8:28"]


# --- delimiters, headers, names ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "sep"),
    [("log.csv", ";"), ("log.tsv", "\t"), ("log.txt", "|"), ("log.dat", ","), ("log.csv", "\t")],
)
def test_the_delimiter_is_sniffed(tmp_path, name, sep):
    write(tmp_path, name, LOG.replace(",", sep))
    frame = read_source("csv", tmp_path / name).frame
    assert frame["item_id"].tolist() == ["007", "007", "B-2", "B-2"]
    assert frame["price"].tolist() == [9.5, 9.5, 20.0, 20.0]


def test_an_explicit_sep_wins_over_sniffing(tmp_path):
    # semicolons are as regular as commas here; the user says the file is semicolon-separated
    text = "a;b,c\n1;2,3\n4;5,6\n"
    assert sniff_sep(text.encode()) == ","
    frame = read_files(write(tmp_path, "t.csv", text), "csv", sep=";")
    assert list(frame.columns[:2]) == ["a", "b,c"]


def test_sniffing_ignores_delimiters_inside_quotes():
    text = b'user_id,item\n"a;b;c",1\n"d;e",2\n'
    assert sniff_sep(text) == ","


def test_a_whitespace_ledger_without_header(tmp_path):
    ledger = "00001 19970101  1  11.77\n00002 19970112  1  12.00\n  00002\t19970112 5 77.00\n"
    path = write(tmp_path, "CDNOW_master.txt", ledger)
    names = ["user_id", "timestamp", "quantity", "price"]
    frame = read_source(
        "csv",
        path,
        sep="whitespace",
        header=False,
        names=names,
        constants={"event_type": "purchase"},
    ).frame
    assert frame["user_id"].tolist() == ["00001", "00002", "00002"]  # identifiers stay text
    assert frame["quantity"].tolist() == [1, 1, 5]
    assert "_reject" not in frame
    assert sniff_sep(ledger.encode()) == "whitespace"


def test_no_header_with_names_taobao_shape(tmp_path):
    lines = "1,2268318,2520377,pv,1511544070\n1,2333346,2520771,pv,1511561733\n"
    path = write(tmp_path, "UserBehavior.csv", lines + "1,2576651,149192\n")
    names = ["user_id", "item_id", "category", "event_type", "timestamp"]
    result = ingest(
        tmp_path, path, header=False, names=names, event_types={"pv": "view"}, timestamp_unit="s"
    )
    assert_accounted(result)
    assert reasons(result) == {"malformed_line": 1}
    assert sorted(result.events["item_id"]) == ["2268318", "2333346"]


def test_folder_lists_text_files_compressed_or_not_and_skips_documentation(tmp_path):
    folder = tmp_path / "logs"
    write(folder, "a.tsv", LOG.replace(",", "\t"))
    write(folder, "b.txt.bz2", bz2.compress(LOG.encode()))
    write(folder, "c.dat", LOG)
    write(folder, "README.txt", "These are the logs.\nOne line, then another.\n")
    raw = read_source("csv", folder)
    assert raw.frame["_file"].unique().tolist() == ["a.tsv", "b.txt.bz2", "c.dat"]
    assert raw.files_skipped == 1
    assert [n for n in raw.notes if "README.txt" in n] == [
        f"{folder / 'README.txt'}: skipped (documentation, not data)"
    ]


def test_skipped_files_are_noted_on_the_result(tmp_path):
    write(tmp_path, "logs/a.csv", LOG)
    write(tmp_path, "logs/b.csv", "")
    write(tmp_path, "logs/c.csv", HEADER)
    result = ingest(tmp_path, "logs")
    assert result.metrics["files_skipped"] == 2
    skipped = [note for note in result.notes if note.endswith("; skipped")]
    assert [Path(n.split(":")[0]).name for n in skipped] == ["b.csv", "c.csv"]


# --- compression and encoding -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gzip", "bz2", "xz", "zstd", "zip"])
def test_compression_is_read_from_the_content(tmp_path, kind):
    data = compress(kind, LOG.encode())
    assert detect_compression(data[:8]) == kind
    frame = read_source("csv", write(tmp_path, "plain-name.csv", data)).frame
    assert frame["item_id"].tolist() == ["007", "007", "B-2", "B-2"]


def test_a_gz_name_on_plain_text_is_read_as_text(tmp_path):
    frame = read_source("csv", write(tmp_path, "log.csv.gz", LOG)).frame
    assert len(frame) == 4


def test_a_malformed_line_in_a_compressed_file(tmp_path):
    data = gzip.compress((LOG + "u3,2024-03-01T12:00:00Z\n").encode())
    raw = read_source("csv", write(tmp_path, "log.csv", data))
    assert raw.frame["_reject"].fillna("").tolist() == [""] * 4 + ["malformed_line"]


def test_encoding_latin1_reads_the_pound_sign(tmp_path):
    text = LOG + "u3,2024-03-01T12:00:00Z,view,Gift \xa340,1.0\n"
    path = write(tmp_path, "log.csv", text.encode("latin-1"))
    frame = read_source("csv", path, encoding="latin-1").frame
    assert frame["item_id"].iloc[-1] == "Gift £40"


def test_an_undecodable_byte_in_a_later_chunk_names_its_line(tmp_path, monkeypatch):
    monkeypatch.setattr("personalab.ingest.sources.lines.CHUNK_BYTES", 64)
    text = LOG * 5 + "u3,2024-03-01T12:00:00Z,view,\xa3,1.0\n"
    path = write(tmp_path, "log.csv", text.encode("latin-1"))
    with pytest.raises(SourceError, match=r"log\.csv: line 26: byte 0xa3 is not valid utf-8"):
        read_source("csv", path)


def test_an_undecodable_byte_in_json_lines_names_its_line(tmp_path):
    path = write(tmp_path, "log.jsonl", (JSONL + '{"user_id": "\xa3"}\n').encode("latin-1"))
    with pytest.raises(SourceError, match=r"log\.jsonl: line 5: byte 0xa3 is not valid utf-8"):
        read_source("jsonl", path)


# --- missing values: one list for every format --------------------------------------------------


def test_missing_tokens_mean_missing_in_csv_jsonl_and_parquet(tmp_path):
    values = ["na", "-", "0", "-NaN", "#NA", "1.#QNAN"]  # pandas' own list takes the last three
    tokens = list(MISSING_TOKENS) + values
    frame = pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(len(tokens))],
            "timestamp": "2024-03-01T10:00:00Z",
            "event_type": "view",
            "category": tokens,
        }
    )
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet", index=False)
    write(tmp_path, "t.jsonl", "".join(json.dumps(r) + "\n" for r in frame.to_dict("records")))
    expected = [True] * len(MISSING_TOKENS) + [False] * len(values)
    for fmt in ("csv", "parquet", "jsonl"):
        category = read_source(fmt, tmp_path / f"t.{fmt}").frame["category"]
        assert category.isna().tolist() == expected, fmt


def test_missing_tokens_in_a_categorical_parquet_column(tmp_path):
    frame = pd.DataFrame(
        {
            "user_id": ["u1", "u2"],
            "timestamp": "2024-03-01T10:00:00Z",
            "event_type": "view",
            "device": pd.Categorical(["mobile", "N/A"]),
        }
    )
    frame.to_parquet(tmp_path / "t.parquet", index=False)
    assert read_source("parquet", tmp_path / "t.parquet").frame["device"].isna().tolist() == [
        False,
        True,
    ]


def test_duplicate_parquet_column_names_stop(tmp_path):
    table = pa.table([["u1"], ["u2"], ["view"]], names=["user_id", "user_id", "event_type"])
    pq.write_table(table, tmp_path / "t.parquet")
    with pytest.raises(SourceError, match=r"t\.parquet: .*user_id"):
        read_source("parquet", tmp_path / "t.parquet")


# --- the fast path ------------------------------------------------------------------------------


def test_scan_counts_fields_across_chunk_boundaries(tmp_path, monkeypatch):
    monkeypatch.setattr("personalab.ingest.sources.lines.CHUNK_BYTES", 7)
    text = 'a,b,c\n1,"x\ny",3\n\n4,5\n   \n6,7,8,9\n10,11,12'
    path = write(tmp_path, "t.csv", text)
    with open(path, "rb") as stream:
        scan = scan_lines(stream, path, ",", header=True, n_names=None, encoding="utf-8")
    assert (scan.header, scan.expected, scan.records) == (["a", "b", "c"], 3, 4)
    assert [(b.record, b.line, b.fields, b.text) for b in scan.bad] == [
        (1, 5, 2, "4,5"),
        (2, 7, 4, "6,7,8,9"),
    ]


def test_a_large_file_with_a_few_bad_lines_reads_fast(tmp_path):
    n = 200_000
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "user_id": rng.integers(0, 1000, n).astype(str),
            "timestamp": rng.integers(1_700_000_000, 1_700_100_000, n),
            "event_type": "view",
        }
    )
    lines = frame.to_csv(index=False).splitlines(keepends=True)
    lines[1000] = "1,2\n"
    lines[150_000] = "1,2,3,4\n"
    path = write(tmp_path, "big.csv", "".join(lines))
    start = time.perf_counter()
    raw = read_source("csv", path)
    elapsed = time.perf_counter() - start
    malformed = raw.frame["_reject"].notna()
    assert raw.frame.loc[malformed, "_row"].tolist() == [999, 149_999]
    assert sorted(raw.frame["_row"]) == list(range(n))
    assert elapsed < 10, elapsed  # a generous bound: about 0.3 s here


def test_identifiers_stay_text(tmp_path):
    frame = read_source("csv", write(tmp_path, "log.csv", LOG)).frame
    assert frame["item_id"].tolist() == ["007", "007", "B-2", "B-2"]


def test_error_messages_name_the_file(tmp_path):
    path = write(tmp_path, "x.csv", b"user_id,timestamp,event_type\nu1,\xff,view\n")
    with pytest.raises(SourceError, match="^" + re.escape(f"{path}: line 2: byte 0xff")):
        read_source("csv", path)
