"""Full Online Retail ingest: xsell (CSV -> cleaning -> DuckDB store -> ShopData) vs a pandas path.

The pandas path is what a notebook does: ``read_csv``, the same cleaning rules
(missing ids, cancellations, returns, zero quantity, non-product codes, bad
prices, exact duplicates), then id factorization and a SciPy CSR basket x item
matrix. Both run in this one process, each timed over five repeats taken in turns (best kept).

    .venv/bin/python benchmarks/ingest.py [PATH]
    .venv/bin/python benchmarks/ingest.py --database [PATH]

``--database`` measures the PostgreSQL path instead: the file is loaded into a throwaway
PostgreSQL cluster (initdb in a temp folder, as the ``postgres`` user under root), then
``xsell`` reads the table straight into the store (ADBC, Arrow chunks) against the way
without it: ``psql \\copy`` of the table to a CSV file followed by a file ingest. Rows per
second of each, best of three rounds taken in turns.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from xsell.data.ingest import ingest_lines
from xsell.data.presets import DEFAULT_NON_PRODUCT_CODES
from xsell.data.shopdata import ShopData
from xsell.data.store import Store

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared/data/online_retail/online_retail.csv"
REPEATS = 5


def xsell_path(path: Path) -> tuple[int, int, tuple[int, int]]:
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "bench.duckdb")
        report = ingest_lines(store, path, preset="online-retail")
        data = ShopData.from_store(store)
        matrix = data.basket_item
        return report.rows_kept, report.rows_rejected, matrix.shape


def pandas_path(path: Path, persist: bool = False) -> tuple[int, int, tuple[int, int]]:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    quantity = pd.to_numeric(frame["Quantity"], errors="coerce")
    price = pd.to_numeric(frame["UnitPrice"], errors="coerce")
    time_ = pd.to_datetime(frame["InvoiceDate"], errors="coerce")
    rejected = (
        frame["StockCode"].isna()
        | frame["InvoiceNo"].isna()
        | frame["InvoiceNo"].str.startswith("C", na=False)
        | (quantity <= 0)
        | frame["StockCode"].isin(DEFAULT_NON_PRODUCT_CODES)
        | (price <= 0)
        | frame.duplicated(keep="first")
    )
    kept = frame[~rejected].assign(quantity=quantity, price=price, time=time_)
    baskets, _ = pd.factorize(kept["InvoiceNo"])
    items, item_ids = pd.factorize(kept["StockCode"], sort=True)
    pd.factorize(kept["CustomerID"], sort=True)
    matrix = sp.csr_matrix(
        (np.ones(len(kept), np.float32), (baskets, items)),
        shape=(baskets.max() + 1, len(item_ids)),
    )
    matrix.sum_duplicates()
    if persist:
        # What the store gives xsell: kept and rejected rows on disk.
        with tempfile.TemporaryDirectory() as folder:
            kept.to_parquet(Path(folder) / "kept.parquet")
            frame[rejected].to_parquet(Path(folder) / "rejected.parquet")
    return len(kept), int(rejected.sum()), matrix.shape


def pandas_persisted_path(path: Path) -> tuple[int, int, tuple[int, int]]:
    return pandas_path(path, persist=True)


def best_of_interleaved(
    paths: dict[str, object], path: Path, repeats: int = REPEATS
) -> dict[str, tuple[float, object]]:
    """Best time of each path, the paths taking turns so that a busy moment hits them alike."""
    times: dict[str, list[float]] = {name: [] for name in paths}
    results: dict[str, object] = {}
    for _ in range(repeats):
        for name, fn in paths.items():
            started = time.perf_counter()
            results[name] = fn(path)  # type: ignore[operator]
            times[name].append(time.perf_counter() - started)
    return {name: (min(times[name]), results[name]) for name in paths}


COLUMNS = (
    '"InvoiceNo","StockCode","Description","Quantity","InvoiceDate","UnitPrice",'
    '"CustomerID","Country"'
)


@contextmanager
def postgres_cluster() -> Iterator[tuple[str, dict[str, str], Path]]:
    """A throwaway PostgreSQL server: (URL without password, environment with it, bin folder)."""
    import os
    import shutil
    import socket
    import subprocess

    pg_bin = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))[-1].parent
    folder = Path(tempfile.mkdtemp(prefix="xsell-bench-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        import pwd

        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = folder / "data"
    subprocess.run(
        [*prefix, str(pg_bin / "initdb"), "-D", str(data), "-U", "bench", "-A", "trust"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *prefix,
            str(pg_bin / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(folder / "log"),
            "-w",
            "-o",
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://bench@127.0.0.1:{port}/postgres", dict(os.environ), pg_bin
    finally:
        subprocess.run(
            [*prefix, str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


def database_benchmark(path: Path) -> None:
    import subprocess

    from xsell.data.postgres import ingest_database

    with postgres_cluster() as (url, env, pg_bin):
        psql = [str(pg_bin / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", url]
        subprocess.run(
            [
                *psql,
                "-c",
                'CREATE TABLE orders (id bigserial PRIMARY KEY, "InvoiceNo" text, '
                '"StockCode" text, "Description" text, "Quantity" integer, '
                '"InvoiceDate" timestamp, '
                '"UnitPrice" numeric(12,3), "CustomerID" integer, "Country" text)',
                "-c",
                f"\\copy orders ({COLUMNS}) FROM '{path}' CSV HEADER",
            ],
            check=True,
            env=env,
        )

        def direct(_: Path) -> tuple[int, int]:
            with tempfile.TemporaryDirectory() as folder:
                report = ingest_database(
                    Store(Path(folder) / "db.duckdb"), url, table="orders", preset="online-retail"
                )
                return report.rows_kept, report.rows_rejected

        def via_csv(_: Path) -> tuple[int, int]:
            with tempfile.TemporaryDirectory() as folder:
                export = Path(folder) / "orders.csv"
                subprocess.run(
                    [
                        *psql,
                        "-c",
                        f"\\copy (SELECT {COLUMNS} FROM orders ORDER BY id) TO "
                        f"'{export}' CSV HEADER",
                    ],
                    check=True,
                    env=env,
                )
                report = ingest_lines(
                    Store(Path(folder) / "csv.duckdb"), export, preset="online-retail"
                )
                return report.rows_kept, report.rows_rejected

        best = best_of_interleaved({"direct": direct, "via_csv": via_csv}, path, repeats=3)
    rows = 541_909 if path == DEFAULT else sum(1 for _ in path.open("rb")) - 1
    (d_time, d), (c_time, c) = best["direct"], best["via_csv"]
    print(f"file: {path} loaded into PostgreSQL ({rows:,} rows)")
    print("| path | seconds (best of 3) | rows/s | kept | rejected |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| xsell ingest postgresql://... --table orders | {d_time:.2f} | {rows / d_time:,.0f} "
        f"| {d[0]:,} | {d[1]:,} |"
    )  # type: ignore[index]
    print(
        f"| psql \\copy to CSV + xsell ingest FILE | {c_time:.2f} | {rows / c_time:,.0f} "
        f"| {c[0]:,} | {c[1]:,} |"
    )  # type: ignore[index]
    print(f"ratio (via CSV / direct): {c_time / d_time:.2f}x")


def main() -> None:
    if "--database" in sys.argv:
        args = [a for a in sys.argv[1:] if a != "--database"]
        database_benchmark(Path(args[0]) if args else DEFAULT)
        return
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    best = best_of_interleaved(
        {"xsell": xsell_path, "pandas": pandas_path, "persisted": pandas_persisted_path}, path
    )
    (xs_time, xs), (pd_time, pdr), (pp_time, ppr) = best["xsell"], best["pandas"], best["persisted"]
    print(f"file: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    print(f"| path | seconds (best of {REPEATS}) | kept | rejected | basket x item |")
    print("|---|---:|---:|---:|---|")
    print(f"| xsell ingest + ShopData | {xs_time:.2f} | {xs[0]:,} | {xs[1]:,} | {xs[2]} |")  # type: ignore[index]
    print(
        f"| pandas read_csv + cleaning + CSR | {pd_time:.2f} | {pdr[0]:,} | {pdr[1]:,} | {pdr[2]} |"
    )  # type: ignore[index]
    print(
        f"| pandas, plus kept/rejected written to Parquet | {pp_time:.2f} | {ppr[0]:,} | "  # type: ignore[index]
        f"{ppr[1]:,} | {ppr[2]} |"  # type: ignore[index]
    )
    print(
        f"ratio pandas / xsell: {pd_time / xs_time:.2f}x (in memory only), "
        f"{pp_time / xs_time:.2f}x (persisted)"
    )


if __name__ == "__main__":
    main()
