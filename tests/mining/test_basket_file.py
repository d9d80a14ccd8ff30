"""The lean basket-file reader against the data layer's Arrow reader (an independent path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import shared_file
from xsell.data.readers import read_baskets as arrow_read_baskets
from xsell.errors import InputFileError
from xsell.mining.basket_file import read_basket_arrays


def _arrow_baskets(path: Path, delimiter: str) -> list[list[str]]:
    table = arrow_read_baskets(path, delimiter).table.to_pydict()
    rows: dict[int, set[str]] = {}
    for line, item in zip(table["basket"], table["item"], strict=True):
        if item is not None:
            rows.setdefault(int(line), set()).add(item)
    return [sorted(rows[k]) for k in sorted(rows)]


def _lean_baskets(path: Path, delimiter: str) -> list[list[str]]:
    b = read_basket_arrays(path, delimiter)
    return [sorted(b.ids[b.indices[b.indptr[r] : b.indptr[r + 1]]].tolist())
            for r in range(b.shape[0])]  # fmt: skip


@pytest.mark.parametrize(
    ("relative", "delimiter"),
    [("fimi/retail.dat", " "), ("groceries/groceries.csv", ","), ("fimi/chess.dat", " ")],
)
def test_real_files_read_as_arrow_reads_them(relative: str, delimiter: str) -> None:
    path = shared_file(relative)
    assert _lean_baskets(path, delimiter) == _arrow_baskets(path, delimiter)


def test_messy_text(tmp_path: Path) -> None:
    path = tmp_path / "baskets.csv"
    # BOM, CRLF, blank lines, padded tokens, a trailing delimiter, a repeated item, Latin-1.
    path.write_bytes(
        b"\xef\xbb\xbfmilk, bread\r\n\r\n  eggs ,milk,milk,\r\nbread\n\n" + "café".encode()
    )
    assert _lean_baskets(path, ",") == [["bread", "milk"], ["eggs", "milk"], ["bread"], ["café"]]
    assert _lean_baskets(path, ",") == _arrow_baskets(path, ",")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("café,thé\n".encode("latin-1"))
    assert _lean_baskets(latin, ",") == [["café", "thé"]]


def test_many_items_grow_every_array(tmp_path: Path) -> None:
    path = tmp_path / "wide.dat"
    rng = np.random.default_rng(7)
    lines = [" ".join(f"i{v}" for v in rng.integers(0, 200_000, size=50)) for _ in range(3000)]
    path.write_text("\n".join(lines) + "\n")
    b = read_basket_arrays(path, " ")
    assert b.shape[0] == 3000
    assert _lean_baskets(path, " ") == [sorted(set(line.split())) for line in lines]
    assert len(set(b.ids.tolist())) == len(b.ids)  # each id once


def test_no_baskets(tmp_path: Path) -> None:
    path = tmp_path / "blank.dat"
    path.write_text("\n  \n\n")
    with pytest.raises(
        InputFileError, match=r"blank.dat: no baskets found \(every line is empty\)"
    ):
        read_basket_arrays(path, " ")
    empty = tmp_path / "empty.dat"
    empty.write_text("")
    with pytest.raises(InputFileError, match=r"empty.dat: the file is empty"):
        read_basket_arrays(empty, " ")
