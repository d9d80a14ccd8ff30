"""Full Online Retail ingest: xsell (CSV -> cleaning -> DuckDB store -> ShopData) vs a pandas path.

The pandas path is what a notebook does: ``read_csv``, the same cleaning rules
(missing ids, cancellations, returns, zero quantity, non-product codes, bad
prices, exact duplicates), then id factorization and a SciPy CSR basket x item
matrix. Both run in this one process, each timed over a few repeats (best kept).

    .venv/bin/python benchmarks/ingest.py [PATH]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from xsell.data.ingest import ingest_lines
from xsell.data.presets import DEFAULT_NON_PRODUCT_CODES
from xsell.data.shopdata import ShopData
from xsell.data.store import Store

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared/data/online_retail/online_retail.csv"
REPEATS = 3


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


def best_of(fn, path: Path) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(REPEATS):
        started = time.perf_counter()
        result = fn(path)
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    xs_time, xs = best_of(xsell_path, path)
    pd_time, pdr = best_of(pandas_path, path)
    pp_time, ppr = best_of(pandas_persisted_path, path)
    print(f"file: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    print("| path | seconds (best of 3) | kept | rejected | basket x item |")
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
