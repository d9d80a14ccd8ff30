"""Ingest: cleaning rules, idempotent ingests, appends, catalogs and customers on small hand-made
files; a file that grew loads only its new lines; several files land all or none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from xsell.data.ingest import ingest_catalog, ingest_customers, ingest_lines, ingest_transaction
from xsell.data.shopdata import ShopData
from xsell.data.store import Store
from xsell.errors import InputFileError

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
ROWS = [
    "536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850,UK",
    "536365,71053,WHITE LANTERN,6,2010-12-01 08:26:00,3.39,17850,UK",
    "536365,71053,WHITE LANTERN,6,2010-12-01 08:26:00,3.39,17850,UK",  # duplicate
    "C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,14527,UK",  # cancellation
    "536380,22423,CAKESTAND,-2,2010-12-01 09:45:00,12.75,14527,UK",  # return
    "536381,POST,POSTAGE,1,2010-12-01 09:50:00,18.0,12583,FR",  # non product
    "536382,22728,ALARM CLOCK,0,2010-12-01 10:00:00,3.75,12583,FR",  # zero quantity
    "536383,22729,ALARM CLOCK PINK,2,2010-12-01 10:00:00,0,12583,FR",  # bad price
    "536384,,NO CODE,2,2010-12-01 10:00:00,1.0,12583,FR",  # missing item
    "536385,22730,CLOCK,2,2010-12-01 10:00:00,1.5,,UK",  # anonymous: kept
    "536386,22731,CLOCK BLUE,two,2010-12-01 10:00:00,1.5,12583,FR",  # bad quantity
]


def write(path: Path, rows: list[str], header: str = HEADER, encoding: str = "utf-8") -> Path:
    path.write_text(header + "\n".join(rows) + "\n", encoding=encoding)
    return path


def test_each_rule_rejects_its_row_and_keeps_it_with_reason(
    tmp_path: Path, store_path: Path
) -> None:
    path = write(tmp_path / "orders.csv", ROWS)
    report = ingest_lines(Store(store_path), path, preset="online-retail")
    assert report.reasons == {
        "missing_item": 1,
        "cancellation": 1,
        "unparseable_quantity": 1,
        "return": 1,
        "zero_quantity": 1,
        "non_product": 1,
        "bad_price": 1,
        "duplicate": 1,
    }
    assert report.rows_in == len(ROWS)
    assert report.rows_kept == 3
    assert report.flags["anonymous_lines"] == 1
    with duckdb.connect(str(store_path), read_only=True) as con:
        rejected = con.execute(
            "SELECT source_line, reason, raw->>'StockCode' FROM rejected ORDER BY source_line"
        ).fetchall()
    # Line numbers count the header as line 1, like an editor does.
    assert rejected[0] == (4, "duplicate", "71053")
    assert (12, "unparseable_quantity", "22731") in rejected


def test_same_file_twice_changes_nothing(tmp_path: Path, store_path: Path) -> None:
    path = write(tmp_path / "orders.csv", ROWS)
    ingest_lines(Store(store_path), path, preset="online-retail")
    before = Store(store_path).table_counts()
    again = ingest_lines(Store(store_path), path, preset="online-retail")
    assert again.skipped
    assert "already ingested" in again.warnings[0]
    after = Store(store_path).table_counts()
    assert after == before


def test_a_new_file_appends(tmp_path: Path, store_path: Path) -> None:
    first = write(tmp_path / "a.csv", ROWS[:2])
    second = write(
        tmp_path / "b.csv", ["536999,22423,CAKESTAND,1,2010-12-02 09:00:00,12.75,17850,UK"]
    )
    ingest_lines(Store(store_path), first, preset="online-retail")
    ingest_lines(Store(store_path), second, preset="online-retail")
    data = ShopData.from_store(store_path)
    assert len(data.lines) == 3
    assert data.n_baskets == 2
    assert data.users.ids.tolist() == ["17850"]
    assert data.user_item.sum() == 3


def test_latin1_and_bom_and_semicolons_read_the_same(tmp_path: Path) -> None:
    rows = ["1,A1,CRÈME BRÛLÉE SET,1,2011-01-01 10:00:00,2.5,10,FR"]
    stores = []
    for name, encoding, header, sep in (
        ("utf8.csv", "utf-8", HEADER, ","),
        ("bom.csv", "utf-8-sig", HEADER, ","),
        ("latin1.csv", "latin-1", HEADER, ","),
        ("semi.csv", "utf-8", HEADER.replace(",", ";"), ";"),
    ):
        path = tmp_path / name
        path.write_text(
            header + "\n".join(r.replace(",", sep) for r in rows) + "\n", encoding=encoding
        )
        store = tmp_path / f"{name}.duckdb"
        ingest_lines(Store(store), path, preset="online-retail")
        stores.append(ShopData.from_store(store))
    names = {tuple(d.item_names()) for d in stores}
    assert names == {("CRÈME BRÛLÉE SET",)}


def test_latin1_byte_far_into_the_file_is_read_as_latin1(tmp_path: Path) -> None:
    # Past the delimiter sniffer's 64 KB sample: only Arrow's UTF-8 check can notice it.
    plain = [f"{n},A{n % 50},MUG,1,2011-01-01 10:00:00,2.5,10,UK" for n in range(1, 3000)]
    path = tmp_path / "late_latin1.csv"
    path.write_bytes(
        (HEADER + "\n".join(plain) + "\n").encode()
        + "9999,B1,CAFÉ SET,1,2011-01-02 10:00:00,2.5,10,FR\n".encode("latin-1")
    )
    assert len(path.read_bytes()) > 64 * 1024
    report = ingest_lines(Store(tmp_path / "s.duckdb"), path, preset="online-retail")
    assert report.encoding == "latin-1"
    assert report.rows_kept == len(plain) + 1
    data = ShopData.from_store(tmp_path / "s.duckdb")
    assert "CAFÉ SET" in data.item_names()


def test_declared_encoding_that_does_not_fit_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1_header.csv"
    path.write_bytes(HEADER.replace("Country", "Pays_é").encode("latin-1") + b"1,A,B,1,,1,1,FR\n")
    with pytest.raises(
        InputFileError,
        match=r"latin1_header.csv: is not utf-8 text \(byte 0xe9 at offset \d+\); give the "
        r"file.s encoding with --encoding",
    ):
        ingest_lines(Store(tmp_path / "s.duckdb"), path, preset="online-retail", encoding="utf-8")


def test_excel_workbook(tmp_path: Path, store_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "order": ["o1", "o1", "o2"],
            "sku": ["a", "b", "a"],
            "when": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:00", "2024-01-02 11:00"]),
            "qty": [1, 2, 1],
        }
    )
    path = tmp_path / "orders.xlsx"
    frame.to_excel(path, index=False)
    ingest_lines(
        Store(store_path),
        path,
        mapping={"basket_id": "order", "item_id": "sku", "time": "when", "quantity": "qty"},
    )
    data = ShopData.from_store(store_path)
    assert data.n_baskets == 2
    assert data.basket_time[0] == pd.Timestamp("2024-01-01 10:00").to_datetime64()
    assert data.lines["quantity"].tolist() == [1.0, 2.0, 1.0]


def test_catalog_names_categories_and_extra_attributes(tmp_path: Path, store_path: Path) -> None:
    orders = write(tmp_path / "orders.csv", ROWS[:2])
    catalog = tmp_path / "catalog.csv"
    catalog.write_text(
        "sku,name,category,brand,price,in_stock,colour\n"
        "85123A,Heart holder,Decor,Acme,2.95,yes,white\n"
        "71053,Lantern,Lighting,Acme,3.5,no,white\n"
        "99999,Brand new lamp,Lighting,Acme,9.5,yes,red\n"
    )
    ingest_lines(Store(store_path), orders, preset="online-retail")
    report = ingest_catalog(Store(store_path), catalog)
    assert report.rows_kept == 3
    assert any("no order lines yet" in w for w in report.warnings)
    data = ShopData.from_store(store_path)
    table = data.catalog.set_index("item_id")
    assert table.loc["85123A", "name"] == "Heart holder"
    assert table.loc["71053", "in_stock"] is False or table.loc["71053", "in_stock"] == False  # noqa: E712
    assert "99999" in data.items  # catalog-only items are known (content models can suggest them)
    with duckdb.connect(str(store_path), read_only=True) as con:
        colour = con.execute(
            "SELECT attributes->>'colour' FROM items WHERE item_id='99999'"
        ).fetchall()
    assert colour == [("red",)]


def test_customers_file(tmp_path: Path, store_path: Path) -> None:
    orders = write(tmp_path / "orders.csv", ROWS[:2])
    customers = tmp_path / "customers.csv"
    customers.write_text("CustomerID,Country\n17850,UK\n17850,UK\n99,FR\n,DE\n")
    ingest_lines(Store(store_path), orders, preset="online-retail")
    report = ingest_customers(Store(store_path), customers)
    assert report.reasons == {"duplicate_user": 1, "missing_user": 1}
    data = ShopData.from_store(store_path)
    assert sorted(data.users.ids.tolist()) == ["17850", "99"]


def test_events_file_lands_apart_from_baskets(tmp_path: Path, store_path: Path) -> None:
    orders = write(tmp_path / "orders.csv", ROWS[:2])
    events = tmp_path / "events.csv"
    events.write_text(
        "user_id,item_id,time,event\n17850,22423,2010-12-01 08:00:00,view\n"
        "17850,22423,2010-12-01 08:01:00,cart\n17850,22423,2010-12-01 08:02:00,wishlist\n"
    )
    ingest_lines(Store(store_path), orders, preset="online-retail")
    report = ingest_lines(Store(store_path), events, preset="events")
    assert report.reasons == {"unknown_event": 1}
    data = ShopData.from_store(store_path)
    assert data.events["event"].tolist() == ["view", "cart"]
    assert data.n_baskets == 1


@pytest.mark.parametrize("half_life", [1.0, 30.0])
def test_recency_weights_halve_per_half_life(half_life: float) -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "basket_id": ["b1", "b2"],
            "user_id": ["u", "u"],
            "item_id": ["x", "x"],
            "time": pd.to_datetime(["2024-01-01", "2024-01-01"])
            + pd.to_timedelta([0, half_life], "D"),
        }
    )
    data = ShopData.from_frame(frame)
    weighted = data.user_item_weighted(half_life)
    # The newest basket weighs 1, the one a half-life older 0.5.
    assert weighted[0, 0] == pytest.approx(1.5)
    assert data.user_item[0, 0] == 2


def test_only_exact_copies_are_duplicates(tmp_path: Path, store_path: Path) -> None:
    rows = [
        "1,A,x,1,2011-01-01 10:00:00,1.0,5,UK",
        "1,A,x,2,2011-01-01 10:00:00,1.0,5,UK",  # same basket and item, other quantity: kept
        "1,A,x,1,2011-01-01 10:00:00,1.0,5,UK",  # exact copy of the first: duplicate
        "1,A,x,1,2011-01-01 10:00:00,1.0,5,UK",  # and again
        "2,A,x,1,2011-01-01 10:00:00,1.0,5,UK",  # other basket: kept
    ]
    path = write(tmp_path / "o.csv", rows)
    report = ingest_lines(Store(store_path), path, preset="online-retail")
    assert report.reasons == {"duplicate": 2}
    with duckdb.connect(str(store_path), read_only=True) as con:
        lines = con.execute("SELECT source_line FROM rejected ORDER BY 1").fetchall()
    assert lines == [(4,), (5,)]


def test_headerless_csv_with_positional_columns(tmp_path: Path, store_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text('o1,"a, the first",3\no1,b,1\no2,a,2\n')
    mapping = {"basket_id": "f0", "item_id": "f1", "quantity": "f2"}
    ingest_lines(Store(store_path), path, mapping=mapping, header=False)
    data = ShopData.from_store(store_path)
    assert sorted(data.items.ids.tolist()) == ["a", "a, the first", "b"]  # quoted comma kept
    assert data.lines["quantity"].tolist() == [3.0, 1.0, 2.0]


def test_tab_separated_file(tmp_path: Path, store_path: Path) -> None:
    path = tmp_path / "orders.tsv"
    path.write_text("basket_id\titem_id\tprice\n1\ta\t2.5\n1\tb\t1.0\n")
    ingest_lines(Store(store_path), path)
    data = ShopData.from_store(store_path)
    assert data.n_items == 2
    assert sorted(data.item_prices().tolist()) == [1.0, 2.5]


def test_catalog_and_customers_twice_change_nothing(tmp_path: Path, store_path: Path) -> None:
    catalog = tmp_path / "catalog.csv"
    catalog.write_text("item_id,name\na,Apple\nb,Bread\n")
    customers = tmp_path / "customers.csv"
    customers.write_text("user_id,country\nu1,UK\n")
    ingest_lines(
        Store(store_path), write(tmp_path / "orders.csv", ROWS[:2]), preset="online-retail"
    )
    first = [
        ingest_catalog(Store(store_path), catalog),
        ingest_customers(Store(store_path), customers),
    ]
    before = Store(store_path).table_counts()
    again = [
        ingest_catalog(Store(store_path), catalog),
        ingest_customers(Store(store_path), customers),
    ]
    assert [r.skipped for r in again] == [True, True]
    assert [r.ingest_id for r in again] == [r.ingest_id for r in first]
    assert Store(store_path).table_counts() == before
    with duckdb.connect(str(store_path), read_only=True) as con:
        kinds = con.execute("SELECT kind, preset FROM ingests ORDER BY ingest_id").fetchall()
    assert kinds == [("lines", "online-retail"), ("catalog", "generic"), ("customers", "generic")]


def test_blank_lines_are_counted_and_keep_later_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text(
        HEADER
        + ROWS[0]
        + "\n\n"  # line 3 is blank
        + ROWS[1]
        + "\n,,,,,,,\n"  # line 5 holds no value either
        + ROWS[4]  # line 6: a return, rejected
        + "\n"
    )
    store = tmp_path / "s.duckdb"
    report = ingest_lines(Store(store), path, preset="online-retail")
    assert report.flags["blank_lines"] == 2
    assert "2 blank lines (no values at all) were skipped" in report.warnings
    assert (report.rows_in, report.rows_kept, report.reasons) == (3, 2, {"return": 1})
    with duckdb.connect(str(store), read_only=True) as con:
        assert con.execute("SELECT source_line, reason FROM rejected").fetchall() == [(6, "return")]
        assert con.execute("SELECT source_line FROM lines ORDER BY 1").fetchall() == [(2,), (4,)]


def row(i: int, invoice: str | None = None) -> str:
    return (
        f"{invoice or 1000 + i // 3},SKU{i % 7},item {i % 7},1,2011-01-01 10:00:00,2.0,{i % 5},UK\n"
    )


def dump(store: Path) -> dict[str, list[tuple[Any, ...]]]:
    with duckdb.connect(str(store), read_only=True) as con:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return {n: con.execute(f'SELECT * FROM "{n}" ORDER BY ALL').fetchall() for n in names}


def test_a_grown_file_loads_only_its_new_lines_with_their_own_line_numbers(
    tmp_path: Path,
) -> None:
    path = tmp_path / "daily.csv"
    path.write_text(HEADER + "".join(row(i) for i in range(30)))
    store = Store(tmp_path / "s.duckdb")
    first = ingest_lines(store, path, preset="online-retail")
    with path.open("a") as handle:
        handle.write(
            "".join(row(i) for i in range(30, 42))
            + "C1020,SKU0,item 0,-1,2011-01-02 10:00:00,2.0,0,UK\n"
        )
    second = ingest_lines(store, path, preset="online-retail")
    assert (first.rows_in, second.rows_in) == (30, 13)
    assert second.incremental == {"after_ingest": 1, "from_line": 32}
    assert second.reasons == {"cancellation": 1, "cancelled": 1}
    with duckdb.connect(str(store.path), read_only=True) as con:
        lines = con.execute(
            "SELECT source_line FROM lines WHERE ingest_id = 2 ORDER BY 1"
        ).fetchall()
        rejected = con.execute("SELECT source_line, reason FROM rejected ORDER BY 1").fetchall()
        total = con.execute("SELECT count(*) FROM lines").fetchall()[0][0]
    # Line 44 cancels line 37 (same customer, item, quantity, price; the latest earlier one).
    assert [r[0] for r in lines] == [n for n in range(32, 44) if n != 37]
    assert rejected == [(37, "cancelled"), (44, "cancellation")]  # the file's own line numbers
    assert second.netting == {"netted": 1, "netted_earlier_ingests": 0, "unmatched": 0}
    assert total == 30 + 11
    again = ingest_lines(store, path, preset="online-retail")
    assert again.skipped


def test_a_last_line_without_a_line_break_that_was_continued_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "daily.csv"
    path.write_text(HEADER + "".join(row(i) for i in range(5)).rstrip("\n"))
    store = Store(tmp_path / "s.duckdb")
    ingest_lines(store, path, preset="online-retail")
    before = store.path.read_bytes()
    with path.open("a") as handle:
        handle.write("9\n" + row(9))
    with pytest.raises(
        InputFileError,
        match=r"daily\.csv: grew since ingest #1, but its last line "
        r"then \(line 6\) had no line break and was continued",
    ):
        ingest_lines(store, path, preset="online-retail")
    assert store.path.read_bytes() == before


def test_a_changed_file_is_not_taken_for_a_grown_one(tmp_path: Path) -> None:
    path = tmp_path / "daily.csv"
    path.write_text(HEADER + "".join(row(i) for i in range(5)))
    store = Store(tmp_path / "s.duckdb")
    ingest_lines(store, path, preset="online-retail")
    path.write_text(HEADER + "".join(row(i) for i in range(1, 8)))
    report = ingest_lines(store, path, preset="online-retail")
    assert report.rows_in == 7 and report.incremental == {}


def test_a_failing_catalog_leaves_the_orders_of_the_same_ingest_unwritten(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    base = tmp_path / "base.csv"
    base.write_text(HEADER + row(0))
    ingest_lines(store, base, preset="online-retail")
    before = dump(store.path)
    orders = tmp_path / "orders.csv"
    orders.write_text(HEADER + "".join(row(i) for i in range(1, 10)))
    catalog = tmp_path / "catalog.csv"
    catalog.write_text("sku,name\n,nameless\n")
    with (
        pytest.raises(InputFileError, match="every one of its 1 catalog rows was rejected"),
        ingest_transaction(store) as con,
    ):
        ingest_lines(store, orders, preset="online-retail", con=con)
        ingest_catalog(store, catalog, con=con)
    assert dump(store.path) == before
