"""The store: an ingest killed midway (a real SIGKILL) leaves it exactly as it was; two processes
creating it at once both land."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
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


def dump(store: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a fixed order: a half-written row would show."""
    with duckdb.connect(str(store), read_only=True) as con:
        names = sorted(
            r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        )
        return {
            name: con.execute(f'SELECT * FROM "{name}" ORDER BY ALL').fetchall() for name in names
        }


def leftovers(store: Path) -> list[str]:
    return sorted(p.name for p in store.parent.glob(f".{store.name}.creating-*"))


@pytest.mark.parametrize("point", ["ingest-after-lines", "ingest-before-commit"])
def test_kill_during_an_append_leaves_the_store_unchanged(
    tmp_path: Path, store_path: Path, point: str
) -> None:
    ingest_lines(
        Store(store_path), orders(tmp_path / "first.csv", 300, "A"), preset="online-retail"
    )
    before = dump(store_path)
    assert len(before["lines"]) == 300 and len(before["ingests"]) == 1
    code = run_killed(store_path, orders(tmp_path / "second.csv", 3000, "B"), point)
    assert code == -9  # really killed by SIGKILL
    assert dump(store_path) == before
    # The store still works, and the killed file can be ingested afterwards.
    report = ingest_lines(Store(store_path), tmp_path / "second.csv", preset="online-retail")
    assert not report.skipped
    after = dump(store_path)
    assert len(after["lines"]) == 3300
    assert set(before["lines"]) <= set(after["lines"])


def test_kill_during_the_first_ingest_leaves_no_store_and_its_file_is_cleaned_up(
    tmp_path: Path, store_path: Path
) -> None:
    code = run_killed(store_path, orders(tmp_path / "first.csv", 300, "A"), "ingest-after-lines")
    assert code == -9
    assert not store_path.exists()
    # The half-built store of the killed process is still there...
    assert leftovers(store_path)
    ingest_lines(Store(store_path), tmp_path / "first.csv", preset="online-retail")
    # ...until the next ingest, which finds its process dead and removes it.
    assert leftovers(store_path) == []
    assert Store(store_path).table_counts()["lines"] == 300


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_only_files_of_dead_processes_are_removed(tmp_path: Path, store_path: Path) -> None:
    dead, live = dead_pid(), os.getppid()
    stale = [
        tmp_path / f".shop.duckdb.creating-{dead}",
        tmp_path / f".shop.duckdb.creating-{dead}.wal",
    ]
    building = [
        tmp_path / f".shop.duckdb.creating-{live}",
        tmp_path / f".shop.duckdb.creating-{live}.wal",
    ]
    other = [tmp_path / f".other.duckdb.creating-{dead}", tmp_path / ".shop.duckdb.creating-x"]
    for path in stale + building + other:
        path.write_bytes(b"half a store")
    ingest_lines(Store(store_path), orders(tmp_path / "a.csv", 30, "A"), preset="online-retail")
    assert [p.exists() for p in stale] == [False, False]
    assert [p.exists() for p in building] == [True, True]  # its process may still be writing
    assert [p.exists() for p in other] == [True, True]  # another store's, or not a process id


def test_reading_a_store_also_removes_stale_files(tmp_path: Path, store_path: Path) -> None:
    ingest_lines(Store(store_path), orders(tmp_path / "a.csv", 30, "A"), preset="online-retail")
    stale = tmp_path / f".shop.duckdb.creating-{dead_pid()}"
    stale.write_bytes(b"half a store")
    with Store(store_path).connect() as con:
        assert con.execute("SELECT count(*) FROM lines").fetchone() == (30,)
    assert not stale.exists()
    assert Store(store_path).remove_stale_files() == []


RACING = """
import sys, time
from pathlib import Path
from xsell.data.ingest import ingest_lines
from xsell.data.store import Store
go = Path(sys.argv[3])
deadline = time.monotonic() + 120
while not go.exists():  # start together: wait for the signal file, not for a time
    if time.monotonic() > deadline:
        sys.exit(3)
    time.sleep(0.001)
report = ingest_lines(Store(sys.argv[1]), sys.argv[2], preset="online-retail")
print(report.rows_kept)
"""


def test_two_first_ingests_into_a_new_store_both_land(tmp_path: Path) -> None:
    store = tmp_path / "new" / "shop.duckdb"
    go = tmp_path / "go"
    files = [orders(tmp_path / "a.csv", 20_000, "A"), orders(tmp_path / "b.csv", 30_000, "B")]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACING, str(store), str(f), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for f in files
    ]
    go.touch()
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert sorted(int(out) for out, _ in outputs) == [20_000, 30_000]
    with duckdb.connect(str(store), read_only=True) as con:
        per_file = con.execute(
            "SELECT i.path, count(*) FROM lines JOIN ingests i USING (ingest_id) "
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()
        ids = con.execute("SELECT ingest_id FROM ingests ORDER BY 1").fetchall()
    assert per_file == [(str(files[0]), 20_000), (str(files[1]), 30_000)]
    assert ids == [(1,), (2,)]
    assert not list(store.parent.glob(".shop.duckdb.creating-*"))
