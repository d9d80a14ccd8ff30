"""Full Online Retail ingest: xsell (CSV -> cleaning -> DuckDB store -> ShopData) vs a pandas path.

The pandas path is what a notebook does: ``read_csv``, the same cleaning rules
(missing ids, cancellations, returns, zero quantity, non-product codes, bad
prices, exact duplicates), then id factorization and a SciPy CSR basket x item
matrix. Both run in this one process, each timed over five repeats taken in turns (best kept).

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


def best_of_interleaved(paths: dict[str, object], path: Path) -> dict[str, tuple[float, object]]:
    """Best time of each path, the paths taking turns so that a busy moment hits them alike."""
    times: dict[str, list[float]] = {name: [] for name in paths}
    results: dict[str, object] = {}
    for _ in range(REPEATS):
        for name, fn in paths.items():
            started = time.perf_counter()
            results[name] = fn(path)  # type: ignore[operator]
            times[name].append(time.perf_counter() - started)
    return {name: (min(times[name]), results[name]) for name in paths}


def main() -> None:
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
