"""The CSV quote character, and quoted values that span lines (refused with a clear message)."""

from __future__ import annotations

from pathlib import Path

import pytest

from xsell.data.ingest import ingest_lines
from xsell.data.shopdata import ShopData
from xsell.data.store import Store
from xsell.errors import InputFileError, ValidationError

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
ROW = "{n},SKU{n},{name},1,2011-01-01 10:00:00,1.5,7,UK\n"


def orders(path: Path, *names: str) -> Path:
    path.write_text(HEADER + "".join(ROW.format(n=n, name=name) for n, name in enumerate(names)))
    return path


def test_single_quoted_values(tmp_path: Path, store_path: Path) -> None:
    path = orders(tmp_path / "orders.csv", "'MUG, RED'", "'IT''S A BAG'", "PLAIN")
    report = ingest_lines(Store(store_path), path, preset="online-retail", quote="'")
    assert (report.rows_in, report.rows_kept) == (3, 3)
    data = ShopData.from_store(store_path)
    assert sorted(data.item_names()) == ["IT'S A BAG", "MUG, RED", "PLAIN"]


def test_single_quoted_values_read_with_the_default_quote_are_refused(
    tmp_path: Path, store_path: Path
) -> None:
    path = orders(tmp_path / "orders.csv", "'MUG, RED'", "PLAIN")
    with pytest.raises(
        InputFileError,
        match=r"orders\.csv: line 2 has 9 values but the header has 8 "
        r"\(\"0,SKU0,'MUG, RED',1,2011-01-01 10:00:00,1\.5,7,UK\"\); quote values holding ','",
    ):
        ingest_lines(Store(store_path), path, preset="online-retail")
    assert not store_path.exists()


def test_no_quote_character_keeps_quotes_as_text(tmp_path: Path, store_path: Path) -> None:
    path = orders(tmp_path / "orders.csv", '"BIG" MUG', 'RULER 5"')
    ingest_lines(Store(store_path), path, preset="online-retail", quote="")
    data = ShopData.from_store(store_path)
    assert sorted(data.item_names()) == ['"BIG" MUG', 'RULER 5"']


def test_a_quote_of_two_characters_is_refused(tmp_path: Path, store_path: Path) -> None:
    path = orders(tmp_path / "orders.csv", "PLAIN")
    with pytest.raises(
        ValidationError, match=r"quote must be one character \(or '' for none\), got '\|\|'"
    ):
        ingest_lines(Store(store_path), path, preset="online-retail", quote="||")


def test_a_quoted_line_break_names_the_file_and_the_line(tmp_path: Path, store_path: Path) -> None:
    path = orders(tmp_path / "orders.csv", "PLAIN", '"TWO\nLINES"', "AFTER")
    with pytest.raises(
        InputFileError,
        match=r"orders\.csv: a value quoted with '\"' in column 'Description' holds a line "
        r"break, probably at line 3 \('TWO\\nLINES'\); line breaks inside quoted values are "
        r"not supported \(line numbers would be wrong\)",
    ):
        ingest_lines(Store(store_path), path, preset="online-retail")
    assert not store_path.exists()


def test_an_unclosed_quote_is_caught_where_it_opens(tmp_path: Path, store_path: Path) -> None:
    # Unclosed, the quote would swallow every later line into one value.
    path = orders(tmp_path / "orders.csv", "PLAIN", "PLAIN TOO", '"OPEN', "LOST", "LOST TOO")
    with pytest.raises(
        InputFileError,
        match=r"orders\.csv: a value quoted with '\"' holds a line break, probably at line 4; "
        r".*close the quote there",
    ):
        ingest_lines(Store(store_path), path, preset="online-retail")


def test_a_quoted_line_break_across_read_blocks(tmp_path: Path, store_path: Path) -> None:
    # Arrow reads 4 MiB blocks split at line ends: a break that ends a block is a parse error.
    row = ROW.format(n=1, name="PLAIN")
    head = HEADER + row * ((4 * 1024 * 1024 - 200) // len(row))
    opening = '2,SKU2,"TWO'
    filler = "X" * (4 * 1024 * 1024 - 5 - len(head) - len(opening))
    path = tmp_path / "big.csv"
    path.write_text(head + opening + filler + '\nLINES",1,2011-01-01 10:00:00,1.5,7,UK\n' + row)
    line = head.count("\n") + 1
    with pytest.raises(
        InputFileError,
        match=rf"big\.csv: a value quoted with '\"' holds a line break, probably at line {line};",
    ):
        ingest_lines(Store(store_path), path, preset="online-retail")
