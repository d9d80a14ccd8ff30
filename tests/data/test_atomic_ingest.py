"""An ingest killed midway (a real SIGKILL) leaves the store exactly as it was."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from xsell.data.ingest import ingest_lines
from xsell.data.store import Store

SCRIPT = """
import sys
from xsell.data.ingest import ingest_lines
from xsell.data.store import Store
ingest_lines(Store(sys.argv[1]), sys.argv[2], preset="online-retail")
"""


def orders(path: Path, n: int, prefix: str) -> Path:
    rows = [
        f"{prefix}{i // 3},SKU{i % 50},item {i % 50},1,2011-01-01 10:00:00,1.5,{i % 20},UK"
        for i in range(n)
    ]
    path.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        + "\n".join(rows)
        + "\n"
    )
    return path


def run_killed(store: Path, source: Path, point: str) -> int:
    env = {**os.environ, "XSELL_FAULT": point}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(store), str(source)], env=env)
    return done.returncode


@pytest.mark.parametrize("point", ["ingest-after-lines", "ingest-before-commit"])
def test_kill_during_an_append_leaves_the_store_unchanged(
    tmp_path: Path, store_path: Path, point: str
) -> None:
    ingest_lines(
        Store(store_path), orders(tmp_path / "first.csv", 300, "A"), preset="online-retail"
    )
    before = Store(store_path).table_counts()
    code = run_killed(store_path, orders(tmp_path / "second.csv", 3000, "B"), point)
    assert code == -9  # really killed by SIGKILL
    assert Store(store_path).table_counts() == before
    # The store still works, and the killed file can be ingested afterwards.
    report = ingest_lines(Store(store_path), tmp_path / "second.csv", preset="online-retail")
    assert not report.skipped
    assert Store(store_path).table_counts()["lines"] == before["lines"] + 3000


def test_kill_during_the_first_ingest_leaves_no_store(tmp_path: Path, store_path: Path) -> None:
    code = run_killed(store_path, orders(tmp_path / "first.csv", 300, "A"), "ingest-after-lines")
    assert code == -9
    assert not store_path.exists()
    ingest_lines(Store(store_path), tmp_path / "first.csv", preset="online-retail")
    assert Store(store_path).table_counts()["lines"] == 300
