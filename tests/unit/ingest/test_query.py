"""Unit tests of :mod:`personalab.ingest.sources.query`: mapping a source with one DuckDB SELECT.

The four README recipes run end to end (through params, as a user would) on small files
written in the documented shapes of the public logs: Diginetica ``train-item-views.csv``,
Instacart ``orders.csv`` + ``order_products__prior.csv``, a CDNOW-style whitespace ledger and
OTTO's ``train.jsonl`` (each session's events nested in one line).
Then the rules of the mapping (canonical columns, traceability, time zones) and a table of
bad queries, each ending in a named error or in quarantine reasons with every row accounted for.
"""

from __future__ import annotations

import io
import re
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml

from personalab.core.params import ParamsError
from personalab.ingest.sources import REJECT_COLUMN, SourceError, read_source
from personalab.ingest.sources.query import NUMBERED_FILE, run_query
from tests.unit.ingest.bad_inputs import assert_accounted, ingest, reasons, write

# --- the README recipes, verbatim ----------------------------------------------------------------

DIGINETICA_QUERY = """
SELECT coalesce(CAST(userId AS VARCHAR), 'session:' || sessionId) AS user_id,
       CAST(sessionId AS VARCHAR)                                 AS session_id,
       CAST(eventdate AS DATE) + to_milliseconds(timeframe)       AS timestamp,
       'view'                                                     AS event_type,
       CAST(itemId AS VARCHAR)                                    AS item_id
FROM raw
"""

INSTACART_QUERY = """
WITH orders AS (
  SELECT order_id, user_id, order_hour_of_day,
         sum(coalesce(days_since_prior_order, 0))
           OVER (PARTITION BY user_id ORDER BY order_number) AS day
  FROM raw WHERE _file = 'orders.csv'
)
SELECT o.user_id,
       CAST(o.order_id AS VARCHAR)                AS session_id,
       DATE '2017-01-01' + to_days(CAST(o.day AS INTEGER))
                         + to_hours(o.order_hour_of_day)
                         + to_seconds(coalesce(CAST(p.add_to_cart_order AS INTEGER), 1) - 1)
                                          AS timestamp,
       'purchase'                                 AS event_type,
       CAST(p.product_id AS VARCHAR)              AS item_id,
       p._file, p._row
FROM raw AS p JOIN orders AS o USING (order_id)
WHERE p._file LIKE 'order_products%'
"""

CDNOW_QUERY = """
SELECT CAST(customer_id AS VARCHAR)               AS user_id,
       strptime(CAST(date AS VARCHAR), '%Y%m%d')  AS timestamp,
       'purchase'                                 AS event_type,
       'unspecified'                              AS item_id,
       quantity,
       amount / nullif(quantity, 0)               AS price
FROM raw
"""

OTTO_QUERY = """
SELECT CAST(session AS VARCHAR)  AS session_id,
       e.ts                      AS timestamp,
       e.type                    AS event_type,
       CAST(e.aid AS VARCHAR)    AS item_id,
       _file, _row
FROM raw, UNNEST(events) AS u(e)
"""
OTTO_TYPES = {"clicks": "view", "carts": "add_to_cart", "orders": "purchase"}

# files in the documented shapes (Diginetica: ';'-separated, userId mostly empty; CDNOW: no
# header, runs of spaces, dates as yyyymmdd numbers)
DIGINETICA = """sessionId;userId;itemId;timeframe;eventdate
1;;81766;526309;2016-05-09
1;;31331;1031018;2016-05-09
2;278;32118;243569;2016-05-09
2;278;;250000;2016-05-09
3;;9654;75848;2016-05-10
"""
ORDERS = """order_id,user_id,eval_set,order_number,order_dow,order_hour_of_day,days_since_prior_order
2539329,1,prior,1,2,08,
2398795,1,prior,2,3,07,15.0
473747,1,prior,3,3,12,21.0
3108588,2,prior,1,1,09,
2295261,2,prior,2,1,,30.0
"""
ORDER_LINES = """order_id,product_id,add_to_cart_order,reordered
2539329,196,1,0
2539329,14084,2,0
2398795,196,1,1
473747,12427,1,0
3108588,10258,1,0
2295261,196,1,0
"""
CDNOW = """   00001 19970101  1   11.77
   00002 19970112  1   12.00
   00002 19970112  5   77.00
   00003 19970102  2   20.76
"""
OTTO = (
    "\n".join(
        [
            '{"session": 0, "events": [{"aid": 1517085, "ts": 1659304800025, "type": "clicks"}, '
            '{"aid": 1563459, "ts": 1659304904511, "type": "clicks"}, '
            '{"aid": 1563459, "ts": 1659305055112, "type": "carts"}]}',
            '{"session": 1, "events": [{"aid": 424964, "ts": 1659304800025, "type": "carts"}, '
            '{"aid": 424964, "ts": 1659304858340, "type": "orders"}]}',
            '{"session": 2, "events": [{"aid": null, "ts": 1659304900000, "type": "clicks"}, '
            '{"aid": 763743, "ts": 1659304960000, "type": "clicks"}]}',
        ]
    )
    + "\n"
)
CDNOW_SOURCE = {"sep": "whitespace", "header": False, "names": ["customer_id", "date", "quantity", "amount"]}  # fmt: skip


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def readme_recipes() -> list[dict]:
    """The ``source`` of each yaml block under the README's "Recipes" heading, in order."""
    text = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    section = text.split("#### Recipes", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```yaml\n(.*?)```", section, flags=re.DOTALL)
    return [yaml.safe_load(textwrap.dedent(block))["source"] for block in blocks]


def test_the_readme_recipes_are_the_ones_tested_here():
    recipes = readme_recipes()
    assert [r["query"].split() for r in recipes] == [
        q.split() for q in (DIGINETICA_QUERY, INSTACART_QUERY, CDNOW_QUERY, OTTO_QUERY)
    ]
    assert recipes[0]["sep"] == ";"
    assert {k: recipes[2][k] for k in CDNOW_SOURCE} == CDNOW_SOURCE
    assert (recipes[3]["format"], recipes[3]["event_types"]) == ("jsonl", OTTO_TYPES)


def test_diginetica_recipe_combines_date_and_offset_and_falls_back_to_the_session(tmp_path):
    path = write(tmp_path, "train-item-views.csv", DIGINETICA)
    result = ingest(tmp_path, path, sep=";", query=DIGINETICA_QUERY)
    assert_accounted(result)
    events = result.events.set_index("item_id").sort_index()
    assert events.loc["81766", "timestamp"] == utc("2016-05-09 00:08:46.309")
    assert events.loc["31331", "timestamp"] == utc("2016-05-09 00:17:11.018")
    assert events.loc["9654", "timestamp"] == utc("2016-05-10 00:01:15.848")
    # no user: the session stands in; a user id read from a column with blanks stays "278"
    assert events["user_id"].to_dict() == {
        "31331": "session:1", "32118": "278", "81766": "session:1", "9654": "session:3",
    }  # fmt: skip
    assert set(events["event_type"]) == {"view"}
    # the view without an item is quarantined as its own line of the file (row 3, 0-based)
    assert reasons(result) == {"missing_item_id": 1}
    row = result.quarantine.iloc[0]
    assert (row["file"], row["row"]) == ("train-item-views.csv", 3)


def test_instacart_recipe_builds_a_per_user_timeline_from_relative_days(tmp_path):
    write(tmp_path / "instacart", "orders.csv", ORDERS)
    write(tmp_path / "instacart", "order_products__prior.csv", ORDER_LINES)
    result = ingest(tmp_path, tmp_path / "instacart", query=INSTACART_QUERY)
    assert_accounted(result)
    times = result.events.groupby("session_id")["timestamp"].first().to_dict()
    # user 1: day 0 at 08h, +15 days at 07h, +36 days at 12h; user 2: day 0 at 09h
    assert times == {
        "2539329": utc("2017-01-01 08:00"),
        "2398795": utc("2017-01-16 07:00"),
        "473747": utc("2017-02-06 12:00"),
        "3108588": utc("2017-01-01 09:00"),
    }
    assert result.metrics["rows_read"] == 6  # one event per order line
    assert set(result.events["event_type"]) == {"purchase"}
    assert result.events.groupby("session_id")["item_id"].apply(set)["2539329"] == {"196", "14084"}
    basket = result.events[result.events["session_id"] == "2539329"].set_index("item_id")
    assert basket["timestamp"].to_dict() == {  # a second apart, in add_to_cart_order
        "196": utc("2017-01-01 08:00:00"), "14084": utc("2017-01-01 08:00:01"),
    }  # fmt: skip
    # an order without an hour: its line is quarantined, traced to its line in its file
    assert reasons(result) == {"bad_timestamp": 1}
    row = result.quarantine.iloc[0]
    assert (row["file"], row["row"]) == ("order_products__prior.csv", 5)


def test_cdnow_recipe_casts_yyyymmdd_numbers_and_derives_the_unit_price(tmp_path):
    path = write(tmp_path, "CDNOW_master.txt", CDNOW)
    result = ingest(tmp_path, path, query=CDNOW_QUERY, **CDNOW_SOURCE)
    assert_accounted(result)
    assert result.metrics["rows_valid"] == 4
    events = result.events.sort_values(["timestamp", "quantity"]).reset_index(drop=True)
    assert events["timestamp"].tolist() == [
        utc("1997-01-01"), utc("1997-01-02"), utc("1997-01-12"), utc("1997-01-12"),
    ]  # fmt: skip
    assert events["price"].tolist() == pytest.approx([11.77, 10.38, 12.0, 15.4])
    assert events["quantity"].tolist() == [1, 2, 1, 5]
    assert set(events["event_type"]) == {"purchase"}
    assert events["user_id"].nunique() == 3


TAFENG = """TRANSACTION_DT,CUSTOMER_ID,AGE_GROUP,PIN_CODE,PRODUCT_SUBCLASS,PRODUCT_ID,AMOUNT,ASSET,SALES_PRICE
11/1/2000,00141833,F,105,130207,4710105011011,2,44,52
11/1/2000,01376753,E,E,110217,4710265847666,1,150,129
12/14/2000,00141833,F,105,100201,0047162001002,3,36,60
"""
TAFENG_QUERY = """
SELECT CAST(CUSTOMER_ID AS VARCHAR) AS user_id, TRANSACTION_DT AS timestamp,
       'purchase' AS event_type, CAST(PRODUCT_ID AS VARCHAR) AS item_id,
       AMOUNT AS quantity, SALES_PRICE / AMOUNT AS price
FROM raw
"""


def test_codes_with_leading_zeros_stay_as_written_whatever_their_column_name(tmp_path):
    # Ta-Feng's CUSTOMER_ID and PRODUCT_ID: read as numbers, 00141833 would become 141833
    path = write(tmp_path, "ta_feng_all_months_merged.csv", TAFENG)
    result = ingest(tmp_path, path, query=TAFENG_QUERY, timestamp_format="%m/%d/%Y")
    assert_accounted(result)
    events = result.events.sort_values("timestamp").reset_index(drop=True)
    assert sorted(events["user_id"].unique()) == ["00141833", "01376753"]
    assert "0047162001002" in set(events["item_id"]) and "4710105011011" in set(events["item_id"])
    # columns without such codes are numbers, so the query can divide them
    assert events["price"].tolist() == pytest.approx([26.0, 129.0, 20.0])


def test_otto_recipe_unnests_each_session_s_events_and_keeps_their_lines(tmp_path):
    path = write(tmp_path, "train.jsonl", OTTO)
    result = ingest(tmp_path, path, "jsonl", query=OTTO_QUERY, event_types=OTTO_TYPES)
    assert_accounted(result)
    assert result.metrics["rows_read"] == 7  # events, not lines
    events = result.events.sort_values(["user_id", "timestamp"]).reset_index(drop=True)
    assert events["user_id"].tolist() == ["session:0"] * 3 + ["session:1"] * 2 + ["session:2"]
    assert events["event_type"].tolist() == [
        "view", "view", "add_to_cart", "add_to_cart", "purchase", "view",
    ]  # fmt: skip
    assert events["timestamp"].iloc[0] == utc("2022-07-31 22:00:00.025")  # epoch ms
    # the click without an item is quarantined with its session's line (2, 0-based)
    assert reasons(result) == {"missing_item_id": 1}
    row = result.quarantine.iloc[0]
    assert (row["file"], row["row"]) == ("train.jsonl", 2)


def test_try_casts_quarantine_the_bad_line_instead_of_stopping(tmp_path):
    bad = CDNOW.replace("19970102", "19971302")  # month 13
    path = write(tmp_path, "CDNOW_master.txt", bad)
    query = CDNOW_QUERY.replace("strptime(", "try_strptime(")
    result = ingest(tmp_path, path, query=query, **CDNOW_SOURCE)
    assert_accounted(result)
    assert reasons(result) == {"bad_timestamp": 1}
    assert result.quarantine.loc[0, ["file", "row"]].tolist() == ["CDNOW_master.txt", 3]
    with pytest.raises(SourceError, match=r"source\.query: .*19971302"):
        ingest(tmp_path, path, query=CDNOW_QUERY, **CDNOW_SOURCE)


# --- the rules of the mapping ------------------------------------------------------------------

SHOP = """visitor,ts,action,sku,amount
u1,2026-01-05 10:00:00,view,i1,9.5
u1,2026-01-05 10:01:00,purchase,i1,9.5
u2,2026-01-05 11:00:00,view,i2,3.0
"""
SHOP_QUERY = (
    "SELECT visitor AS user_id, CAST(ts AS TIMESTAMP) AS timestamp, action AS event_type, "
    "sku AS item_id, amount AS price{extra} FROM raw"
)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_each_file_format_is_queried_the_same(tmp_path, fmt):
    frame = pd.read_csv(io.StringIO(SHOP))
    path = tmp_path / f"shop.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True)
    result = ingest(tmp_path, path, fmt=fmt, query=SHOP_QUERY.format(extra=""))
    assert_accounted(result)
    events = result.events.sort_values("timestamp")
    assert events["user_id"].tolist() == ["u1", "u1", "u2"]
    assert events["price"].tolist() == [9.5, 9.5, 3.0]
    assert events["timestamp"].tolist()[-1] == utc("2026-01-05 11:00")


def test_columns_that_are_not_canonical_are_dropped_with_a_note(tmp_path):
    path = write(tmp_path, "shop.csv", SHOP)
    query = SHOP_QUERY.format(extra=", amount * 2 AS doubled, 'x' AS note")
    raw = read_source("csv", path, query=query)
    assert "doubled" not in raw.frame and "note" not in raw.frame
    assert any("dropped column(s) 'doubled', 'note'" in n for n in raw.notes)
    assert raw.extra["query_rows_read"] == 3 and raw.extra["query_rows_out"] == 3


def test_rows_in_place_carry_file_and_row_across_a_folder(tmp_path):
    write(tmp_path / "logs", "a.csv", SHOP)
    write(tmp_path / "logs", "b.csv", SHOP.replace("u1", "u3"))
    raw = read_source("csv", tmp_path / "logs", query=SHOP_QUERY.format(extra=""))
    frame = raw.frame
    assert frame[["_file", "_row"]].values.tolist() == [
        ["a.csv", 0], ["a.csv", 1], ["a.csv", 2], ["b.csv", 0], ["b.csv", 1], ["b.csv", 2],
    ]  # fmt: skip
    assert frame["user_id"].tolist() == ["u1", "u1", "u2", "u3", "u3", "u2"]


@pytest.mark.parametrize(
    "tail",
    [" ORDER BY ts DESC", " WHERE action = 'view'", " UNION ALL " + SHOP_QUERY.format(extra="")],
)
def test_rows_not_in_place_are_numbered_with_a_note(tmp_path, tail):
    path = write(tmp_path, "shop.csv", SHOP)
    raw = read_source("csv", path, query=SHOP_QUERY.format(extra="") + tail)
    assert (raw.frame["_file"] == NUMBERED_FILE).all()
    assert raw.frame["_row"].tolist() == list(range(len(raw.frame)))
    assert any("select `_file` and `_row`" in n for n in raw.notes)


def test_a_filter_that_drops_no_row_keeps_rows_in_place(tmp_path):
    path = write(tmp_path, "shop.csv", SHOP)
    raw = read_source("csv", path, query=SHOP_QUERY.format(extra="") + " WHERE amount > 0")
    assert raw.frame["_row"].tolist() == [0, 1, 2]
    assert (raw.frame["_file"] == "shop.csv").all()


def test_the_query_runs_in_utc_whatever_the_machine_zone(tmp_path):
    path = write(tmp_path, "shop.csv", SHOP)
    query = SHOP_QUERY.format(extra=", current_setting('TimeZone') AS channel").replace(
        "CAST(ts AS TIMESTAMP)", "CAST(TIMESTAMPTZ '2026-01-05 10:00:00+02:00' AS TIMESTAMP)"
    )
    raw = read_source("csv", path, query=query)
    assert set(raw.frame["channel"]) == {"UTC"}
    assert set(raw.frame["timestamp"]) == {pd.Timestamp("2026-01-05 08:00")}


@pytest.mark.parametrize(
    ("expression", "timezone", "expected"),
    [
        ("TIMESTAMPTZ '2026-01-05 10:00:00+02:00'", "UTC", "2026-01-05 08:00"),
        ("TIMESTAMP '2026-01-05 10:00:00'", "Europe/Paris", "2026-01-05 09:00"),
        ("TIMESTAMP '2026-01-05 10:00:00'", "UTC", "2026-01-05 10:00"),
        ("DATE '2026-01-05'", "UTC", "2026-01-05 00:00"),
    ],
)
def test_computed_timestamps_flow_on_as_datetimes(tmp_path, expression, timezone, expected):
    path = write(tmp_path, "shop.csv", SHOP)
    query = SHOP_QUERY.format(extra="").replace("CAST(ts AS TIMESTAMP)", expression)
    result = ingest(tmp_path, path, query=query, timezone=timezone)
    assert_accounted(result)
    assert set(result.events["timestamp"]) == {utc(expected)}


def test_a_reject_column_from_the_query_quarantines_with_its_reason(tmp_path):
    path = write(tmp_path, "shop.csv", SHOP)
    extra = ", CASE WHEN visitor = 'u2' THEN 'test_account' END AS _reject"
    result = ingest(tmp_path, path, query=SHOP_QUERY.format(extra=extra))
    assert_accounted(result)
    assert reasons(result) == {"test_account": 1}
    assert result.quarantine.loc[0, "row"] == 2


def test_integer_ids_the_query_yields_become_exact_text():
    frame = pd.DataFrame({"u": ["9007199254740993", None], "_file": "f", "_row": [0, 1]})
    query = "SELECT CAST(u AS BIGINT) AS item_id FROM raw"
    out = run_query(frame, query).frame
    assert out["item_id"].iloc[0] == "9007199254740993"  # not 9.007199254740992e15
    assert pd.isna(out["item_id"].iloc[1])


def test_decimal_numbers_the_query_yields_become_floats():
    frame = pd.DataFrame({"q": [2, 3], "_file": "f", "_row": [0, 1]})
    query = "SELECT sum(q) OVER () AS quantity, CAST(q AS DECIMAL(9, 2)) / 4 AS price FROM raw"
    out = run_query(frame, query).frame
    assert out["quantity"].dtype == "float64" and out["price"].dtype == "float64"
    assert out["quantity"].tolist() == [5.0, 5.0]
    assert out["price"].tolist() == [0.5, 0.75]


def test_rows_the_reader_rejected_skip_the_query_and_stay():
    frame = pd.DataFrame(
        {
            "who": ["u1", None, "u2"],
            "ts": ["2026-01-05 10:00", None, "2026-01-05 11:00"],
            "_file": "log.jsonl",
            "_row": [0, 1, 2],
            REJECT_COLUMN: [None, "malformed_line", None],
        }
    )
    query = (
        "SELECT who AS user_id, CAST(ts AS TIMESTAMP) AS timestamp, 'view' AS event_type FROM raw"
    )
    out = run_query(frame, query).frame
    assert out[["_file", "_row"]].values.tolist() == [["log.jsonl", 0], ["log.jsonl", 2], ["log.jsonl", 1]]  # fmt: skip
    assert out[REJECT_COLUMN].tolist()[-1] == "malformed_line"
    assert out[REJECT_COLUMN].iloc[:2].isna().all()


# --- bad queries: a named error naming source.query, or quarantine with every row accounted -------

GOOD = SHOP_QUERY.format(extra="")

ERRORS = [
    ("syntax", "SELEC visitor AS user_id FROM raw", r"Parser Error: syntax error at or near"),
    ("unknown column", GOOD.replace("visitor AS", "visitr AS"),
     r"Binder Error: .*\"visitr\".* \(`raw` has columns: visitor, ts, action, sku, amount, _file, _row\)"),
    ("unknown table", GOOD.replace("FROM raw", "FROM events"), r"Catalog Error: .*events"),
    ("failing cast", GOOD.replace("amount AS price", "CAST(action AS INTEGER) AS price"),
     r"Conversion Error: Could not convert string 'view' to INT32"),
    ("no required column", "SELECT sku AS item_id FROM raw",
     r"required column\(s\) .*timestamp.*; select them in source\.query"),
    ("not a select", "COPY raw TO 'out.csv'", r"only a SELECT .* not a COPY statement"),
    ("two statements", GOOD + "; " + GOOD, r"give one SELECT statement, not 2"),
    ("a file outside raw", "SELECT * FROM read_csv('/etc/hostname')", r"Permission Error"),
    ("a name twice", GOOD.replace("sku AS item_id", "sku AS user_id"),
     r"the SELECT yields 'user_id' more than once"),
    ("_row without _file", GOOD.replace(" FROM raw", ", _row FROM raw"),
     r"select both `_file` and `_row` \(or neither\)"),
    ("null _row", GOOD.replace(" FROM raw", ", _file, NULL::BIGINT AS _row FROM raw"),
     r"`_row` must be raw\._row"),
    ("no rows", GOOD + " WHERE false", r"the query yields no rows \(from 3 rows read\)"),
]  # fmt: skip


@pytest.mark.parametrize(("query", "detail"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_a_bad_query_stops_naming_the_param(tmp_path, query, detail):
    path = write(tmp_path, "shop.csv", SHOP)
    with pytest.raises(SourceError, match=r"source\.query") as err:
        ingest(tmp_path, path, query=query)
    message = str(err.value)
    assert "\n" not in message
    assert re.search(detail, message), message
    assert "source.query" in message


@pytest.mark.parametrize(
    ("source", "detail"),
    [
        ({"query": GOOD, "columns": {"visitor": "user_id"}}, r"source\.columns: .*query"),
        ({"query": "   "}, r"source\.query: empty query"),
    ],
    ids=["with columns", "empty"],
)
def test_query_params_that_cannot_work_stop_before_reading(tmp_path, source, detail):
    path = write(tmp_path, "shop.csv", SHOP)
    with pytest.raises(ParamsError, match=detail):
        ingest(tmp_path, path, **source)


def test_a_query_on_an_adapter_format_stops(tmp_path):
    path = write(tmp_path, "ratings.csv", "userId,movieId,rating,timestamp\n1,2,3.5,964982703\n")
    with pytest.raises(ParamsError, match=r"params/ingest\.yaml: source\.query: runs over csv"):
        ingest(tmp_path, path, fmt="movielens", query=GOOD)


QUARANTINED = [
    ("try_cast nulls", GOOD.replace("CAST(ts", "TRY_CAST(action"), {"bad_timestamp": 3}),
    ("unknown event name", GOOD.replace("action AS", "upper(action) || '!' AS"),
     {"unknown_event_type": 3}),
    ("negative price", GOOD.replace("amount AS price", "-amount AS price"), {"negative_price": 3}),
    ("null user", GOOD.replace("visitor AS user_id", "NULLIF(visitor, 'u2') AS user_id"),
     {"missing_user_id": 1}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("query", "expected"), [c[1:] for c in QUARANTINED], ids=[c[0] for c in QUARANTINED]
)
def test_bad_values_a_query_yields_are_quarantined_and_accounted(tmp_path, query, expected):
    path = write(tmp_path, "shop.csv", SHOP)
    result = ingest(tmp_path, path, query=query)
    assert_accounted(result)
    assert reasons(result) == expected
    assert set(result.quarantine["file"]) == {"shop.csv"}
