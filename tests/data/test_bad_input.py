"""Every kind of bad input gets one clear message that names the problem."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from xsell.data.ingest import ingest_catalog, ingest_lines
from xsell.data.presets import parse_mapping
from xsell.data.shopdata import ShopData
from xsell.data.store import Store
from xsell.errors import InputFileError, SchemaError, StoreError, ValidationError


def test_missing_file(tmp_path: Path, store_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"nope\.csv: no such file"):
        ingest_lines(Store(store_path), tmp_path / "nope.csv")
    assert not store_path.exists()


def test_unknown_format(tmp_path: Path, store_path: Path) -> None:
    path = tmp_path / "orders.json"
    path.write_text("{}")
    with pytest.raises(InputFileError, match=r"unknown file format '\.json'; expected one of"):
        ingest_lines(Store(store_path), path)


def test_empty_file(tmp_path: Path, store_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("")
    with pytest.raises(InputFileError, match="the file is empty"):
        ingest_lines(Store(store_path), path)


def test_header_only(tmp_path: Path, store_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("InvoiceNo,StockCode\n")
    with pytest.raises(InputFileError, match="header but no data rows"):
        ingest_lines(Store(store_path), path, preset="online-retail")


def test_missing_column_names_it_lists_columns_and_suggests_a_preset(
    tmp_path: Path, store_path: Path
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
        "1,A,x,1,2011-01-01 10:00:00,1.0,5,UK\n"
    )
    with pytest.raises(SchemaError) as info:
        ingest_lines(Store(store_path), path, preset="online-retail")
    message = str(info.value)
    assert "column 'InvoiceNo' (for basket_id) is not in the file" in message
    assert "'Customer ID'" in message
    assert "try --preset online-retail-ii" in message


def test_no_mapping_for_a_required_role(tmp_path: Path, store_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("order,product\n1,a\n")
    with pytest.raises(
        SchemaError, match=r"no column is mapped to 'item_id'; map one with --map item=COLUMN"
    ):
        ingest_lines(Store(store_path), path)


def test_wrong_type_column_names_row_and_value(tmp_path: Path, store_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("order,product,qty\n1,a,lots\n1,b,many\n2,c,3\n")
    with pytest.raises(SchemaError) as info:
        ingest_lines(
            Store(store_path),
            path,
            mapping={"basket_id": "order", "item_id": "product", "quantity": "qty"},
        )
    message = str(info.value)
    assert "column 'qty' (quantity) should hold numbers" in message
    assert "2 of 3 rows" in message
    assert "row 2: 'lots'" in message


def test_every_row_rejected(tmp_path: Path, store_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "C1,A,x,-1,2011-01-01 10:00:00,1.0,5,UK\nC2,B,x,-1,2011-01-01 10:00:00,1.0,5,UK\n"
    )
    with pytest.raises(
        InputFileError, match=r"every one of its 2 rows was rejected \(cancellation: 2\)"
    ):
        ingest_lines(Store(store_path), path, preset="online-retail")
    assert not store_path.exists()


def test_catalog_referencing_unknown_items_warns(tmp_path: Path, store_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text("basket_id,item_id\n1,a\n1,b\n")
    catalog = tmp_path / "catalog.csv"
    catalog.write_text("item_id,name\na,Apple\nzzz,Unknown thing\n")
    ingest_lines(Store(store_path), orders)
    report = ingest_catalog(Store(store_path), catalog)
    assert "1 catalog items have no order lines yet" in " ".join(report.warnings)
    assert "1 items sold are not in the catalog" in " ".join(report.warnings)


def test_not_an_xsell_store(tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE t (x INT)")
    with pytest.raises(StoreError, match="a DuckDB file but not an xsell store"):
        ShopData.from_store(path)
    orders = tmp_path / "orders.csv"
    orders.write_text("basket_id,item_id\n1,a\n")
    with pytest.raises(StoreError, match="not an xsell store"):
        ingest_lines(Store(path), orders)


def test_not_a_duckdb_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.duckdb"
    path.write_text("hello, I am a text file " * 100)
    with pytest.raises(StoreError, match="not a DuckDB file"):
        ShopData.from_store(path)


def test_missing_store() -> None:
    with pytest.raises(StoreError, match="no store here; create one with `xsell ingest"):
        ShopData.from_store("/nonexistent/shop.duckdb")


def test_bad_mapping_text() -> None:
    with pytest.raises(ValidationError, match="not of the form role=Column"):
        parse_mapping("user")
    with pytest.raises(ValidationError, match="--map role 'colour' is unknown"):
        parse_mapping("colour=Colour")


def test_unknown_preset(tmp_path: Path, store_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("basket_id,item_id\n1,a\n")
    with pytest.raises(ValidationError, match="unknown preset 'shopify'; choose one of"):
        ingest_lines(Store(store_path), path, preset="shopify")
