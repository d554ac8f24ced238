"""Unit tests for the public-format adapters added for issue 15: yoochoose, diginetica,
instacart, cdnow and taobao (:mod:`personalab.ingest.sources.adapters`).

Every fixture is a few lines written into ``tmp_path`` in the shape each data set documents
(file names, delimiters, header or none, column order). Each adapter is read directly (values
checked by hand) and run through the ingest stage as a user would (``source.format`` and
``source.path``; :mod:`bad_inputs`), with the row accounting checked on every run that completes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from personalab.ingest.sources import FORMATS, SourceError, read_source
from personalab.ingest.sources.adapters import ADAPTERS
from personalab.ingest.sources.adapters.instacart import order_times
from personalab.ingest.sources.adapters.online_retail import slash_date_format
from personalab.ingest.sources.params import SourceParams
from tests.unit.ingest.bad_inputs import assert_accounted, ingest, reasons, write

NEW_ADAPTERS = ("yoochoose", "diginetica", "instacart", "cdnow", "taobao")


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def rows(events: pd.DataFrame, *columns: str) -> list[tuple]:
    """Valid events as tuples of ``columns`` (missing values as None), in time then item order
    (the stage itself orders them by user)."""
    ordered = events.sort_values(["timestamp", "item_id"], kind="stable")[list(columns)]
    values = ordered.astype(object).where(ordered.notna(), None)
    return list(values.itertuples(index=False, name=None))


def error_match(path: Path, detail: str) -> str:
    return "^" + re.escape(f"{path}: ") + detail


def test_new_adapters_are_registered_formats():
    assert set(NEW_ADAPTERS) <= set(ADAPTERS)
    assert set(NEW_ADAPTERS) <= set(FORMATS)
    for fmt in NEW_ADAPTERS:  # the params Literal follows the registry
        assert SourceParams(format=fmt).format == fmt


# --- yoochoose ----------------------------------------------------------------------------------

YOOCHOOSE_CLICKS = (
    "1,2014-04-07T10:51:09.277Z,214536502,0\n"
    "1,2014-04-07T10:54:09.868Z,214536500,S\n"
    "2,2014-04-06T18:40:58.300Z,214537888,2053013555\n"
    "2,2014-04-06T18:44:50.000Z,214537850,3\n"
)
YOOCHOOSE_BUYS = (
    "2,2014-04-06T18:44:58.314Z,214537888,12462,1\n2,2014-04-06T18:44:58.325Z,214537850,0,0\n"
)


def yoochoose_folder(tmp_path: Path) -> Path:
    write(tmp_path / "yc", "yoochoose-clicks.dat", YOOCHOOSE_CLICKS)
    write(tmp_path / "yc", "yoochoose-buys.dat", YOOCHOOSE_BUYS)
    write(tmp_path / "yc", "yoochoose-test.dat", "9,2014-04-07T17:13:46.713Z,214530776,0\n")
    return tmp_path / "yc"


def test_yoochoose_reader(tmp_path):
    raw = read_source("yoochoose", yoochoose_folder(tmp_path))
    frame = raw.frame
    assert frame["_file"].tolist() == ["yoochoose-clicks.dat"] * 4 + ["yoochoose-buys.dat"] * 2
    assert frame["_row"].tolist() == [0, 1, 2, 3, 0, 1]
    assert frame["event_type"].tolist() == ["view"] * 4 + ["purchase"] * 2
    # no user ids: the session is the identity (sources/identity.py)
    assert frame["user_id"].tolist() == ["session:1"] * 2 + ["session:2"] * 4
    assert frame["session_id"].tolist() == ["1", "1", "2", "2", "2", "2"]
    assert raw.extra["identity"]["identity"] == "session"
    # category 0 is documented as missing; price and quantity 0 as unknown
    assert frame["category"].tolist()[:4] == [pd.NA, "S", "2053013555", "3"]
    assert frame["price"].tolist()[4:] == ["12462", pd.NA]
    assert frame["quantity"].tolist()[4:] == ["1", pd.NA]


def test_yoochoose_end_to_end(tmp_path):
    result = ingest(tmp_path, yoochoose_folder(tmp_path), fmt="yoochoose")
    assert rows(result.events, "timestamp", "user_id", "event_type", "item_id", "price") == [
        (utc("2014-04-06 18:40:58.300"), "session:2", "view", "214537888", None),
        (utc("2014-04-06 18:44:50"), "session:2", "view", "214537850", None),
        (utc("2014-04-06 18:44:58.314"), "session:2", "purchase", "214537888", 12462.0),
        (utc("2014-04-06 18:44:58.325"), "session:2", "purchase", "214537850", None),
        (utc("2014-04-07 10:51:09.277"), "session:1", "view", "214536502", None),
        (utc("2014-04-07 10:54:09.868"), "session:1", "view", "214536500", None),
    ]
    assert result.metrics["rows_read"] == 6  # yoochoose-test.dat is not read from a folder
    assert_accounted(result)


def test_yoochoose_one_file_by_field_count(tmp_path):
    path = write(tmp_path, "buys_sample.dat", YOOCHOOSE_BUYS)
    frame = read_source("yoochoose", path).frame
    assert frame["event_type"].tolist() == ["purchase", "purchase"]


def test_yoochoose_wrong_shape(tmp_path):
    path = write(tmp_path, "yoochoose-clicks.dat", "1,2014-04-07T10:51:09.277Z,214536502\n")
    with pytest.raises(
        SourceError,
        match=error_match(
            path,
            r"not a yoochoose file: 3 field\(s\) per line, expected 4 "
            r"\(session_id, timestamp, item_id, category\); missing: category",
        ),
    ):
        read_source("yoochoose", path)


# --- diginetica ---------------------------------------------------------------------------------

DIGINETICA_VIEWS = (
    "sessionId;userId;itemId;timeframe;eventdate\n"
    "1;;81766;526309;2016-05-09\n"
    "1;;31331;1031018;2016-05-09\n"
    "2;5;32118;243569;2016-05-09\n"
    "2;5;9654;75848;2016-05-09\n"
    "3;;2570;0;2016-05-10\n"
    "4;7;2570;86400000;2016-05-10\n"
)
DIGINETICA_PURCHASES = (
    "sessionId;userId;timeframe;eventdate;ordernumber;itemId\n2;5;300000;2016-05-09;668;9654\n"
)
DIGINETICA_CATEGORIES = "itemId;categoryId\n81766;1\n9654;1191\n2570;1191\n"


def diginetica_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "dg"
    write(folder, "train-item-views.csv", DIGINETICA_VIEWS)
    write(folder, "train-purchases.csv", DIGINETICA_PURCHASES)
    write(folder, "product-categories.csv", DIGINETICA_CATEGORIES)
    write(folder, "products.csv", "itemId;pricelog2;product.name.tokens\n9654;9;4875,8734\n")
    return folder


def test_diginetica_reader(tmp_path):
    raw = read_source("diginetica", diginetica_folder(tmp_path))
    frame = raw.frame
    assert frame["event_type"].tolist() == ["view"] * 6 + ["purchase"]
    # the session's date at midnight plus timeframe milliseconds (naive: read in source.timezone)
    assert frame["timestamp"].tolist() == [
        pd.Timestamp("2016-05-09 00:08:46.309"),
        pd.Timestamp("2016-05-09 00:17:11.018"),
        pd.Timestamp("2016-05-09 00:04:03.569"),
        pd.Timestamp("2016-05-09 00:01:15.848"),
        pd.Timestamp("2016-05-10 00:00:00"),
        pd.Timestamp("2016-05-11 00:00:00"),
        pd.Timestamp("2016-05-09 00:05:00"),
    ]
    assert frame["category"].tolist() == [
        "1", pd.NA, pd.NA, "1191", "1191", "1191", "1191",
    ]  # fmt: skip
    # 4 of 7 rows carry a user id (auto: user identity); the others fall back to their session
    assert raw.extra["identity"]["identity"] == "user"
    assert frame["user_id"].tolist() == ["session:1"] * 2 + ["5", "5", "session:3", "7", "5"]
    assert frame["session_id"].tolist() == ["1", "1", "2", "2", "3", "4", "2"]


def test_diginetica_mostly_anonymous_log_is_keyed_by_session(tmp_path):
    path = write(
        tmp_path,
        "train-item-views.csv",
        "sessionId;userId;itemId;timeframe;eventdate\n1;;10;0;2016-05-09\n2;;11;0;2016-05-09\n"
        "3;8;12;0;2016-05-09\n",
    )
    raw = read_source("diginetica", path)
    assert raw.extra["identity"]["identity"] == "session"
    assert raw.frame["user_id"].tolist() == ["session:1", "session:2", "session:3"]
    assert "category" not in raw.frame  # a single file: no catalogue is looked for


def test_diginetica_end_to_end(tmp_path):
    result = ingest(tmp_path, diginetica_folder(tmp_path), fmt="diginetica")
    assert rows(result.events, "timestamp", "user_id", "event_type", "item_id", "session_id") == [
        (utc("2016-05-09 00:01:15.848"), "5", "view", "9654", "2"),
        (utc("2016-05-09 00:04:03.569"), "5", "view", "32118", "2"),
        (utc("2016-05-09 00:05:00"), "5", "purchase", "9654", "2"),
        (utc("2016-05-09 00:08:46.309"), "session:1", "view", "81766", "1"),
        (utc("2016-05-09 00:17:11.018"), "session:1", "view", "31331", "1"),
        (utc("2016-05-10 00:00:00"), "session:3", "view", "2570", "3"),
        (utc("2016-05-11 00:00:00"), "7", "view", "2570", "4"),
    ]
    assert_accounted(result)


def test_diginetica_wrong_shape(tmp_path):
    path = write(
        tmp_path,
        "train-purchases.csv",
        "sessionId;userId;timeframe;eventdate;itemId\n2;5;0;2016-05-09;9\n",
    )
    with pytest.raises(
        SourceError,
        match=error_match(
            path,
            r"not a diginetica file: column\(s\) ordernumber missing "
            r"\(have: sessionId, userId, timeframe, eventdate, itemId\)",
        ),
    ):
        read_source("diginetica", path)


# --- instacart ----------------------------------------------------------------------------------

INSTACART_ORDERS = (
    "order_id,user_id,eval_set,order_number,order_dow,order_hour_of_day,days_since_prior_order\n"
    "2539329,1,prior,1,2,08,\n"
    "2398795,1,prior,2,3,07,15.0\n"
    "473747,1,prior,3,3,12,21.0\n"
    "1187899,1,train,4,4,08,14.0\n"
    "2168274,2,prior,1,2,11,\n"
    "1501582,2,test,2,5,10,30.0\n"
)
INSTACART_PRIOR = (
    "order_id,product_id,add_to_cart_order,reordered\n"
    "2539329,196,1,0\n2539329,14084,2,0\n2398795,196,1,1\n473747,12427,1,0\n2168274,196,1,0\n"
)
INSTACART_TRAIN = "order_id,product_id,add_to_cart_order,reordered\n1187899,196,1,1\n"
INSTACART_PRODUCTS = (
    "product_id,product_name,aisle_id,department_id\n"
    "196,Soda,77,7\n"
    '14084,"Organic Unsweetened Vanilla Almond Milk, Unsweetened",91,16\n'
    "12427,Original Beef Jerky,23,19\n"
)
INSTACART_AISLES = "aisle_id,aisle\n77,soft drinks\n91,soy lactosefree\n"


def instacart_folder(tmp_path: Path, orders: str = INSTACART_ORDERS, **files: str) -> Path:
    folder = tmp_path / "ic"
    write(folder, "orders.csv", orders)
    contents = {
        "order_products__prior.csv": INSTACART_PRIOR,
        "order_products__train.csv": INSTACART_TRAIN,
        "products.csv": INSTACART_PRODUCTS,
        "aisles.csv": INSTACART_AISLES,
        **{name.replace("__", "."): text for name, text in files.items()},
    }
    for name, text in contents.items():
        write(folder, name, text)
    return folder


def test_instacart_timeline_is_anchored_at_each_users_last_order():
    orders = pd.read_csv(
        pd.io.common.StringIO(INSTACART_ORDERS), dtype="string"
    )  # as the adapter reads it: every value text
    times = order_times(orders)
    # user 1: gaps 15, 21, 14 days after orders 1, 2, 3; the last order on 2017-05-01
    assert times.tolist() == [
        pd.Timestamp("2017-03-12 08:00"),  # 50 days before the last order
        pd.Timestamp("2017-03-27 07:00"),  # 35
        pd.Timestamp("2017-04-17 12:00"),  # 14
        pd.Timestamp("2017-05-01 08:00"),
        pd.Timestamp("2017-04-01 11:00"),  # user 2: 30 days before its test order
        pd.Timestamp("2017-05-01 10:00"),
    ]


def test_instacart_timeline_does_not_depend_on_row_order():
    orders = pd.read_csv(pd.io.common.StringIO(INSTACART_ORDERS), dtype="string")
    shuffled = orders.iloc[[5, 2, 0, 4, 3, 1]]
    assert order_times(shuffled).sort_index().tolist() == order_times(orders).tolist()


def test_instacart_reader(tmp_path):
    frame = read_source("instacart", instacart_folder(tmp_path)).frame
    assert frame["_file"].tolist() == ["order_products__prior.csv"] * 5 + [
        "order_products__train.csv"
    ]
    assert frame["user_id"].tolist() == ["1", "1", "1", "1", "2", "1"]
    assert frame["session_id"].tolist() == [
        "2539329", "2539329", "2398795", "473747", "2168274", "1187899",
    ]  # fmt: skip
    assert frame["item_id"].tolist() == ["196", "14084", "196", "12427", "196", "196"]
    assert frame["event_type"].unique().tolist() == ["purchase"]
    # aisle names; an aisle missing from aisles.csv keeps its id
    assert frame["category"].tolist() == [
        "soft drinks", "soy lactosefree", "soft drinks", "23", "soft drinks", "soft drinks",
    ]  # fmt: skip
    assert "reordered" not in frame and "price" not in frame


def test_instacart_end_to_end(tmp_path):
    result = ingest(tmp_path, instacart_folder(tmp_path), fmt="instacart")
    assert rows(result.events, "timestamp", "user_id", "item_id", "session_id") == [
        (utc("2017-03-12 08:00"), "1", "196", "2539329"),  # added to the cart first
        (utc("2017-03-12 08:00:01"), "1", "14084", "2539329"),  # a second later
        (utc("2017-03-27 07:00"), "1", "196", "2398795"),
        (utc("2017-04-01 11:00"), "2", "196", "2168274"),
        (utc("2017-04-17 12:00"), "1", "12427", "473747"),
        (utc("2017-05-01 08:00"), "1", "196", "1187899"),
    ]
    assert result.metrics["rows_read"] == 6
    assert_accounted(result)


def test_instacart_wrong_shape(tmp_path):
    orders = (
        "order_id,user_id,eval_set,order_number,order_dow,days_since_prior_order\n1,1,prior,1,2,\n"
    )
    folder = instacart_folder(tmp_path, orders)
    with pytest.raises(
        SourceError,
        match=error_match(
            folder / "orders.csv",
            r"not a instacart file: column\(s\) order_hour_of_day missing",
        ),
    ):
        read_source("instacart", folder)


# --- cdnow --------------------------------------------------------------------------------------

CDNOW_MASTER = (
    "00001 19970101  1  11.77\n"
    "00002 19970112  1  12.00\n"
    "00002 19970112  5  77.00\n"
    "00003 19970102  2  20.76\n"
    "00003 19970330  2  20.76\n"
)
CDNOW_SAMPLE = (
    "   4   1 19970101   2  29.33\n   4   1 19970118   2  29.73\n  18   2 19970101   1  14.96\n"
)


def test_cdnow_master_reader(tmp_path):
    path = write(tmp_path, "CDNOW_master.txt", CDNOW_MASTER)
    raw = read_source("cdnow", path)
    frame = raw.frame
    assert frame["user_id"].tolist() == ["1", "2", "2", "3", "3"]
    assert frame["timestamp"].tolist() == [
        "19970101",
        "19970112",
        "19970112",
        "19970102",
        "19970330",
    ]
    assert raw.timestamp_format == "%Y%m%d"
    assert frame["quantity"].tolist() == ["1", "1", "5", "2", "2"]
    assert frame["price"].tolist() == pytest.approx([11.77, 12.0, 15.4, 10.38, 10.38])
    assert frame["event_type"].unique().tolist() == ["purchase"]


def test_cdnow_sample_layout_uses_the_master_id(tmp_path):
    write(tmp_path / "cd", "CDNOW_sample.txt", CDNOW_SAMPLE)
    frame = read_source("cdnow", tmp_path / "cd").frame
    assert frame["user_id"].tolist() == ["4", "4", "18"]
    assert frame["timestamp"].tolist() == ["19970101", "19970118", "19970101"]
    assert frame["price"].tolist() == pytest.approx([14.665, 14.865, 14.96])


def test_cdnow_end_to_end_gives_real_dates(tmp_path):
    path = write(tmp_path, "CDNOW_master.txt", CDNOW_MASTER)
    result = ingest(tmp_path, path, fmt="cdnow")
    assert rows(result.events, "timestamp", "user_id", "quantity") == [
        (utc("1997-01-01"), "1", 1.0),
        (utc("1997-01-02"), "3", 2.0),
        (utc("1997-01-12"), "2", 1.0),
        (utc("1997-01-12"), "2", 5.0),
        (utc("1997-03-30"), "3", 2.0),
    ]
    assert result.metrics["rows_valid"] == 5
    assert_accounted(result)


def test_cdnow_wrong_shape(tmp_path):
    path = write(tmp_path, "CDNOW_master.txt", "00001 19970101  1\n00002 19970112  1\n")
    with pytest.raises(
        SourceError,
        match=error_match(
            path,
            r"not a cdnow file: 3 field\(s\) per line, expected 4 "
            r"\(customer_id, date, cds, dollars\); missing: dollars",
        ),
    ):
        read_source("cdnow", path)


# --- taobao -------------------------------------------------------------------------------------

TAOBAO = (
    "1,2268318,2520377,pv,1511544070\n"
    "1,2333346,2520771,pv,1511561733\n"
    "100,3763048,3425094,fav,1511551860\n"
    "100,1603476,2951233,buy,1511579908\n"
    "1000,5120034,1051370,cart,1511542034\n"
)


def test_taobao_reader(tmp_path):
    raw = read_source("taobao", write(tmp_path, "UserBehavior.csv", TAOBAO))
    frame = raw.frame
    assert frame["event_type"].tolist() == ["view", "view", "fav", "purchase", "add_to_cart"]
    assert frame["user_id"].tolist() == ["1", "1", "100", "100", "1000"]
    assert frame["item_id"].tolist() == ["2268318", "2333346", "3763048", "1603476", "5120034"]
    assert frame["category"].tolist() == ["2520377", "2520771", "3425094", "2951233", "1051370"]
    assert raw.timestamp_unit == "s"


def test_taobao_end_to_end_quarantines_favourites(tmp_path):
    result = ingest(tmp_path, write(tmp_path, "UserBehavior.csv", TAOBAO), fmt="taobao")
    assert rows(result.events, "timestamp", "user_id", "event_type") == [
        (utc("2017-11-24 16:47:14"), "1000", "add_to_cart"),
        (utc("2017-11-24 17:21:10"), "1", "view"),
        (utc("2017-11-24 22:15:33"), "1", "view"),
        (utc("2017-11-25 03:18:28"), "100", "purchase"),
    ]
    assert reasons(result) == {"unknown_event_type": 1}
    assert result.quarantine["row"].tolist() == [2]
    assert_accounted(result)


def test_taobao_favourites_can_be_mapped(tmp_path):
    path = write(tmp_path, "UserBehavior.csv", TAOBAO)
    result = ingest(tmp_path, path, fmt="taobao", event_types={"fav": "click"})
    assert rows(result.events, "user_id", "event_type")[2] == ("100", "click")
    assert result.metrics["rows_valid"] == 5
    assert_accounted(result)


def test_taobao_copy_with_a_header_line(tmp_path):
    text = "user_id,item_id,category_id,behavior_type,timestamp\n" + TAOBAO
    frame = read_source("taobao", write(tmp_path, "UserBehavior.csv", text)).frame
    assert len(frame) == 5
    assert frame["_row"].tolist() == [1, 2, 3, 4, 5]  # the line's place in the file


def test_taobao_wrong_shape(tmp_path):
    path = write(tmp_path, "UserBehavior.csv", "1,2268318,2520377,pv\n1,2333346,2520771,pv\n")
    with pytest.raises(
        SourceError,
        match=error_match(
            path,
            r"not a taobao file: 4 field\(s\) per line, expected 5 "
            r"\(user_id, item_id, category_id, behavior_type, timestamp\); missing: timestamp",
        ),
    ):
        read_source("taobao", path)


# --- online_retail: the order of day and month --------------------------------------------------


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        (["01/12/2010 08:26", "13/12/2010 09:02"], "%d/%m/%Y %H:%M"),  # a re-saved copy
        (["12/1/2010 8:26", "12/13/2010 9:02"], "%m/%d/%Y %H:%M"),  # the UCI file
        (["12/1/2010 8:26", "12/2/2010 9:02"], "%m/%d/%Y %H:%M"),  # ambiguous: UCI order
        (["01/12/2010 08:26:05", "13/12/2010 09:02:00"], "%d/%m/%Y %H:%M:%S"),
        (["2010-12-01 08:26:00", "2010-12-13 09:02:00"], None),  # ISO 8601: no format
    ],
)
def test_online_retail_tells_day_first_from_month_first(dates, expected):
    fmt, note = slash_date_format(pd.Series(dates, dtype="string"))
    assert fmt == expected
    assert (note is not None) == (dates[1] == "12/2/2010 9:02")  # said when assumed


RETAIL_DAY_FIRST = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,01/12/2010 08:26,2.55,17850,United Kingdom\n"
    "536366,22633,HAND WARMER UNION JACK,6,02/12/2010 08:28,1.85,17850,United Kingdom\n"
    "539993,22386,JUMBO BAG PINK POLKADOT,10,13/12/2010 10:00,1.95,13047,United Kingdom\n"
    "540001,22386,JUMBO BAG PINK POLKADOT,3,14/12/2010 11:00,1.95,13047,United Kingdom\n"
    "539994,22386,JUMBO BAG PINK POLKADOT,10,12/13/2010 10:00,1.95,13047,United Kingdom\n"
)


def test_online_retail_day_first_copy_is_never_read_month_first(tmp_path):
    result = ingest(tmp_path, write(tmp_path, "retail.csv", RETAIL_DAY_FIRST), fmt="online_retail")
    assert rows(result.events, "timestamp", "session_id") == [
        (utc("2010-12-01 08:26"), "536365"),  # not 12 January
        (utc("2010-12-02 08:28"), "536366"),
        (utc("2010-12-13 10:00"), "539993"),
        (utc("2010-12-14 11:00"), "540001"),
    ]
    assert reasons(result) == {"bad_timestamp": 1}  # the month-first line contradicts the file
    assert_accounted(result)


# --- bad inputs ---------------------------------------------------------------------------------
# Each case: files written into a folder, the path given to the stage ("" = the folder), extra
# source params, and the outcome: a SourceError matching a regex ({dir} = the folder), or the
# quarantine reasons with their counts and the number of valid rows.

ORDERS_HEAD = (
    "order_id,user_id,eval_set,order_number,order_dow,order_hour_of_day,days_since_prior_order\n"
)
LINES_HEAD = "order_id,product_id,add_to_cart_order,reordered\n"
BAD_INPUTS = [
    pytest.param(
        "yoochoose",
        {"yoochoose-buys.dat": "2,2014-04-06T18:44:58.314Z,214537888,abc,1\n"
         "2,2014-04-06T18:44:58.325Z,214537850,0,0\n"},
        "", {}, ({"bad_number": 1}, 1), id="yoochoose-price-not-a-number",
    ),
    pytest.param(
        "yoochoose",
        {"yoochoose-clicks.dat": ",2014-04-07T10:51:09.277Z,214536502,0\n"
         "1,2014-04-07T10:54:09.868Z,214536500,S\n"},
        "", {}, ({"missing_session_id;missing_user_id": 1}, 1),
        id="yoochoose-click-without-session",
    ),
    pytest.param(
        "yoochoose", {"clicks.dat": "1,2014-04-07T10:51:09.277Z,214536502,0,7,8\n"},
        "clicks.dat", {},
        r"{dir}/clicks.dat: not a yoochoose file: 6 field\(s\) per line, expected 4 .*; "
        r"2 extra field\(s\)",
        id="yoochoose-too-many-fields",
    ),
    pytest.param(
        "diginetica",
        {"train-item-views.csv": "sessionId;userId;itemId;timeframe;eventdate\n"
         "1;;10;-5;2016-05-09\n1;;11;abc;2016-05-09\n1;;12;0;2016-13-45\n1;;13;10;2016-05-09\n"},
        "", {}, ({"bad_timestamp": 3}, 1), id="diginetica-bad-timeframe-or-date",
    ),
    pytest.param(
        "diginetica",
        {"train-item-views.csv": "sessionId;userId;itemId;timeframe;eventdate\n"
         "1;;10;0;9999-01-01\n1;;11;0;2016-05-09\n"},
        "", {}, ({"implausible_timestamp": 1}, 1), id="diginetica-date-beyond-2262-never-wraps",
    ),
    pytest.param(
        "diginetica",
        {"train-item-views.csv": DIGINETICA_VIEWS,
         "product-categories.csv": "itemId;categoryId\n9654;1191\n9654;7\n"},
        "", {},
        r"{dir}/product-categories.csv: itemId 9654 is listed with different categoryIds "
        r"\(1191, 7\)",
        id="diginetica-item-in-two-categories",
    ),
    pytest.param(
        "instacart",
        {"orders.csv": INSTACART_ORDERS,
         "order_products__prior.csv": INSTACART_PRIOR + "9999999,196,1,0\n"},
        "", {}, ({"unknown_order;bad_timestamp": 1}, 5), id="instacart-line-of-unknown-order",
    ),
    pytest.param(
        "instacart",
        {"orders.csv": INSTACART_ORDERS + "473747,3,prior,1,1,09,\n",
         "order_products__prior.csv": INSTACART_PRIOR},
        "", {}, r"{dir}/orders.csv: order_id 473747 is listed more than once",
        id="instacart-order-listed-twice",
    ),
    # order 12's gap is unusable, so order 11 (before it) cannot be placed; order 13 has hour 25
    pytest.param(
        "instacart",
        {"orders.csv": ORDERS_HEAD + "11,1,prior,1,2,08,\n12,1,prior,2,3,07,x\n"
         "13,1,prior,3,3,25,21.0\n14,1,prior,4,4,08,14.0\n",
         "order_products__prior.csv": LINES_HEAD + "11,1,1,0\n11,2,2,0\n12,1,1,1\n13,3,1,0\n"
         "14,1,1,1\n"},
        "", {}, ({"bad_timestamp": 3}, 2), id="instacart-unusable-gap-and-hour",
    ),
    pytest.param(
        "instacart", {"orders.csv": INSTACART_ORDERS}, "orders.csv", {},
        r"{dir}/orders.csv: instacart needs the folder that holds orders.csv and "
        r"order_products__prior.csv and/or order_products__train.csv",
        id="instacart-given-one-file",
    ),
    pytest.param(
        "instacart", {"orders.csv": INSTACART_ORDERS}, "", {},
        r"{dir}: folder holds no instacart order lines \(order_products__prior.csv, "
        r"order_products__train.csv\)",
        id="instacart-without-order-lines",
    ),
    pytest.param(
        "cdnow",
        {"CDNOW_master.txt": "00001 19970101  0   0.00\n00002 19970112  1   12.x\n"
         "00003 19970102  2  20.76\n"},
        "", {}, ({"non_positive_quantity": 1, "bad_number": 1}, 1),
        id="cdnow-zero-cds-and-amount-not-a-number",
    ),
    pytest.param(
        "cdnow",
        {"CDNOW_master.txt": "00001 19971345  1  11.77\n00002 18970112  1  12.00\n"
         "00003 19970102  2  20.76\n"},
        "", {}, ({"bad_timestamp": 1, "implausible_timestamp": 1}, 1),
        id="cdnow-impossible-and-implausible-dates",
    ),
    pytest.param(
        "taobao",
        {"UserBehavior.csv": "1,2268318,2520377,pv,abc\n1,2333346,2520771,pv,1511561733\n"
         "1,2333346,2520771,like,1511561799\n"},
        "", {}, ({"bad_timestamp": 1, "unknown_event_type": 1}, 1),
        id="taobao-bad-timestamp-and-behaviour",
    ),
    pytest.param(
        "taobao",
        {"UserBehavior.csv": "1,2268318,2520377,pv,1511544070\n1,2333346,2520771,pv,1511561733,9\n"
         "1,2333346,2520771,buy,1511561799\n"},
        "", {}, ({"malformed_line": 1}, 2), id="taobao-ragged-line-is-quarantined-alone",
    ),
    pytest.param(
        "yoochoose",
        {"yoochoose-clicks.dat": "1,2014-04-07T10:51:09.277Z\n"
         "1,2014-04-07T10:54:09.868Z,214536500,S\n1,2014-04-07T10:55:09.868Z,214536501,S\n"},
        "", {}, ({"malformed_line": 1}, 2), id="yoochoose-short-line-is-quarantined-alone",
    ),
    pytest.param(
        "taobao", {"UserBehavior.csv": ""}, "", {}, r"{dir}/UserBehavior.csv: empty file",
        id="taobao-empty-file",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("fmt", "files", "path", "source", "expected"), BAD_INPUTS)
def test_bad_inputs(tmp_path, fmt, files, path, source, expected):
    folder = tmp_path / "data"
    for name, text in files.items():
        write(folder, name, text)
    target = folder / path if path else folder
    if isinstance(expected, str):
        with pytest.raises(SourceError, match=expected.replace("{dir}", re.escape(str(folder)))):
            ingest(tmp_path, target, fmt=fmt, **source)
        return
    counts, valid = expected
    result = ingest(tmp_path, target, fmt=fmt, **source)
    assert reasons(result) == counts
    assert result.metrics["rows_valid"] == valid
    assert_accounted(result)
