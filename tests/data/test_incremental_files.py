"""A file that grew by appended lines loads only its new lines; several files land all or none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from xsell.data.ingest import ingest_catalog, ingest_lines, ingest_transaction
from xsell.data.store import Store
from xsell.errors import InputFileError

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"


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
