"""Content-based model on real shops: quality vs popularity, fit time, throughput, exactness.

For each data set the store is built once (cached under ``--cache``), split, and
asked the same basket-completion queries (one hidden item per basket) by:

* ``popularity`` (the baseline every model must beat),
* ``content`` (name TF-IDF + category/brand/price band, cosine to the basket),
* ``content`` with ``complement_categories=True`` where the catalog has categories.

The scoring path (sparse ``(B F) Fᵀ``) is also timed against a dense NumPy reference
(``B S`` with ``S = F Fᵀ`` built once as a dense items x items matrix) on the same queries, and
their largest difference is reported. Run::

    python benchmarks/models_content.py                    # all data sets (about 4 minutes)
    python benchmarks/models_content.py --datasets retail  # Online Retail only
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from xsell.data.holdout import basket_completion
from xsell.data.ingest import ingest_catalog, ingest_lines
from xsell.data.shopdata import ShopData
from xsell.data.splits import make_split
from xsell.data.store import Store
from xsell.evaluation.runner import evaluate_model
from xsell.models import make_model
from xsell.models.content import ContentBased

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DATASETS: dict[str, dict[str, Any]] = {
    "retail": {
        "label": "Online Retail",
        "lines": ("online_retail/online_retail.csv", "online-retail"),
        "catalog": None,
        "split": "2011-10-01",
    },
    "instacart": {
        "label": "Instacart train",
        "lines": ("instacart/order_products__train.parquet", "instacart"),
        "catalog": ("instacart/products.csv", "instacart"),
        "split": "random",
    },
    "journey": {
        "label": "Complete Journey",
        "lines": ("complete_journey/transactions.parquet", "complete-journey"),
        "catalog": ("complete_journey/products.parquet", "complete-journey"),
        "split": "random",
    },
}
#: Largest catalog for the dense items x items reference (memory: n^2 float64).
DENSE_LIMIT = 12_000


def load(name: str, cache: Path) -> ShopData:
    spec = DATASETS[name]
    path = cache / f"{name}.duckdb"
    if not path.exists():
        store = Store(path)
        file, preset = spec["lines"]
        ingest_lines(store, DATA / file, preset=preset)
        if spec["catalog"]:
            file, preset = spec["catalog"]
            ingest_catalog(store, DATA / file, preset=preset)
    return ShopData.from_store(path)


def dense_reference(model: ContentBased, contexts: Any) -> tuple[float, float, float, float]:
    """Seconds of the sparse scoring, of building and of using a dense items x items
    similarity, and the largest difference of the two answers."""
    started = time.perf_counter()
    sparse_scores = model.score(contexts)
    sparse_s = time.perf_counter() - started
    started = time.perf_counter()
    similarity = (model.features_ @ model.features_.T).toarray()
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    profiles = contexts.toarray()
    dense = (profiles @ similarity) / profiles.sum(axis=1, keepdims=True)
    dense_s = time.perf_counter() - started
    dense = np.where(dense > 0, dense, -np.inf)
    finite = np.isfinite(sparse_scores)
    same_support = bool((finite == np.isfinite(dense)).all())
    diff = float(np.abs(sparse_scores[finite] - dense[finite]).max()) if same_support else np.inf
    return sparse_s, build_s, dense_s, diff


def run(name: str, cache: Path, max_queries: int) -> list[str]:
    spec = DATASETS[name]
    data = load(name, cache)
    split = make_split(data, spec["split"], seed=0)
    queries = basket_completion(split, max_queries=max_queries, seed=0)
    models: list[tuple[str, dict[str, Any]]] = [("popularity", {}), ("content", {})]
    if data.catalog["category"].notna().any():
        models.append(("content", {"complement_categories": True}))
    rows = []
    base = None
    for model_name, params in models:
        model = make_model(model_name, **params)
        result = evaluate_model(model, split, queries, ks=(10,))
        recall = result.metrics["recall@10"]
        base = recall if base is None else base
        label = model_name + (" (complement_categories)" if params else "")
        extra = ""
        if isinstance(model, ContentBased) and not params and data.n_items <= DENSE_LIMIT:
            contexts = queries.contexts[:1000]
            sparse_s, build_s, dense_s, diff = dense_reference(model, contexts)
            extra = (
                f"{sparse_s:.2f} s vs dense {dense_s:.2f} s + {build_s:.2f} s to build "
                f"({sparse_s / dense_s:.1f}x the dense query time), max diff {diff:.1e}"
            )
        rows.append(
            f"| {spec['label']} | {data.n_items:,} | {label} | {recall:.4f} | "
            f"{recall / base:.1f}x | {result.fit_seconds:.2f} | "
            f"{result.queries_per_second:,.0f} | {extra} |"
        )
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--max-queries", type=int, default=5000)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/xsell-bench-content"))
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    # Import scikit-learn before timing, so the first fit is not charged ~1.5 s of import.
    import sklearn.feature_extraction.text  # noqa: F401

    header = [
        "| data | items | model | recall@10 | vs popularity | fit s | queries/s | "
        "scoring 1,000 queries: sparse vs dense reference |",
        "|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(header), flush=True)
    for name in args.datasets.split(","):
        run(name.strip(), args.cache, args.max_queries)


if __name__ == "__main__":
    main()
