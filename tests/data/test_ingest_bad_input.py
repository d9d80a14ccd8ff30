"""Bad input to ingest: every kind gets one clear line naming the problem and exit code 2,
the store stays byte-for-byte unchanged; good-but-odd files keep kept + rejected = read."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from xsell.cli.main import run
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


HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
GOOD = f"{HEADER}\n536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850,UK\n"
ROW = "536366,71053,LANTERN,1,2010-12-02 08:26:00,3.39,13047,UK"
RETAIL = ("--preset", "online-retail")


def text(content: str, name: str = "bad.csv") -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_text(content)
        return path

    return build


def raw(content: bytes, name: str = "bad.csv") -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content)
        return path

    return build


def parquet(table: pa.Table, name: str = "bad.parquet") -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / name
        pq.write_table(table, path)
        return path

    return build


def retail_table(**override: pa.Array) -> pa.Table:
    columns = {
        "InvoiceNo": pa.array(["1", "2"]),
        "StockCode": pa.array(["A1", "B1"]),
        "Description": pa.array(["x", "y"]),
        "Quantity": pa.array([1, 2]),
        "InvoiceDate": pa.array(["2011-01-01 10:00:00", "2011-01-02 10:00:00"]),
        "UnitPrice": pa.array([1.5, 2.5]),
        "CustomerID": pa.array([1.0, 2.0]),
        "Country": pa.array(["UK", "UK"]),
    }
    columns.update(override)
    return pa.table(columns)


def fifo(folder: Path) -> Path:
    path = folder / "pipe.csv"
    os.mkfifo(path)
    return path


def folder_named(folder: Path) -> Path:
    path = folder / "orders.csv"
    path.mkdir()
    return path


def truncated_parquet(folder: Path) -> Path:
    path = folder / "cut.parquet"
    pq.write_table(retail_table(), path)
    path.write_bytes(path.read_bytes()[:40])
    return path


def missing(folder: Path) -> Path:
    return folder / "missing.csv"


def dev_zero(folder: Path) -> Path:
    return Path("/dev/zero")


def long_garbage(folder: Path) -> Path:
    path = folder / "garbage.dat"
    path.write_bytes(bytes(range(256)) * 64)
    return path


def excel_garbage(folder: Path) -> Path:
    path = folder / "orders.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip file" * 10)
    return path


# (id, build the input, extra arguments, the exact message after "error: <path>: ")
FILES: list[tuple[str, Callable[[Path], Path], tuple[str, ...], str]] = [
    ("missing", missing, RETAIL, "no such file"),
    ("empty", text(""), RETAIL, "the file is empty"),
    ("header only", text(HEADER + "\n"), RETAIL, "the file has a header but no data rows"),
    (
        "blank lines only",
        text(HEADER + "\n\n\n"),
        RETAIL,
        "the file has a header but only blank lines",
    ),
    (
        "json",
        text("{}", "orders.json"),
        RETAIL,
        "unknown file format '.json'; expected one of ['.csv', '.dat', '.parquet', '.pq', '.tsv', "
        "'.txt', '.xlsm', '.xlsx'] (or --preset baskets|fimi for basket-per-line files)",
    ),
    ("folder", folder_named, RETAIL, "is a folder, expected a file"),
    (
        "fifo",
        fifo,
        RETAIL,
        "is a FIFO (named pipe), not a regular file; save the data to a file and ingest that",
    ),
    (
        "dev zero",
        dev_zero,
        RETAIL,
        "is a device, not a regular file; save the data to a file and ingest that",
    ),
    (
        "duplicate header",
        text(HEADER.replace("Country", "StockCode") + "\n" + ROW + "\n"),
        RETAIL,
        "columns 2 and 8 of the header are both named 'StockCode'; column names must be unique "
        "(rename one)",
    ),
    (
        "extra value",
        text(GOOD + ROW + ",extra\n"),
        RETAIL,
        "line 3 has 9 values but the header has 8 ('536366,71053,LANTERN,1,2010-12-02 08:26:00,"
        "3.39,13047,UK,ext...'); quote values holding ',' or fix the line",
    ),
    (
        "missing value",
        text(GOOD + "536366,71053,LANTERN\n"),
        RETAIL,
        "line 3 has 3 values but the header has 8 ('536366,71053,LANTERN'); quote values holding "
        "',' or fix the line",
    ),
    (
        "quoted line break",
        text(GOOD + '536400,22423,"CAKE\nSTAND",1,2010-12-03 09:00:00,1,5,UK\n'),
        RETAIL,
        "a value quoted with '\"' in column 'Description' holds a line break, probably at "
        "line 3 ('CAKE\\nSTAND'); line breaks inside quoted values are not supported (line numbers "
        "would be wrong): remove them or close the quote there, or give the file's quote character "
        "with --quote",
    ),
    (
        "binary csv",
        raw(b"\x00\x01\x02binary\x00" * 100),
        RETAIL,
        "holds binary data (NUL bytes in its first 1,000 bytes), not text; give a CSV, Parquet, "
        "Excel or basket-per-line text file",
    ),
    (
        "garbage fimi",
        long_garbage,
        ("--preset", "fimi"),
        "holds binary data (NUL bytes in its first 16,384 bytes), not text; give a CSV, Parquet, "
        "Excel or basket-per-line text file",
    ),
    (
        "parquet timestamp quantity",
        parquet(retail_table(Quantity=pa.array([1, 2], pa.timestamp("us")))),
        RETAIL,
        "column 'Quantity' (quantity) has type timestamp, which cannot hold numbers; map "
        "another column or convert it",
    ),
    (
        "parquet list invoice",
        parquet(retail_table(InvoiceNo=pa.array([[1], [2]], pa.list_(pa.int64())))),
        RETAIL,
        "column 'InvoiceNo' (basket_id) has type list<element: int64>, which cannot hold ids or "
        "text; map another column or convert it",
    ),
    (
        "parquet number time",
        parquet(retail_table(InvoiceDate=pa.array([1.5, 2.5]))),
        RETAIL,
        "column 'InvoiceDate' (time) has type double, which cannot hold dates/times; map another "
        "column or convert it",
    ),
    (
        "parquet binary price",
        parquet(retail_table(UnitPrice=pa.array([b"1", b"2"], pa.binary()))),
        RETAIL,
        "column 'UnitPrice' (price) has type binary, which cannot hold numbers; map another "
        "column or convert it",
    ),
    (
        "not parquet",
        text("hello", "orders.parquet"),
        RETAIL,
        "not a readable Parquet file: Parquet file size is 5 bytes, smaller than the minimum file "
        "footer (8 bytes)",
    ),
    ("truncated parquet", truncated_parquet, RETAIL, "not a readable Parquet file: .*"),
    ("empty parquet", parquet(retail_table().slice(0, 0)), RETAIL, "the Parquet file has no rows"),
    ("excel garbage", excel_garbage, RETAIL, "not a readable Excel workbook: .*"),
    (
        "all cancelled",
        text(
            f"{HEADER}\nC1,A1,x,-1,2011-01-01 10:00:00,1.0,5,UK\nC2,B1,x,-1,2011-01-01 10:00:00,"
            "1.0,5,UK\n"
        ),
        RETAIL,
        "every one of its 2 rows was rejected (cancellation: 2); nothing was written; check "
        "--preset and --map",
    ),
    (
        "quantity words",
        text("order,product,qty\n1,a,lots\n1,b,many\n2,c,3\n"),
        ("--map", "basket=order,item=product,quantity=qty"),
        "column 'qty' (quantity) should hold numbers but 2 of 3 rows do not, e.g. row 2: 'lots'; "
        "check --map or --time-format",
    ),
    (
        "time words",
        text("order,product,when\n1,a,soon\n1,b,later\n2,c,2011-01-01\n"),
        ("--map", "basket=order,item=product,time=when"),
        "column 'when' (time) should hold dates/times but 2 of 3 rows do not, e.g. row 2: 'soon'; "
        "check --map or --time-format",
    ),
    (
        "other preset's file",
        text(
            "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
            "1,A,x,1,2011-01-01 10:00:00,1.0,5,UK\n"
        ),
        RETAIL,
        "column 'InvoiceNo' (for basket_id) is not in the file; columns are ['Invoice', "
        "'StockCode', 'Description', 'Quantity', 'InvoiceDate', 'Price', 'Customer ID', "
        "'Country']; try --preset online-retail-ii",
    ),
    (
        "no item column",
        text("order,product\n1,a\n"),
        (),
        "no column is mapped to 'item_id'; map one with --map item=COLUMN (columns in the file: "
        "['order', 'product'])",
    ),
    (
        "all unknown events",
        text("user_id,item_id,time,event\nu1,a,2011-01-01,click\n"),
        ("--preset", "events"),
        "every one of its 1 rows was rejected (unknown_event: 1); nothing was written; check "
        "--preset and --map",
    ),
    (
        "bad utf-8 declared",
        raw(GOOD.encode() + "536366,1,CAF\xc9,1,2010-12-02 08:26:00,1,2,UK\n".encode("latin-1")),
        (*RETAIL, "--encoding", "utf-8"),
        "is not utf-8 text (byte 0xc9 at offset 150); give the file's encoding with --encoding",
    ),
    (
        "utf-16 bad row",
        raw((GOOD + ROW + ",extra\n").encode("utf-16")),
        RETAIL,
        "line 3 has 9 values but the header has 8 ('536366,71053,LANTERN,1,2010-12-02 08:26:00,"
        "3.39,13047,UK,ext...'); quote values holding ',' or fix the line",
    ),
]

# Usage errors that name no file: (id, arguments, exact message after "error: ").
USAGE: list[tuple[str, tuple[str, ...], str]] = [
    (
        "bad map",
        ("--map", "user"),
        "--map entry 'user' is not of the form role=Column (e.g. user=CustomerID,item=StockCode)",
    ),
    (
        "unknown role",
        ("--map", "colour=Colour"),
        "--map role 'colour' is unknown; choose one of ['available', 'basket', 'brand', "
        "'category', 'cost', 'customer', 'date', 'description', 'event', 'in_stock', 'invoice', "
        "'item', 'margin', 'name', 'order', 'price', 'product', 'qty', 'quantity', 'stock', "
        "'time', 'user']",
    ),
    (
        "unknown preset",
        ("--preset", "shopify"),
        "unknown preset 'shopify'; choose one of ['baskets', 'complete-journey', 'events', 'fimi', "
        "'generic', 'instacart', 'online-retail', 'online-retail-ii']",
    ),
    (
        "two-character quote",
        (*RETAIL, "--quote", "''"),
        "quote must be one character (or '' for none), got \"''\"",
    ),
    (
        "unknown encoding",
        (*RETAIL, "--encoding", "klingon"),
        "unknown text encoding 'klingon' for GOOD",
    ),
    (
        "pseudonymize without key",
        (*RETAIL, "--pseudonymize"),
        "pseudonyms need a secret key: set XSELL_PSEUDONYM_KEY or give --key-file FILE (at least "
        "16 bytes, e.g. from `openssl rand -hex 32`)",
    ),
    (
        "key file without pseudonymize",
        (*RETAIL, "--key-file", "GOOD"),
        "--key-file is for --pseudonymize; add --pseudonymize",
    ),
    (
        "table without url",
        (*RETAIL, "--table", "orders"),
        "--table, --query, --catalog-table, --catalog-query, --customers-table and --since-column "
        "read a database: give a postgresql://USER@HOST:PORT/DB URL",
    ),
]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store holding one good ingest, to check that failures leave every byte of it alone."""
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    path = tmp_path / "shop.duckdb"
    code, _, err = call("ingest", str(good), *RETAIL, "--store", str(path))
    assert code == 0, err
    return path


def call(*args: str) -> tuple[int, str, str]:
    """Run the ``xsell`` entry point in this process; (exit code, stdout, stderr)."""
    from io import StringIO

    out, err = StringIO(), StringIO()
    saved = sys.argv, sys.stdout, sys.stderr
    sys.argv, sys.stdout, sys.stderr = ["xsell", *args], out, err
    try:
        run()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv, sys.stdout, sys.stderr = saved
    return code, out.getvalue(), err.getvalue()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name.startswith("shop.duckdb")}


@pytest.mark.parametrize(
    ("build", "args", "message"), [c[1:] for c in FILES], ids=[c[0] for c in FILES]
)
def test_bad_file(
    tmp_path: Path,
    store: Path,
    build: Callable[[Path], Path],
    args: tuple[str, ...],
    message: str,
) -> None:
    source = build(tmp_path)
    before = snapshot(tmp_path)
    code, out, err = call("ingest", str(source), *args, "--store", str(store))
    assert code == 2, (out, err)
    assert out == ""
    assert err.count("\n") == 1, err
    import re

    # A message ending in ".*" is a pattern (the rest of it comes from a library).
    pattern = re.escape(f"error: {source}: ") + (
        message if message.endswith(".*") else re.escape(message)
    )
    assert re.fullmatch(pattern + "\n", err), err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(("args", "message"), [c[1:] for c in USAGE], ids=[c[0] for c in USAGE])
def test_usage_error(
    tmp_path: Path,
    store: Path,
    args: tuple[str, ...],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("XSELL_PSEUDONYM_KEY", raising=False)
    good = tmp_path / "good.csv"
    args = tuple(str(good) if a == "GOOD" else a for a in args)
    before = snapshot(tmp_path)
    code, out, err = call("ingest", str(good), *args, "--store", str(store))
    assert (code, out) == (2, ""), err
    assert err == f"error: {message.replace('GOOD', str(good))}\n"
    assert snapshot(tmp_path) == before


def broken_store(kind: str, folder: Path) -> Path:
    if kind == "text":
        path = folder / "notes.duckdb"
        path.write_text("hello, I am a text file " * 100)
    elif kind == "truncated":
        good = folder / "g.duckdb"
        call("ingest", str(folder / "good.csv"), *RETAIL, "--store", str(good))
        path = folder / "cut.duckdb"
        path.write_bytes(good.read_bytes()[:100])
    elif kind == "other":
        path = folder / "other.duckdb"
        with duckdb.connect(str(path)) as con:
            con.execute("CREATE TABLE t (x INT)")
    elif kind == "folder":
        path = folder / "dir.duckdb"
        path.mkdir()
    else:
        (folder / "plain").write_text("a file")
        path = folder / "plain" / "shop.duckdb"
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("text", "STORE: not a DuckDB file, so not an xsell store"),
        (
            "truncated",
            "STORE: cannot open the store: IO Error: Could not read enough bytes "
            'from file "STORE": attempted to read 3996 bytes from location 100',
        ),
        (
            "other",
            "STORE: a DuckDB file but not an xsell store (no xsell_meta table); choose "
            "another --store path",
        ),
        ("folder", "STORE: is a folder; give the store a file name (--store)"),
        (
            "parent file",
            "STORE: cannot create the store: PARENT is a file, not a folder; choose "
            "another --store path",
        ),
    ],
)
def test_bad_store(tmp_path: Path, kind: str, message: str) -> None:
    (tmp_path / "good.csv").write_text(GOOD)
    path = broken_store(kind, tmp_path)
    before = path.read_bytes() if path.is_file() else None
    code, out, err = call("ingest", str(tmp_path / "good.csv"), *RETAIL, "--store", str(path))
    assert (code, out) == (2, ""), err
    expected = message.replace("STORE", str(path)).replace("PARENT", str(path.parent))
    assert err == f"error: {expected}\n"
    if before is not None:
        assert path.read_bytes() == before
    for command in (("stats",), ("rejects",)):
        code, _, err = call(*command, "--store", str(path))
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err


def test_other_commands_refuse_clearly(tmp_path: Path, store: Path) -> None:
    code, _, err = call("rejects", "--reason", "returns", "--store", str(store))
    assert (code, err) == (
        2,
        "error: unknown --reason 'returns'; choose one of ['bad_price', 'cancellation', "
        "'cancelled', 'duplicate', 'duplicate_item', 'duplicate_user', 'missing_basket', "
        "'missing_item', 'missing_user', 'non_product', 'not_finite', 'return', "
        "'unknown_event', 'unparseable_price', 'unparseable_quantity', 'unparseable_time', "
        "'zero_quantity']\n",
    )
    code, _, err = call("rejects", "--limit", "-1", "--store", str(store))
    assert (code, err) == (2, "error: --limit must be 0 (all) or more, got -1\n")
    code, _, err = call("stats", "--store", str(tmp_path / "none.duckdb"))
    assert (code, err) == (
        2,
        f"error: {tmp_path / 'none.duckdb'}: no store here; create one with "
        f"`xsell ingest FILE --store {tmp_path / 'none.duckdb'}`\n",
    )


def kept_rejected_read(store: Path, report: dict[str, object]) -> None:
    with duckdb.connect(str(store), read_only=True) as con:
        lines = con.execute(
            "SELECT count(*) FROM lines WHERE ingest_id = ?", [report["ingest_id"]]
        ).fetchall()[0][0]
        rejected = con.execute(
            "SELECT count(*) FROM rejected WHERE ingest_id = ?", [report["ingest_id"]]
        ).fetchall()[0][0]
    assert report["rows_kept"] == lines and report["rows_rejected"] == rejected
    assert lines + rejected == report["rows_in"]


def ingest_json(path: Path, store: Path, *args: str) -> dict[str, object]:
    code, out, err = call("ingest", str(path), *args, "--store", str(store), "--json")
    assert code == 0, err
    return json.loads(out)["ingests"][0]  # type: ignore[no-any-return]


def test_odd_numbers_are_rejected_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "numbers.csv"
    path.write_text(
        f"{HEADER}\n1,A1,x,NaN,2011-01-01 10:00:00,1.0,5,UK\n"
        "2,A1,x,1,2011-01-01 10:00:00,inf,5,UK\n"
        "3,A1,x,1e400,2011-01-01 10:00:00,1.0,5,UK\n4,A1,x,1,2011-01-01 10:00:00,-Infinity,5,UK\n"
        "5,A1,x,2,2011-01-01 10:00:00,1.0,5,UK\n"
    )
    store = tmp_path / "s.duckdb"
    report = ingest_json(path, store, *RETAIL)
    assert report["reasons"] == {"not_finite": 4} and report["rows_kept"] == 1
    kept_rejected_read(store, report)
    _, out, _ = call("rejects", "--store", str(store), "--json")
    details = [r["detail"] for r in json.loads(out)["rows"]]
    assert details == [
        "Quantity=NaN is not a finite number",
        "UnitPrice=inf is not a finite number",
        "Quantity=1e400 is not a finite number",
        "UnitPrice=-Infinity is not a finite number",
    ]


def test_one_customer_written_two_ways_and_tied_names(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text(
        f"{HEADER}\n1,A1,Zebra mug,1,2011-01-01 10:00:00,1.0,17850,UK\n"
        "2,A1,Apple mug,1,2011-01-02 10:00:00,1.0,17850.0,UK\n"
        "3,A1,Zebra mug,1,2011-01-03 10:00:00,1.0,17850.00,UK\n"
        "4,A1,Apple mug,1,2011-01-04 10:00:00,1.0, 17850 ,UK\n"
    )
    store = tmp_path / "s.duckdb"
    report = ingest_json(path, store, *RETAIL)
    kept_rejected_read(store, report)
    with duckdb.connect(str(store), read_only=True) as con:
        users = con.execute("SELECT DISTINCT user_id FROM lines").fetchall()
        name = con.execute("SELECT name FROM items").fetchall()
    assert users == [("17850",)]
    assert name == [("Apple mug",)]  # two names twice each: the first in sort order


def test_utf16_and_a_5_mb_line_are_read(tmp_path: Path) -> None:
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes(
        (GOOD + "536366,71053,CAFÉ LANTERN,1,2010-12-02 08:26:00,3.39,13047,UK\n").encode("utf-16")
    )
    store = tmp_path / "s.duckdb"
    report = ingest_json(utf16, store, *RETAIL)
    assert report["encoding"] == "utf-16" and report["rows_kept"] == 2
    kept_rejected_read(store, report)
    long = tmp_path / "long.csv"
    long.write_text(
        GOOD + f"536367,L1,{'x' * (5 << 20)},1,2010-12-02 08:26:00,1.0,1,UK\n" + ROW + "\n"
    )
    report = ingest_json(long, store, *RETAIL)
    assert report["rows_in"] == 3
    kept_rejected_read(store, report)


def test_a_quote_in_a_column_name_and_in_the_folder_path(tmp_path: Path) -> None:
    folder = tmp_path / "shop's data"
    folder.mkdir()
    path = folder / "o'rders.csv"
    path.write_text('order,it\'em,"cu""st"\n1,a,u1\n1,b,u1\n2,a,u2\n')
    store = folder / "st'ore.duckdb"
    report = ingest_json(path, store, "--map", "basket=order,item=it'em,user=cu\"st")
    assert report["rows_kept"] == 3
    kept_rejected_read(store, report)
    _, out, _ = call("stats", "--store", str(store), "--json")
    assert json.loads(out)["customers"] == 2


# Bad catalog, customers and events files given with good orders: the whole ingest fails
# (the orders are not written either). (id, option, build, exact message after the path)
COMPANIONS: list[tuple[str, str, Callable[[Path], Path], str]] = [
    (
        "catalog without ids",
        "--catalog",
        text("item_id,name\n,nameless\n", "cat.csv"),
        "every one of its 1 catalog rows was rejected ({'missing_item': 1}); nothing was written",
    ),
    (
        "catalog of unknown format",
        "--catalog",
        text("{}", "cat.json"),
        "unknown file format '.json'; expected one of ['.csv', '.dat', '.parquet', '.pq', '.tsv', "
        "'.txt', '.xlsm', '.xlsx'] (or --preset baskets|fimi for basket-per-line files)",
    ),
    (
        "customers without an id column",
        "--customers",
        text("email,tier\na@b.c,gold\n", "cus.csv"),
        "no customer id column (looked for ['user_id', 'customer_id', 'CustomerID', 'Customer ID', "
        "'household_id', 'id']); columns are ['email', 'tier']; name it with --customer-column",
    ),
    ("empty customers", "--customers", text("", "cus.csv"), "the file is empty"),
    (
        "events fifo",
        "--events",
        fifo,
        "is a FIFO (named pipe), not a regular file; save the data to a file and ingest that",
    ),
]


@pytest.mark.parametrize(
    ("option", "build", "message"), [c[1:] for c in COMPANIONS], ids=[c[0] for c in COMPANIONS]
)
def test_bad_companion_file_fails_the_whole_ingest(
    tmp_path: Path, store: Path, option: str, build: Callable[[Path], Path], message: str
) -> None:
    orders = tmp_path / "more.csv"
    orders.write_text(f"{HEADER}\n{ROW}\n")
    companion = build(tmp_path)
    before = snapshot(tmp_path)
    code, out, err = call(
        "ingest", str(orders), *RETAIL, option, str(companion), "--store", str(store)
    )
    assert (code, out) == (2, ""), err
    assert err == f"error: {companion}: {message}\n"
    assert snapshot(tmp_path) == before


def test_an_unreadable_file(tmp_path: Path) -> None:
    """A file that cannot be read: one line naming it and the system's reason.

    Root reads files whatever their mode, so under root the file is one whose reads
    fail for everyone (``/proc/self/mem`` at offset 0: an I/O error).
    """
    if os.geteuid() == 0:
        path, reason = Path("/proc/self/mem"), "Input/output error"
    else:
        path, reason = tmp_path / "secret.csv", "Permission denied"
        path.write_text(GOOD)
        path.chmod(0o000)
    store = tmp_path / "never.duckdb"
    code, out, err = call("ingest", str(path), *RETAIL, "--store", str(store))
    assert (code, out) == (2, "")
    assert err == f"error: {path}: cannot read the file: {reason}\n"
    assert not store.exists()
