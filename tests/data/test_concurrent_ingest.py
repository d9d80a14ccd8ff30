"""Two processes ingesting different files into a new store at once: both land."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

from tests.data.test_atomic_ingest import orders

SCRIPT = """
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
            [sys.executable, "-c", SCRIPT, str(store), str(f), str(go)],
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
