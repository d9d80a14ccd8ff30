"""Rules that reject a row for an unreadable value, a missing basket or a non-product code.

Each rejected row must keep its file, line number, reason, detail and raw values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from xsell.data.cleaning import CleaningOptions
from xsell.data.ingest import ingest_lines
from xsell.data.presets import DEFAULT_NON_PRODUCT_CODES
from xsell.data.store import Store
from xsell.errors import SchemaError

COLUMNS = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice"]
COLUMNS += ["CustomerID", "Country"]
# Line 1 is the header; the comment says what each line is.
ROWS = [
    "1,A,apple,1,2011-01-01 10:00:00,1.0,5,UK",  # 2 kept
    "2,B2,bread,1,yesterday,1.0,5,UK",  # 3 unparseable time
    "3,C3,cheese,1,2011-01-01 10:00:00,£2.50,5,UK",  # 4 unparseable price
    ",D4,dates,1,2011-01-01 10:00:00,1.0,5,UK",  # 5 missing basket
    "4,GIFT,gift wrap,1,2011-01-01 10:00:00,1.0,5,UK",  # 6 a shop's own fee code
    "5,POST,postage,1,2011-01-01 10:00:00,1.0,5,UK",  # 7 a default non-product code
    "6,E,eggs,2,12/2/2011 10:00,3.0,6,UK",  # 8 kept (US-style date)
    "6,F,flour,1,2011-01-02 10:00:00,2.0,6,UK",  # 9 kept
    "7,G,grapes,1,2011-01-03 10:00:00,,6,UK",  # 10 kept (no price is not a bad price)
]


def write(path: Path, rows: list[str]) -> Path:
    path.write_text(",".join(COLUMNS) + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def rejected(store: Path) -> dict[int, dict[str, Any]]:
    with duckdb.connect(str(store), read_only=True) as con:
        rows = con.execute(
            "SELECT source_line, path, reason, detail, CAST(raw AS VARCHAR) FROM rejected"
        ).fetchall()
    return {
        int(line): {"path": path, "reason": reason, "detail": detail, "raw": json.loads(raw)}
        for line, path, reason, detail, raw in rows
    }


def raw_of(row: str) -> dict[str, str | None]:
    return {c: (v or None) for c, v in zip(COLUMNS, row.split(","), strict=True)}


def test_unreadable_values_and_missing_basket_with_preset_codes(
    tmp_path: Path, store_path: Path
) -> None:
    path = write(tmp_path / "orders.csv", ROWS)
    report = ingest_lines(Store(store_path), path, preset="online-retail")
    assert report.reasons == {
        "missing_basket": 1,
        "unparseable_price": 1,
        "unparseable_time": 1,
        "non_product": 1,
    }
    assert (report.rows_in, report.rows_kept, report.rows_rejected) == (9, 5, 4)
    assert report.flags["missing_time"] == 0
    assert rejected(store_path) == {
        3: {
            "path": str(path),
            "reason": "unparseable_time",
            "detail": "InvoiceDate=yesterday is not a date/time",
            "raw": raw_of(ROWS[1]),
        },
        4: {
            "path": str(path),
            "reason": "unparseable_price",
            "detail": "UnitPrice=£2.50 is not a number",
            "raw": raw_of(ROWS[2]),
        },
        5: {
            "path": str(path),
            "reason": "missing_basket",
            "detail": "column InvoiceNo is empty",
            "raw": raw_of(ROWS[3]),
        },
        7: {
            "path": str(path),
            "reason": "non_product",
            "detail": "item POST",
            "raw": raw_of(ROWS[5]),
        },
    }
    assert raw_of(ROWS[3])["InvoiceNo"] is None  # the empty id is kept as it was: empty


def test_own_non_product_codes_replace_the_preset_ones(tmp_path: Path, store_path: Path) -> None:
    assert "POST" in DEFAULT_NON_PRODUCT_CODES and "GIFT" not in DEFAULT_NON_PRODUCT_CODES
    path = write(tmp_path / "orders.csv", ROWS)
    options = CleaningOptions(cancel_prefix="C", non_product_codes=("GIFT", "WRAP"))
    report = ingest_lines(Store(store_path), path, preset="online-retail", options=options)
    assert report.reasons["non_product"] == 1
    assert report.rows_kept == 5  # POST is now a product, GIFT is not
    rows = rejected(store_path)
    assert rows[6]["reason"] == "non_product"
    assert rows[6]["detail"] == "item GIFT"
    assert rows[6]["raw"] == raw_of(ROWS[4])
    assert 7 not in rows
    with duckdb.connect(str(store_path), read_only=True) as con:
        kept = con.execute("SELECT source_line, item_id FROM lines ORDER BY 1").fetchall()
    assert kept == [(2, "A"), (7, "POST"), (8, "E"), (9, "F"), (10, "G")]


def test_no_non_product_codes_keeps_every_code(tmp_path: Path, store_path: Path) -> None:
    path = write(tmp_path / "orders.csv", ROWS)
    options = CleaningOptions(cancel_prefix="C", non_product_codes=())
    report = ingest_lines(Store(store_path), path, preset="online-retail", options=options)
    assert "non_product" not in report.reasons
    assert report.rows_kept == 6


def test_unparseable_time_names_the_format_given(tmp_path: Path, store_path: Path) -> None:
    rows = [
        "1,A,apple,1,01/02/2011 10:00,1.0,5,UK",
        "1,B,bread,1,13/02/2011 10:00,1.0,5,UK",
        "2,C,cheese,1,2011-02-14 10:00,1.0,5,UK",  # ISO is still read
        "3,D,dates,1,02-14-2011 10:00,1.0,5,UK",  # not the format given
    ]
    path = write(tmp_path / "orders.csv", rows)
    options = CleaningOptions(time_format="%d/%m/%Y %H:%M")
    report = ingest_lines(Store(store_path), path, preset="online-retail", options=options)
    assert report.reasons == {"unparseable_time": 1}
    assert rejected(store_path)[5]["detail"] == (
        "InvoiceDate=02-14-2011 10:00 is not a date/time in the format %d/%m/%Y %H:%M"
    )
    with duckdb.connect(str(store_path), read_only=True) as con:
        times = con.execute(
            "SELECT CAST(time AS VARCHAR) FROM lines ORDER BY source_line"
        ).fetchall()
    assert times == [("2011-02-01 10:00:00",), ("2011-02-13 10:00:00",), ("2011-02-14 10:00:00",)]


def test_a_price_column_of_words_is_a_wrong_type_not_rejected_rows(
    tmp_path: Path, store_path: Path
) -> None:
    rows = [f"{n},A{n},x,1,2011-01-01 10:00:00,n/a,5,UK" for n in range(3)]
    path = write(tmp_path / "orders.csv", rows)
    with pytest.raises(
        SchemaError,
        match=r"column 'UnitPrice' \(price\) should hold numbers but 3 of 3 rows do not, "
        r"e\.g\. row 2: 'n/a'",
    ):
        ingest_lines(Store(store_path), path, preset="online-retail")
    assert not store_path.exists()
