"""Unit tests for :mod:`personalab.ingest.sources`: generic readers, their errors, and the adapters.

Every fixture file is a few hand-made rows written into ``tmp_path``. Adapters are also run
end to end through :func:`personalab.ingest.pipeline.process_events` to check the rows they produce
validate as intended.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from personalab.ingest.params import IngestParams
from personalab.ingest.pipeline import IngestResult, process_events
from personalab.ingest.sources import REJECT_COLUMN, RawEvents, SourceError, read_source
from tests.unit.ingest.bad_inputs import ingest as ingest_file

# The retailrocket, rees46, movielens and online_retail files have no event_id column (nor do
# most generic fixtures): process_events gives such a row the id ``row-<pos>``, ``pos`` being
# the first row read with the same content (personalab.ingest.duplicates.with_content_ids), so
# identical rows count as re-sends.


# --- helpers ------------------------------------------------------------------------------------


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_frame(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` in the format its file extension names (csv, csv.gz, tsv, parquet, jsonl)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    name = path.name
    if name.endswith((".csv", ".csv.gz")):
        frame.to_csv(path, index=False)
    elif name.endswith(".tsv"):
        frame.to_csv(path, index=False, sep="\t")
    elif name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    elif name.endswith(".jsonl"):
        path.write_text("".join(json.dumps(rec) + "\n" for rec in frame.to_dict("records")))
    else:
        raise AssertionError(f"no writer for {name}")
    return path


def error_match(path: Path, detail: str) -> str:
    """Regex for a SourceError message: starts with the file's path, then ``detail`` (regex)."""
    return "^" + re.escape(f"{path}: ") + detail


def ingest(raw: RawEvents) -> IngestResult:
    return process_events(raw, IngestParams(max_quarantine_rate=1.0))


def assert_accounted(result: IngestResult) -> None:
    m = result.metrics
    assert m["rows_read"] == (
        m["rows_valid"] + m["rows_quarantined"] + m["duplicates_removed"] + m["bot_events_removed"]
    )


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def by_item(events: pd.DataFrame) -> pd.DataFrame:
    """Valid events in a stable order for comparisons (process_events sorts by user and time)."""
    return events.sort_values(["timestamp", "item_id"]).reset_index(drop=True)


GENERIC_FORMATS = ("csv", "parquet", "jsonl")
EXTENSION = {"csv": ".csv", "parquet": ".parquet", "jsonl": ".jsonl"}

CANONICAL_ROWS = pd.DataFrame(
    {
        "user_id": ["u1", "u2", "u1"],
        "timestamp": ["2024-03-01T10:00:00Z", "2024-03-01T10:05:00Z", "2024-03-01T10:07:30Z"],
        "event_type": ["view", "add_to_cart", "purchase"],
        "item_id": ["007", "B-2", "007"],
        "price": [9.5, 20.0, 9.5],
        "referrer": ["ads", "mail", "ads"],  # not canonical: dropped
        "_note": ["a", "b", "c"],  # not canonical either, despite the underscore
    }
)

OTHER_NAMES_ROWS = pd.DataFrame(
    {
        "visitor": ["v1", "v1", "v2"],
        "ts": [1700000000000, 1700000060000, 1700000120000],
        "action": ["view", "addtocart", "buy"],
        "sku": ["S-1", "S-2", "S-1"],
        "referrer": ["ads", "mail", "ads"],
    }
)
OTHER_NAMES_MAPPING = {
    "visitor": "user_id",
    "ts": "timestamp",
    "action": "event_type",
    "sku": "item_id",
}


# --- generic readers ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", GENERIC_FORMATS)
def test_identity_mapping_keeps_canonical_columns_and_drops_the_rest(tmp_path, fmt):
    path = write_frame(CANONICAL_ROWS, tmp_path / f"events{EXTENSION[fmt]}")

    raw = read_source(fmt, path)

    frame = raw.frame
    assert list(frame.columns) == [
        "user_id",
        "timestamp",
        "event_type",
        "item_id",
        "price",
        "_file",
        "_row",
    ]
    assert frame["user_id"].tolist() == ["u1", "u2", "u1"]
    assert frame["timestamp"].tolist() == CANONICAL_ROWS["timestamp"].tolist()  # left as read
    assert frame["event_type"].tolist() == ["view", "add_to_cart", "purchase"]
    assert frame["item_id"].tolist() == ["007", "B-2", "007"]  # identifiers keep leading zeros
    assert frame["price"].tolist() == [9.5, 20.0, 9.5]
    assert frame["_file"].tolist() == [path.name] * 3
    assert frame["_row"].tolist() == [0, 1, 2]
    assert raw.description == str(path)
    assert raw.timestamp_unit is None
    assert raw.timestamp_format is None
    assert not raw.has_event_id


@pytest.mark.parametrize("fmt", GENERIC_FORMATS)
def test_columns_constants_and_event_types_mapping(tmp_path, fmt):
    path = write_frame(OTHER_NAMES_ROWS, tmp_path / f"log{EXTENSION[fmt]}")

    raw = read_source(
        fmt,
        path,
        columns=OTHER_NAMES_MAPPING,
        constants={"channel": "web"},
        event_types={"addtocart": "add_to_cart", "buy": "purchase"},
        timestamp_unit="ms",
    )

    frame = raw.frame
    assert sorted(frame.columns) == sorted(
        ["user_id", "timestamp", "event_type", "item_id", "channel", "_file", "_row"]
    )
    assert frame["user_id"].tolist() == ["v1", "v1", "v2"]
    assert frame["timestamp"].tolist() == [1700000000000, 1700000060000, 1700000120000]
    # mapped names are translated, unmapped ones ("view") kept as they are
    assert frame["event_type"].tolist() == ["view", "add_to_cart", "purchase"]
    assert frame["item_id"].tolist() == ["S-1", "S-2", "S-1"]
    assert frame["channel"].tolist() == ["web"] * 3
    assert raw.timestamp_unit == "ms"


def test_timestamp_format_is_passed_through(tmp_path):
    path = write_frame(CANONICAL_ROWS, tmp_path / "events.csv")
    raw = read_source("csv", path, timestamp_format="%Y-%m-%dT%H:%M:%SZ")
    assert raw.timestamp_format == "%Y-%m-%dT%H:%M:%SZ"
    assert raw.timestamp_unit is None


def test_constants_can_supply_a_required_column(tmp_path):
    path = write_text(
        tmp_path / "views.csv", "user_id,timestamp,item_id\nu1,2024-01-01T00:00:00Z,i1\n"
    )
    raw = read_source("csv", path, constants={"event_type": "view", "device": "mobile"})
    assert raw.frame["event_type"].tolist() == ["view"]
    assert raw.frame["device"].tolist() == ["mobile"]


def test_csv_ids_mapped_from_other_names_stay_text(tmp_path):
    path = write_text(
        tmp_path / "log.csv",
        "visitor,ts,action,sku,qty\n0042,2024-01-01T00:00:00Z,view,00017,2\n",
    )
    raw = read_source("csv", path, columns={**OTHER_NAMES_MAPPING, "qty": "quantity"})
    assert raw.frame["user_id"].tolist() == ["0042"]
    assert raw.frame["item_id"].tolist() == ["00017"]
    assert raw.frame["quantity"].tolist() == [2]  # non-id columns are still inferred


def test_explicit_mapping_wins_over_a_same_named_file_column(tmp_path):
    path = write_text(
        tmp_path / "log.csv",
        "visitor,user_id,timestamp,event_type\nv1,internal-9,2024-01-01T00:00:00Z,view\n",
    )
    raw = read_source("csv", path, columns={"visitor": "user_id"})
    assert list(raw.frame.columns) == ["user_id", "timestamp", "event_type", "_file", "_row"]
    assert raw.frame["user_id"].tolist() == ["v1"]


@pytest.mark.parametrize("fmt", GENERIC_FORMATS)
def test_folder_reads_every_file_in_sorted_order(tmp_path, fmt):
    folder = tmp_path / "logs"
    rows = CANONICAL_ROWS.drop(columns=["referrer", "_note"])
    write_frame(rows.iloc[2:], folder / f"b{EXTENSION[fmt]}")
    write_frame(rows.iloc[:2], folder / f"a{EXTENSION[fmt]}")
    write_text(folder / "README.txt", "not data")

    frame = read_source(fmt, folder).frame

    assert frame["_file"].tolist() == [f"a{EXTENSION[fmt]}"] * 2 + [f"b{EXTENSION[fmt]}"]
    assert frame["_row"].tolist() == [0, 1, 0]
    assert frame["user_id"].tolist() == ["u1", "u2", "u1"]
    assert frame["event_type"].tolist() == ["view", "add_to_cart", "purchase"]
    assert frame.index.tolist() == [0, 1, 2]


def test_csv_folder_with_mixed_extensions_and_mapping(tmp_path):
    folder = tmp_path / "logs"
    write_frame(OTHER_NAMES_ROWS.iloc[[2]], folder / "c.tsv")
    write_frame(OTHER_NAMES_ROWS.iloc[[0]], folder / "a.csv")
    write_frame(OTHER_NAMES_ROWS.iloc[[1]], folder / "b.csv.gz")
    write_text(folder / "notes.json", "{}")
    with gzip.open(folder / "b.csv.gz", "rt") as fh:  # really compressed
        assert fh.readline().startswith("visitor,ts")

    frame = read_source("csv", folder, columns=OTHER_NAMES_MAPPING).frame

    assert frame["_file"].tolist() == ["a.csv", "b.csv.gz", "c.tsv"]
    assert frame["_row"].tolist() == [0, 0, 0]
    assert frame["event_type"].tolist() == ["view", "addtocart", "buy"]
    assert frame["item_id"].tolist() == ["S-1", "S-2", "S-1"]
    assert "referrer" not in frame.columns


def test_folder_skips_a_header_only_file_next_to_data(tmp_path):
    folder = tmp_path / "logs"
    write_text(folder / "a.csv", "user_id,timestamp,event_type\n")
    write_text(folder / "b.csv", "user_id,timestamp,event_type\nu1,2024-01-01T00:00:00Z,view\n")
    frame = read_source("csv", folder).frame
    assert frame["_file"].tolist() == ["b.csv"]
    assert frame["_row"].tolist() == [0]


def test_has_event_id_when_the_file_has_ids(tmp_path):
    path = write_text(
        tmp_path / "e.csv",
        "event_id,user_id,timestamp,event_type\ne1,u1,2024-01-01T00:00:00Z,view\n",
    )
    raw = read_source("csv", path)
    assert raw.has_event_id
    assert raw.frame["event_id"].tolist() == ["e1"]


# --- errors -------------------------------------------------------------------------------------


def test_mapping_a_column_the_file_lacks(tmp_path):
    path = write_frame(OTHER_NAMES_ROWS, tmp_path / "log.csv")
    with pytest.raises(
        SourceError,
        match=error_match(
            path,
            r"source\.columns maps column\(s\) 'visitor_id' that the file lacks \(have: visitor, ts, action, sku, referrer\)",
        ),
    ):
        read_source("csv", path, columns={"visitor_id": "user_id", "ts": "timestamp"})


def test_mapping_to_a_non_canonical_target(tmp_path):
    path = write_frame(OTHER_NAMES_ROWS, tmp_path / "log.parquet")
    with pytest.raises(
        SourceError,
        match=error_match(
            path, "source.columns maps 'visitor' to 'visitor_id', which is not a canonical column"
        ),
    ):
        read_source("parquet", path, columns={**OTHER_NAMES_MAPPING, "visitor": "visitor_id"})


def test_mapping_two_columns_to_one_target(tmp_path):
    path = write_frame(OTHER_NAMES_ROWS, tmp_path / "log.csv")
    with pytest.raises(
        SourceError, match=error_match(path, "source.columns maps several columns to 'user_id'")
    ):
        read_source("csv", path, columns={**OTHER_NAMES_MAPPING, "referrer": "user_id"})


@pytest.mark.parametrize("fmt", GENERIC_FORMATS)
def test_required_columns_missing_after_mapping(tmp_path, fmt):
    path = write_frame(OTHER_NAMES_ROWS, tmp_path / f"log{EXTENSION[fmt]}")
    with pytest.raises(
        SourceError,
        match=error_match(
            path,
            r"required column\(s\) timestamp, event_type missing after mapping \(have: user_id, item_id\)",
        ),
    ):
        read_source(fmt, path, columns={"visitor": "user_id", "sku": "item_id"})


def test_required_event_type_missing_with_an_event_types_mapping(tmp_path):
    path = write_frame(OTHER_NAMES_ROWS, tmp_path / "log.csv")
    with pytest.raises(
        SourceError,
        match=error_match(path, r"required column\(s\) event_type missing after mapping"),
    ):
        read_source(
            "csv",
            path,
            columns={"visitor": "user_id", "ts": "timestamp"},
            event_types={"buy": "purchase"},
        )


def test_constant_for_a_non_canonical_column(tmp_path):
    path = write_frame(CANONICAL_ROWS, tmp_path / "events.csv")
    with pytest.raises(
        SourceError, match=error_match(path, "constant field 'site' is not a canonical column")
    ):
        read_source("csv", path, constants={"site": "shop"})


@pytest.mark.parametrize("fmt", GENERIC_FORMATS)
def test_zero_byte_file(tmp_path, fmt):
    path = write_text(tmp_path / f"empty{EXTENSION[fmt]}", "")
    with pytest.raises(SourceError, match=error_match(path, r"empty file \(0 bytes\)$")):
        read_source(fmt, path)


def test_header_only_csv(tmp_path):
    path = write_text(tmp_path / "header.csv", "user_id,timestamp,event_type\n")
    with pytest.raises(SourceError, match=error_match(path, r"empty file \(no data rows\)$")):
        read_source("csv", path)


def test_blank_line_csv_has_no_header(tmp_path):
    path = write_text(tmp_path / "blank.csv", "\n\n")
    with pytest.raises(SourceError, match=error_match(path, r"empty file \(no header or rows\)$")):
        read_source("csv", path)


@pytest.mark.parametrize(
    "fmt", ["csv", "parquet", "jsonl", "retailrocket", "rees46", "movielens", "online_retail"]
)
def test_missing_path(tmp_path, fmt):
    path = tmp_path / "nowhere" / "events.csv"
    with pytest.raises(SourceError, match=error_match(path, "no such file or folder$")):
        read_source(fmt, path)


def test_corrupt_parquet(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(SourceError, match=error_match(path, "cannot read as parquet: ")):
        read_source("parquet", path)


def test_corrupt_jsonl(tmp_path):
    path = write_text(tmp_path / "broken.jsonl", '{"user_id": "u1", "timestamp": \n')
    with pytest.raises(SourceError, match=error_match(path, "cannot read as jsonl: ")):
        read_source("jsonl", path)


@pytest.mark.parametrize(
    ("fmt", "extensions"),
    [
        ("csv", ".csv, .tsv, .txt, .dat, compressed or not"),
        ("parquet", ".parquet, .pq"),
        ("jsonl", ".jsonl, .json, .ndjson, compressed or not"),
    ],
)
def test_folder_without_matching_files(tmp_path, fmt, extensions):
    folder = tmp_path / "logs"
    write_text(folder / "notes.md", "hello")  # .txt is read like CSV
    (folder / "sub.csv").mkdir()  # a folder with a matching name is not a file
    with pytest.raises(
        SourceError,
        match=error_match(folder, re.escape(f"folder holds no {fmt} file ({extensions})")),
    ):
        read_source(fmt, folder)


def test_unknown_format(tmp_path):
    path = write_frame(CANONICAL_ROWS, tmp_path / "events.csv")
    with pytest.raises(
        SourceError,
        match=error_match(
            path,
            "unknown source format 'xml'; expected one of: synthetic, csv, parquet, jsonl, retailrocket",
        ),
    ):
        read_source("xml", path)


def test_source_error_is_a_value_error():
    assert issubclass(SourceError, ValueError)


# --- generic source end to end ------------------------------------------------------------------


def test_generic_csv_with_event_ids_end_to_end(tmp_path):
    path = write_text(
        tmp_path / "log.csv",
        "eid,visitor,ts,action,sku\n"
        "e1,v1,1700000000,view,S-1\n"
        "e2,v1,1700000060,addtocart,S-1\n"
        "e2,v1,1700000060,addtocart,S-1\n"  # duplicate event id
        "e3,v2,1700000120,teleport,S-2\n",  # unknown event type
    )

    def read() -> RawEvents:
        return read_source(
            "csv",
            path,
            columns={**OTHER_NAMES_MAPPING, "eid": "event_id"},
            constants={"channel": "web"},
            event_types={"addtocart": "add_to_cart"},
            timestamp_unit="s",
        )

    result = ingest(read())

    events = result.events
    assert events["event_id"].tolist() == ["e1", "e2"]
    assert events["timestamp"].tolist() == [utc("2023-11-14 22:13:20"), utc("2023-11-14 22:14:20")]
    assert events["event_type"].astype(str).tolist() == ["view", "add_to_cart"]
    assert events["channel"].astype(str).tolist() == ["web", "web"]
    quarantine = result.quarantine
    assert quarantine[["file", "row", "reason"]].to_dict("records") == [
        {"file": "log.csv", "row": 3, "reason": "unknown_event_type"}
    ]
    assert result.metrics["rows_read"] == 4
    assert result.metrics["duplicates_removed"] == 1
    assert_accounted(result)
    # a second run needs a fresh RawEvents (process_events releases raw.frame) and agrees
    assert ingest(read()).metrics["rows_valid"] == 2


# --- retailrocket -------------------------------------------------------------------------------

RETAILROCKET_CSV = (
    "timestamp,visitorid,event,itemid,transactionid\n"
    "1433221332117,257597,view,355908,\n"
    "1433224214164,992329,addtocart,248676,\n"
    "1433221999827,111016,transaction,318965,4000\n"
    "1433223236124,257597,view,5206,\n"
)


def test_retailrocket_reader(tmp_path):
    path = write_text(tmp_path / "events.csv", RETAILROCKET_CSV)

    raw = read_source("retailrocket", path)

    frame = raw.frame
    assert list(frame.columns) == ["timestamp", "user_id", "event_type", "item_id", "_file", "_row"]
    assert frame["event_type"].tolist() == ["view", "add_to_cart", "purchase", "view"]
    assert frame["user_id"].tolist() == ["257597", "992329", "111016", "257597"]
    assert frame["item_id"].tolist() == ["355908", "248676", "318965", "5206"]
    assert frame["timestamp"].tolist() == [
        1433221332117,
        1433224214164,
        1433221999827,
        1433223236124,
    ]
    assert frame["_row"].tolist() == [0, 1, 2, 3]
    assert raw.timestamp_unit == "ms"
    assert raw.description == f"retailrocket {path}"


def test_retailrocket_folder_reads_events_csv_only(tmp_path):
    write_text(tmp_path / "events.csv", RETAILROCKET_CSV)
    write_text(tmp_path / "category_tree.csv", "categoryid,parentid\n1016,213\n")
    frame = read_source("retailrocket", tmp_path).frame
    assert frame["_file"].unique().tolist() == ["events.csv"]
    assert len(frame) == 4


def test_retailrocket_event_types_can_be_remapped(tmp_path):
    path = write_text(tmp_path / "events.csv", RETAILROCKET_CSV)
    frame = read_source("retailrocket", path, event_types={"view": "click"}).frame
    assert frame["event_type"].tolist() == ["click", "add_to_cart", "purchase", "click"]


def test_retailrocket_wrong_columns(tmp_path):
    path = write_text(tmp_path / "events.csv", "timestamp,user,event,itemid\n1,2,view,3\n")
    with pytest.raises(
        SourceError,
        match=error_match(
            path,
            r"not a retailrocket file: column\(s\) visitorid missing \(have: timestamp, user, event, itemid\)",
        ),
    ):
        read_source("retailrocket", path)


def test_retailrocket_end_to_end(tmp_path):
    path = write_text(tmp_path / "events.csv", RETAILROCKET_CSV)

    result = ingest(read_source("retailrocket", path))

    events = by_item(result.events)
    assert events["timestamp"].tolist() == [
        utc("2015-06-02 05:02:12.117"),
        utc("2015-06-02 05:13:19.827"),
        utc("2015-06-02 05:33:56.124"),
        utc("2015-06-02 05:50:14.164"),
    ]
    assert events["event_type"].astype(str).tolist() == ["view", "purchase", "view", "add_to_cart"]
    assert events["user_id"].tolist() == ["257597", "111016", "257597", "992329"]
    assert events["item_id"].tolist() == ["355908", "318965", "5206", "248676"]
    assert result.metrics["rows_read"] == 4
    assert result.metrics["rows_valid"] == 4
    assert result.metrics["rows_quarantined"] == 0
    assert_accounted(result)


# --- rees46 -------------------------------------------------------------------------------------

REES46_CSV = (
    "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n"
    "2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,72d76fde-8bb3-4e00-8c23-a032dfed738c\n"
    "2019-10-01 00:00:05 UTC,cart,3900821,2053013552326770905,appliances.environment.water_heater,aqua,33.20,554748717,9333dfbd-b87a-4708-9857-6336556b0fcc\n"
    "2019-10-01 00:01:00 UTC,remove_from_cart,3900821,2053013552326770905,appliances.environment.water_heater,aqua,33.20,554748717,9333dfbd-b87a-4708-9857-6336556b0fcc\n"
    "2019-10-01 00:02:00 UTC,purchase,3900821,2053013552326770905,appliances.environment.water_heater,aqua,33.20,554748717,9333dfbd-b87a-4708-9857-6336556b0fcc\n"
)
SESSION_A = "72d76fde-8bb3-4e00-8c23-a032dfed738c"
SESSION_B = "9333dfbd-b87a-4708-9857-6336556b0fcc"
WATER_HEATER = "appliances.environment.water_heater"


def test_rees46_reader(tmp_path):
    path = write_text(tmp_path / "2019-Oct.csv", REES46_CSV)

    raw = read_source("rees46", path)

    frame = raw.frame
    assert sorted(frame.columns) == sorted(
        [
            "timestamp",
            "event_type",
            "item_id",
            "price",
            "user_id",
            "session_id",
            "category",
            "_file",
            "_row",
        ]
    )
    assert frame["event_type"].tolist() == ["view", "add_to_cart", "remove_from_cart", "purchase"]
    assert frame["timestamp"].tolist() == [
        "2019-10-01 00:00:00", "2019-10-01 00:00:05", "2019-10-01 00:01:00", "2019-10-01 00:02:00",
    ]  # fmt: skip
    assert frame["session_id"].tolist() == [SESSION_A, SESSION_B, SESSION_B, SESSION_B]
    # empty category_code falls back to category_id (kept as text: no float rounding)
    assert frame["category"].tolist() == [
        "2103807459595387724",
        WATER_HEATER,
        WATER_HEATER,
        WATER_HEATER,
    ]
    assert frame["item_id"].tolist() == ["44600062", "3900821", "3900821", "3900821"]
    assert frame["user_id"].tolist() == ["541312140", "554748717", "554748717", "554748717"]
    assert frame["price"].tolist() == [35.79, 33.2, 33.2, 33.2]
    assert raw.timestamp_format == "%Y-%m-%d %H:%M:%S"
    assert raw.description == f"rees46 {path}"


def test_rees46_folder_of_monthly_files(tmp_path):
    header, *lines = REES46_CSV.splitlines(keepends=True)
    write_text(tmp_path / "2019-Nov.csv", header + "".join(lines[2:]))
    write_text(tmp_path / "2019-Oct.csv", header + "".join(lines[:2]))
    frame = read_source("rees46", tmp_path).frame
    assert frame["_file"].tolist() == [
        "2019-Nov.csv",
        "2019-Nov.csv",
        "2019-Oct.csv",
        "2019-Oct.csv",
    ]
    assert frame["_row"].tolist() == [0, 1, 0, 1]
    assert frame["event_type"].tolist() == ["remove_from_cart", "purchase", "view", "add_to_cart"]


def test_rees46_wrong_columns(tmp_path):
    path = write_text(
        tmp_path / "2019-Oct.csv", "event_time,event_type,user_id\n2019-10-01 00:00:00 UTC,view,1\n"
    )
    with pytest.raises(
        SourceError, match=error_match(path, r"not a rees46 file: column\(s\) product_id missing")
    ):
        read_source("rees46", path)


def test_rees46_end_to_end(tmp_path):
    path = write_text(tmp_path / "2019-Oct.csv", REES46_CSV)

    result = ingest(read_source("rees46", path))

    events = result.events.sort_values("timestamp").reset_index(drop=True)
    assert events["timestamp"].tolist() == [
        utc("2019-10-01 00:00:00"), utc("2019-10-01 00:00:05"), utc("2019-10-01 00:01:00"), utc("2019-10-01 00:02:00"),
    ]  # fmt: skip
    assert events["event_type"].astype(str).tolist() == [
        "view",
        "add_to_cart",
        "remove_from_cart",
        "purchase",
    ]
    assert events["session_id"].tolist() == [SESSION_A, SESSION_B, SESSION_B, SESSION_B]
    assert events["category"].astype(str).tolist() == [
        "2103807459595387724",
        WATER_HEATER,
        WATER_HEATER,
        WATER_HEATER,
    ]
    assert events["price"].tolist() == [35.79, 33.2, 33.2, 33.2]
    assert result.metrics["rows_valid"] == 4
    assert result.metrics["sessions"] == 2
    assert_accounted(result)


# --- movielens ----------------------------------------------------------------------------------

MOVIELENS_LAYOUTS = {
    "u.data": (
        "196\t242\t3\t881250949\n186\t302\t3\t891717742\n",
        [("196", "242", 3.0, 881250949), ("186", "302", 3.0, 891717742)],
    ),
    "ratings.dat": (
        "1::1193::5::978300760\n1::661::3::978302109\n",
        [("1", "1193", 5.0, 978300760), ("1", "661", 3.0, 978302109)],
    ),
    "ratings.csv": (
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.5,964981247\n",
        [("1", "1", 4.0, 964982703), ("1", "3", 4.5, 964981247)],
    ),
}
MOVIELENS_TIMES = {
    881250949: "1997-12-04 15:55:49", 891717742: "1998-04-04 19:22:22",
    978300760: "2000-12-31 22:12:40", 978302109: "2000-12-31 22:35:09",
    964982703: "2000-07-30 18:45:03", 964981247: "2000-07-30 18:20:47",
}  # fmt: skip


@pytest.mark.parametrize("via_folder", [False, True], ids=["file", "folder"])
@pytest.mark.parametrize("name", list(MOVIELENS_LAYOUTS))
def test_movielens_reader(tmp_path, name, via_folder):
    text, expected = MOVIELENS_LAYOUTS[name]
    path = write_text(tmp_path / "ml" / name, text)

    raw = read_source("movielens", path.parent if via_folder else path)

    frame = raw.frame
    assert sorted(frame.columns) == sorted(
        ["user_id", "item_id", "rating", "timestamp", "event_type", "_file", "_row"]
    )
    rows = list(
        zip(
            frame["user_id"],
            frame["item_id"],
            pd.to_numeric(frame["rating"]).astype(float),
            pd.to_numeric(frame["timestamp"]).astype(int),
            strict=True,
        )
    )
    assert rows == expected
    assert frame["event_type"].tolist() == ["rate", "rate"]
    assert frame["_file"].tolist() == [name, name]
    assert frame["_row"].tolist() == [0, 1]
    assert raw.timestamp_unit == "s"
    assert raw.description == f"movielens {path}"


def test_movielens_folder_prefers_ratings_csv(tmp_path):
    write_text(tmp_path / "u.data", MOVIELENS_LAYOUTS["u.data"][0])
    write_text(tmp_path / "ratings.csv", MOVIELENS_LAYOUTS["ratings.csv"][0])
    frame = read_source("movielens", tmp_path).frame
    assert frame["_file"].tolist() == ["ratings.csv", "ratings.csv"]


def test_movielens_folder_without_ratings(tmp_path):
    write_text(tmp_path / "movies.csv", "movieId,title\n1,Toy Story (1995)\n")
    with pytest.raises(
        SourceError,
        match=error_match(
            tmp_path, re.escape("no MovieLens ratings file (ratings.csv, ratings.dat, u.data)")
        ),
    ):
        read_source("movielens", tmp_path)


def test_movielens_dat_with_wrong_layout(tmp_path):
    path = write_text(tmp_path / "ratings.dat", "1::1193::5\n2::661::3\n")
    with pytest.raises(SourceError, match=error_match(path, "not a MovieLens ratings.dat file")):
        read_source("movielens", path)


def test_movielens_csv_with_wrong_columns(tmp_path):
    path = write_text(
        tmp_path / "ratings.csv", "user,movieId,rating,timestamp\n1,1,4.0,964982703\n"
    )
    with pytest.raises(
        SourceError, match=error_match(path, r"not a movielens file: column\(s\) userId missing")
    ):
        read_source("movielens", path)


@pytest.mark.parametrize("name", list(MOVIELENS_LAYOUTS))
def test_movielens_end_to_end(tmp_path, name):
    text, expected = MOVIELENS_LAYOUTS[name]
    write_text(tmp_path / name, text)

    result = ingest(read_source("movielens", tmp_path))

    events = result.events.sort_values(["user_id", "item_id"]).reset_index(drop=True)
    want = sorted(expected)
    assert events["user_id"].tolist() == [u for u, _, _, _ in want]
    assert events["item_id"].tolist() == [i for _, i, _, _ in want]
    assert events["rating"].tolist() == [r for _, _, r, _ in want]
    assert events["timestamp"].tolist() == [utc(MOVIELENS_TIMES[t]) for _, _, _, t in want]
    assert events["event_type"].astype(str).tolist() == ["rate", "rate"]
    assert result.metrics["rows_valid"] == 2
    assert_accounted(result)


# --- online retail ------------------------------------------------------------------------------

ONLINE_RETAIL_CSV = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850.0,United Kingdom\n"
    "536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850.0,United Kingdom\n"
    "C536379,D,Discount,-1,12/1/2010 9:41,27.5,14527.0,United Kingdom\n"
    "536370,22728,ALARM CLOCK BAKELIKE PINK,24,12/1/2010 8:45,3.75,12583.0,France\n"
    "536414,22139,,56,12/1/2010 11:52,0,,United Kingdom\n"
    "C536381,22633,HAND WARMER UNION JACK,2,12/1/2010 9:50,1.85,17850.0,United Kingdom\n"
)


def test_online_retail_reader(tmp_path):
    path = write_text(tmp_path / "Online Retail.csv", ONLINE_RETAIL_CSV)

    raw = read_source("online_retail", path)

    frame = raw.frame
    assert sorted(frame.columns) == sorted(
        [
            "user_id",
            "session_id",
            "timestamp",
            "event_type",
            "item_id",
            "price",
            "quantity",
            "_file",
            "_row",
            REJECT_COLUMN,
        ]
    )
    users = frame["user_id"]
    assert users.drop(index=4).tolist() == ["17850", "17850", "14527", "12583", "17850"]  # no ".0"
    # no CustomerID: identity auto keeps the guest's row under its invoice (the session)
    assert users.iloc[4] == "session:536414"
    assert frame["session_id"].tolist() == [
        "536365",
        "536365",
        "C536379",
        "536370",
        "536414",
        "C536381",
    ]
    assert frame["item_id"].tolist() == ["85123A", "71053", "D", "22728", "22139", "22633"]
    assert frame["event_type"].tolist() == ["purchase"] * 6
    assert frame["quantity"].tolist() == [6, 6, -1, 24, 56, 2]
    assert frame["price"].tolist() == [2.55, 3.39, 27.5, 3.75, 0.0, 1.85]
    assert frame["timestamp"].tolist()[:2] == ["12/1/2010 8:26", "12/1/2010 8:26"]
    rejects = frame[REJECT_COLUMN]
    assert rejects.loc[[2, 5]].tolist() == ["cancelled_invoice", "cancelled_invoice"]
    assert rejects.drop(index=[2, 5]).isna().all()
    assert frame["_row"].tolist() == [0, 1, 2, 3, 4, 5]
    assert raw.timestamp_format == "%m/%d/%Y %H:%M"
    assert raw.description == f"online_retail {path}"


def test_online_retail_iso_dates_need_no_format(tmp_path):
    path = write_text(
        tmp_path / "retail.csv",
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n",
    )
    raw = read_source("online_retail", path)
    assert raw.timestamp_format is None
    assert raw.frame["user_id"].tolist() == ["17850"]


def test_online_retail_wrong_columns(tmp_path):
    path = write_text(tmp_path / "retail.csv", "InvoiceNo,StockCode,Quantity\n1,2,3\n")
    with pytest.raises(
        SourceError,
        match=error_match(
            path,
            r"not a online_retail file: column\(s\) InvoiceDate, UnitPrice, CustomerID missing",
        ),
    ):
        read_source("online_retail", path)
    # a file under Online Retail II's names is checked under them
    path = write_text(tmp_path / "retail_ii.csv", "Invoice,StockCode,Quantity\n1,2,3\n")
    with pytest.raises(
        SourceError,
        match=error_match(
            path,
            r"not a online_retail \(Online Retail II\) file: column\(s\) InvoiceDate, Price, "
            r"Customer ID missing",
        ),
    ):
        read_source("online_retail", path)


#: Online Retail II (2009-2011) re-saved as CSV: three columns renamed, ISO dates
ONLINE_RETAIL_II_CSV = (
    "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
    "489434,85048,15CM CHRISTMAS GLASS BALL 20 LIGHTS,12,2009-12-01 07:45:00,6.95,13085.0,United Kingdom\n"
    "489434,79323P,PINK CHERRY LIGHTS,12,2009-12-01 07:45:00,6.75,13085.0,United Kingdom\n"
    "C489449,22087,PAPER BUNTING WHITE LACE,-12,2009-12-01 10:33:00,2.95,16321.0,Australia\n"
    "489464,21733,85123a mixed,-96,2009-12-01 10:52:00,0.0,,United Kingdom\n"
)


def test_online_retail_ii_reads_like_online_retail(tmp_path):
    path = write_text(tmp_path / "online_retail_II.csv", ONLINE_RETAIL_II_CSV)

    frame = read_source("online_retail", path).frame

    assert frame["user_id"].tolist()[:3] == ["13085", "13085", "16321"]
    assert frame["user_id"].iloc[3] == "session:489464"  # a guest, keyed by the invoice
    assert frame["session_id"].tolist() == ["489434", "489434", "C489449", "489464"]
    assert frame["item_id"].tolist() == ["85048", "79323P", "22087", "21733"]
    assert frame["price"].tolist() == [6.95, 6.75, 2.95, 0.0]
    assert frame["quantity"].tolist() == [12, 12, -12, -96]
    assert frame[REJECT_COLUMN].tolist()[2] == "cancelled_invoice"
    result = ingest(read_source("online_retail", path))
    assert by_item(result.events)["timestamp"].tolist() == [
        utc("2009-12-01 07:45"), utc("2009-12-01 07:45")
    ]  # fmt: skip


def test_online_retail_end_to_end(tmp_path):
    path = write_text(tmp_path / "Online Retail.csv", ONLINE_RETAIL_CSV)

    result = ingest(read_source("online_retail", path))

    events = by_item(result.events)
    assert events["timestamp"].tolist() == [
        utc("2010-12-01 08:26"),
        utc("2010-12-01 08:26"),
        utc("2010-12-01 08:45"),
        utc("2010-12-01 11:52"),
    ]
    assert events["item_id"].tolist() == ["71053", "85123A", "22728", "22139"]
    # the guest invoice (no CustomerID) stays, identified by its invoice (identity auto)
    assert events["user_id"].tolist() == ["17850", "17850", "12583", "session:536414"]
    assert events["session_id"].tolist() == ["536365", "536365", "536370", "536414"]
    assert events["event_type"].astype(str).tolist() == ["purchase"] * 4
    assert events["quantity"].tolist() == [6.0, 6.0, 24.0, 56.0]
    quarantine = result.quarantine.sort_values("row").reset_index(drop=True)
    assert quarantine[["file", "row", "reason"]].to_dict("records") == [
        {
            "file": "Online Retail.csv",
            "row": 2,
            "reason": "cancelled_invoice;non_positive_quantity",
        },
        {"file": "Online Retail.csv", "row": 5, "reason": "cancelled_invoice"},
    ]
    assert quarantine["session_id"].tolist() == ["C536379", "C536381"]
    metrics = result.metrics
    assert metrics["quarantined_cancelled_invoice"] == 2
    assert "quarantined_missing_user_id" not in metrics
    assert (metrics["rows_read"], metrics["rows_valid"], metrics["rows_quarantined"]) == (6, 4, 2)
    assert_accounted(result)


# --- mappings written in YAML as a user writes them ---------------------------------------------

TMALL = """user_id,item_id,cat_id,seller_id,brand_id,time_stamp,action_type
328862,323294,833,2882,2661,2015-08-29 10:00:00,0
328862,323294,833,2882,2661,2015-08-29 10:05:00,1
328862,323294,833,2882,2661,2015-08-29 10:09:00,2
234512,1049,662,2882,,2015-08-30 11:00:00,3
"""


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_numeric_event_codes_map_with_yaml_number_keys(tmp_path, fmt):
    """Tmall's ``action_type`` 0-3 (click, cart, purchase, favourite): YAML reads the keys of
    ``{0: click, ...}`` as numbers, which named no code before (a parameter error)."""
    frame = pd.read_csv(io.StringIO(TMALL), dtype={"brand_id": "Int64"})
    path = write_frame(frame, tmp_path / f"user_log{EXTENSION[fmt]}")
    source = yaml.safe_load(
        """
        columns: {time_stamp: timestamp, action_type: event_type, cat_id: category}
        event_types: {0: view, 1: add_to_cart, 2: purchase, 3: click}
        """
    )
    assert 0 in source["event_types"]
    result = ingest_file(tmp_path / "out", path, fmt, **source)
    assert result.metrics["rows_valid"] == 4
    assert result.events.sort_values("timestamp")["event_type"].tolist() == [
        "view", "add_to_cart", "purchase", "click",
    ]  # fmt: skip


def test_a_date_constant_written_unquoted_in_yaml_dates_every_row(tmp_path):
    """``constants: {timestamp: 2004-09-01}``: YAML gives a date object, not text."""
    path = write_text(tmp_path / "ratings.csv", "user,isbn,r\nu1,0195153448,7\nu2,0002005018,5\n")
    source = yaml.safe_load(
        """
        columns: {user: user_id, isbn: item_id, r: rating}
        constants: {event_type: rate, timestamp: 2004-09-01}
        """
    )
    result = ingest_file(tmp_path / "out", path, **source)
    assert result.metrics["rows_valid"] == 2
    assert set(result.events["timestamp"]) == {pd.Timestamp("2004-09-01", tz="UTC")}


def test_the_run_says_which_delimiter_was_sniffed_and_which_columns_were_dropped(tmp_path):
    rows = ["user\twhen\twhat\tartist_name\ttrack_name"]
    rows += [f"u{i}\t2017-11-25T01:{i:02d}:00Z\tview\tA\tT" for i in range(5)]
    path = tmp_path / "plays.tsv"
    path.write_text("\n".join(rows) + "\n")
    mapping = {"user": "user_id", "when": "timestamp", "what": "event_type"}
    result = ingest_file(tmp_path / "out", path, columns=mapping)
    assert f"{path}: fields separated by tab, as sniffed (source.sep sets it)" in result.notes
    assert (
        "columns: artist_name, track_name dropped (neither mapped in source.columns nor a "
        "canonical name); map one to a canonical column to keep it"
    ) in result.notes
    # a delimiter given and every column mapped: nothing to say
    mapping |= {"artist_name": "category", "track_name": "item_id"}
    result = ingest_file(tmp_path / "out2", path, columns=mapping, sep="\t")
    assert not [n for n in result.notes if "sniffed" in n or n.startswith("columns:")]
    # mapping one of them names only the other
    raw = read_source(
        "csv",
        path,
        columns={
            "user": "user_id",
            "when": "timestamp",
            "what": "event_type",
            "artist_name": "item_id",
        },
    )
    assert raw.notes[-1].startswith("columns: track_name dropped")
