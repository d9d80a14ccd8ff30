"""Fitting speed of the neighbourhood models on the Instacart train lines, next to their peers.

Side by side on the same baskets x items matrix (131,209 baskets, 39,123 items;
the bare product and each co-occurrence fit take turns, five times, best of each):
the bare ``XᵀX`` product (the floor of any co-occurrence model), xsell's
``cooccurrence`` (counts, measure, top-k pruning), ``implicit``'s item-kNN
(``CosineRecommender``, one thread) and xsell's ``itemknn``; then scoring 10,000
carts (in chunks of 1,000) with ``cooccurrence`` and ``itemknn``. Each figure is the
best of three runs. Run::

    python benchmarks/models_speed.py [--out benchmarks/results/models_speed.md]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from implicit.nearest_neighbours import CosineRecommender

from xsell.data.ingest import ingest_lines
from xsell.data.shopdata import ShopData
from xsell.data.store import Store
from xsell.models import Batch, Recommender, basket_rows, make_model, rank

DATA = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "instacart"
    / "order_products__train.parquet"
)
N_QUERIES = 10_000
CHUNK = 1_000


def best_of(run: Callable[[], Any], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def load() -> ShopData:
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "instacart.duckdb")
        ingest_lines(store, DATA, preset="instacart")
        return ShopData.from_store(store)


def query_speed(model: Recommender, data: ShopData) -> float:
    rng = np.random.default_rng(0)
    picked = rng.choice(data.n_baskets, N_QUERIES, replace=False)
    carts = [data.basket_items(int(b))[:-1].tolist() for b in picked]

    def run() -> None:
        for start in range(0, N_QUERIES, CHUNK):
            chunk = carts[start : start + CHUNK]
            rank(model, Batch(basket_rows(chunk, data.n_items)), 10)

    return best_of(run, repeat=1)


def _fit_cooccurrence(data: ShopData, params: dict[str, Any]) -> None:
    make_model("cooccurrence", **params).fit(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="Write the markdown table here.")
    args = parser.parse_args()
    data = load()
    x = data.basket_item
    x64 = sp.csr_matrix(x, dtype=np.float64)
    rows: list[tuple[str, float]] = []

    def bare_product() -> None:
        x.T.tocsr() @ x

    bare_times = [best_of(bare_product)]
    cases: list[tuple[str, dict[str, Any]]] = [
        ("xsell cooccurrence, defaults (jaccard, top 200, pairs in 20+ baskets)", {}),
        ("xsell cooccurrence, jaccard, top 200, every pair", {"min_count": 0}),
        (
            "xsell cooccurrence, lift, top 50, decay 30 d, every pair",
            {"measure": "lift", "neighbours": 50, "half_life_days": 30, "min_count": 0},
        ),
        (
            "xsell cooccurrence, confidence, every pair kept",
            {"measure": "confidence", "neighbours": None, "min_count": 0},
        ),
    ]
    for label, params in cases:
        # Bare and fit take turns, so a load that comes and goes weighs on both alike.
        fit_times = []
        for _ in range(5):
            bare_times.append(best_of(bare_product, repeat=1))
            fit_times.append(best_of(partial(_fit_cooccurrence, data, params), repeat=1))
        rows.append((label, min(fit_times)))
    rows.insert(0, ("bare XᵀX (SciPy, float32)", min(bare_times)))

    def peer() -> None:
        CosineRecommender(K=100).fit(x64, show_progress=False)

    rows.append(("implicit CosineRecommender(K=100).fit", best_of(peer)))
    rows.append(
        (
            "xsell itemknn, cosine, top 100",
            best_of(lambda: make_model("itemknn", weighting="none").fit(data)),
        )
    )
    rows.append(
        (
            "xsell itemknn, BM25, top 100",
            best_of(lambda: make_model("itemknn", weighting="bm25").fit(data)),
        )
    )
    bare = rows[0][1]
    lines = [
        f"Instacart train lines: {data.n_baskets:,} baskets x {data.n_items:,} items, "
        f"{x.nnz:,} lines; best of 3, one BLAS thread.",
        "",
        "| fit | seconds | vs bare XᵀX |",
        "|---|---:|---:|",
        *[f"| {label} | {sec:.2f} | {sec / bare:.2f}x |" for label, sec in rows],
        "",
        f"Scoring {N_QUERIES:,} carts (held-out last item), top 10, chunks of {CHUNK:,}:",
        "",
        "| model | seconds | carts / s |",
        "|---|---:|---:|",
    ]
    for name, params in [("cooccurrence", {}), ("itemknn", {})]:
        model = make_model(name, **params).fit(data)
        seconds = query_speed(model, data)
        lines.append(f"| {name} | {seconds:.2f} | {N_QUERIES / seconds:,.0f} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        # Written aside, then renamed, so a killed run leaves the old figures.
        aside = args.out.with_suffix(".tmp")
        aside.write_text(text + "\n")
        aside.replace(args.out)


if __name__ == "__main__":
    main()
