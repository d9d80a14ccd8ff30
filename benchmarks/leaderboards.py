"""Offline leaderboards on real shops: every xsell model next to `implicit` used directly.

Data sets (from ../shared/data) and protocols, each on a seeded sample of test queries:

- Online Retail: basket completion with a time split at 2011-10-01; next basket
  (each customer's last basket);
- Instacart train lines: basket completion on a random 20 % of orders (the file
  has one order per user and no times, so orders are split at random);
- Complete Journey: next basket per household (repeat / new-item recall), and
  basket completion with a time split at 2017-11-01.

Peers: `implicit`'s ALS and its item-kNN (cosine and BM25), called here directly,
not through xsell. On basket completion they are fitted on the training baskets
(baskets x items) and asked with the visible basket items (ALS recomputes a
basket vector, kNN sums neighbours); on next basket they are fitted on
customers x items and asked for each customer. Every model gets the very same
queries and the same metric code.

    .venv/bin/python benchmarks/leaderboards.py [--datasets online-retail,instacart,...]
        [--models popularity,cooccurrence,...] [--max-queries 10000] [--no-write]

Stores are built once under benchmarks/out/ (ignored by git) and reused.
Writes benchmarks/results/leaderboards.md.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit issue #649: 10x slower otherwise

import argparse
import platform
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from xsell.data.ingest import ingest_catalog, ingest_lines
from xsell.data.shopdata import ShopData
from xsell.data.split import Split
from xsell.data.store import Store
from xsell.evaluation import Leaderboard, evaluate_model, make_queries, make_split
from xsell.evaluation.protocols import Queries
from xsell.evaluation.runner import chunk_rows, score_recommendations
from xsell.models import REGISTRY, make_model

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "benchmarks" / "out"
RESULTS = ROOT / "benchmarks" / "results" / "leaderboards.md"
KS = (5, 10, 20)
COLUMNS = ("recall", "ndcg", "hit_rate", "mrr", "coverage", "novelty")


@dataclass(frozen=True)
class Dataset:
    name: str
    lines: str
    preset: str
    catalog: str | None
    boards: tuple[tuple[str, str], ...]  # (protocol, split)


DATASETS = {
    d.name: d
    for d in (
        Dataset(
            "online-retail",
            "online_retail/online_retail.csv",
            "online-retail",
            None,
            (("basket-completion", "2011-10-01"), ("next-basket", "last-basket")),
        ),
        Dataset(
            "instacart",
            "instacart/order_products__train.parquet",
            "instacart",
            "instacart/products.csv",
            (("basket-completion", "random"),),
        ),
        Dataset(
            "complete-journey",
            "complete_journey/transactions.parquet",
            "complete-journey",
            "complete_journey/products.parquet",
            (("next-basket", "last-basket"), ("basket-completion", "2017-11-01")),
        ),
    )
}


def load(dataset: Dataset) -> tuple[ShopData, float]:
    """The data set's ShopData, ingesting it into a cached store the first time."""
    path = OUT / f"{dataset.name}.duckdb"
    started = time.perf_counter()
    if not Store(path).exists():
        store = Store(path)
        ingest_lines(store, DATA / dataset.lines, preset=dataset.preset)
        if dataset.catalog:
            ingest_catalog(store, DATA / dataset.catalog, preset=dataset.preset)
    data = ShopData.from_store(path)
    return data, time.perf_counter() - started


# ------------------------------------------------------------------ implicit peers


def _implicit_recs(
    fit: Callable[[], Any],
    ask: Callable[[Any, np.ndarray, sp.csr_matrix, int, bool], np.ndarray],
    queries: Queries,
    k: int,
) -> tuple[np.ndarray, float, float]:
    started = time.perf_counter()
    model = fit()
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    n = len(queries)
    recs = np.full((n, k), -1, dtype=np.int64)
    step = chunk_rows(queries.contexts.shape[1])
    for start in range(0, n, step):
        stop = min(n, start + step)
        rows = np.arange(start, stop)
        ids = ask(model, rows, queries.contexts[start:stop], k, queries.exclude_context)
        recs[start:stop, : ids.shape[1]] = ids
    return recs, fit_s, time.perf_counter() - started


def peer_rows(split: Split, queries: Queries, protocol: str) -> list[dict[str, Any]]:
    """implicit ALS, cosine item-kNN and BM25 item-kNN on the same queries."""
    from implicit.als import AlternatingLeastSquares
    from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

    k = max(KS)
    per_user = protocol == "next-basket"
    # Next basket: customers x items (counts); basket completion: baskets x items (binary).
    train = sp.csr_matrix(
        split.train.user_item if per_user else split.train.basket_item, dtype=np.float64
    )
    peers: dict[str, Callable[[], Any]] = {
        "implicit ALS (peer)": lambda: AlternatingLeastSquares(
            factors=64, iterations=15, regularization=0.01, random_state=0
        ),
        "implicit cosine item-kNN (peer)": lambda: CosineRecommender(K=100),
        "implicit BM25 item-kNN (peer)": lambda: BM25Recommender(K=100),
    }
    rows = []
    for label, build in peers.items():

        def fit(build: Callable[[], Any] = build) -> Any:
            model = build()
            model.fit(train, show_progress=False)
            return model

        def ask(
            model: Any, rows_: np.ndarray, contexts: sp.csr_matrix, n: int, exclude: bool
        ) -> np.ndarray:
            contexts = sp.csr_matrix(contexts, dtype=np.float64)
            is_als = hasattr(model, "user_factors")
            if per_user and is_als:
                users = queries.users[rows_]
                history = sp.csr_matrix(train[users])
                ids, _ = model.recommend(users, history, N=n, filter_already_liked_items=False)
            else:
                ids, _ = model.recommend(
                    np.arange(len(rows_)),
                    contexts,
                    N=n,
                    filter_already_liked_items=exclude,
                    recalculate_user=is_als,
                )
            return np.asarray(ids, dtype=np.int64)

        recs, fit_s, rec_s = _implicit_recs(fit, ask, queries, k)
        rows.append(
            {
                "model": label,
                "params": {},
                "fit_s": round(fit_s, 3),
                "recommend_s": round(rec_s, 3),
                "queries_per_s": round(len(queries) / rec_s, 1) if rec_s else 0.0,
                "n_queries": len(queries),
                **score_recommendations(recs, queries, split.train, KS),
            }
        )
    return rows


# ------------------------------------------------------------------ xsell models


def xsell_rows(
    split: Split, queries: Queries, models: list[str], log: Callable[[str], None]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    rows, failures = [], {}
    for name in models:
        try:
            model = make_model(name)
            run = evaluate_model(model, split, queries, KS)
        except Exception as exc:  # a model still being written must not stop the others
            failures[name] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            log(f"    {name}: FAILED {failures[name]}")
            if os.environ.get("XSELL_BENCH_DEBUG"):
                traceback.print_exc()
            continue
        rows.append(run.as_row())
        log(
            f"    {name}: recall@10 {run.metrics['recall@10']:.4f}  fit {run.fit_seconds:.2f}s  "
            f"{len(queries):,} queries in {run.recommend_seconds:.2f}s"
        )
    return rows, failures


def goals(board: Leaderboard) -> list[str]:
    """Goal lines: best xsell vs popularity (>= 2x) and vs the best implicit peer (>= +10 %)."""
    key = "recall@10"
    ours = [r for r in board.rows if "(peer)" not in r["model"]]
    peers = [r for r in board.rows if "(peer)" in r["model"]]
    pop = next((r for r in ours if r["model"] == "popularity"), None)
    best = max(ours, key=lambda r: r[key]) if ours else None
    lines = []
    if best and pop and pop[key] > 0:
        ratio = best[key] / pop[key]
        lines.append(
            f"best xsell model `{best['model']}` {key} {best[key]:.4f} = {ratio:.2f}x popularity "
            f"({pop[key]:.4f}): goal >= 2x **{'met' if ratio >= 2 else 'not met'}**"
        )
    if best and peers:
        peer = max(peers, key=lambda r: r[key])
        gain = best[key] / peer[key] - 1 if peer[key] > 0 else float("inf")
        lines.append(
            f"vs best peer `{peer['model']}` ({peer[key]:.4f}): {gain:+.1%}; "
            f"goal >= +10 % **{'met' if gain >= 0.10 else 'not met'}**"
        )
    return lines


def write(args: argparse.Namespace, sections: list[str], seconds: float, final: bool) -> None:
    if args.no_write:
        return
    header = (
        "# Offline leaderboards\n\n"
        f"`.venv/bin/python benchmarks/leaderboards.py` — {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {sys.version.split()[0]}; "
        f"{args.max_queries:,} seeded test queries per board at most; "
        f"{'whole run' if final else 'partial run so far'} {seconds:.0f} s.\n"
        "Peers are `implicit` 0.7 models called directly. q/s = queries answered per second "
        "(top-20, batch), fit s = training time.\n\n"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".md.tmp")
    tmp.write_text(header + "\n".join(sections))
    tmp.replace(RESULTS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--models", default=",".join(REGISTRY))
    parser.add_argument("--max-queries", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="Do not write the results file.")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    models = [m for m in args.models.split(",") if m]

    def log(text: str) -> None:
        print(text, flush=True)

    sections: list[str] = []
    started_all = time.perf_counter()
    for name in args.datasets.split(","):
        dataset = DATASETS[name]
        data, load_s = load(dataset)
        log(f"{name}: {data!r} (loaded in {load_s:.1f}s)")
        for protocol, split_spec in dataset.boards:
            split = make_split(data, split_spec, seed=args.seed)
            queries = make_queries(protocol, split, max_queries=args.max_queries, seed=args.seed)
            log(f"  {protocol} / {split_spec}: {len(queries):,} queries")
            ours, failures = xsell_rows(split, queries, models, log)
            peers = peer_rows(split, queries, protocol)
            for row in peers:
                log(f"    {row['model']}: recall@10 {row['recall@10']:.4f}")
            board = Leaderboard.from_runs(
                ours + peers,
                protocol=protocol,
                split=split_spec,
                ks=KS,
                dataset=name,
                n_queries=len(queries),
                details={
                    "train_baskets": split.train.n_baskets,
                    "test_baskets": split.test.n_baskets,
                    "failures": failures,
                },
            )
            board.write(OUT / f"{name}-{protocol}", png=False)
            board.save_to_store(OUT / f"{name}.duckdb")
            text = board.to_markdown(COLUMNS)
            text += "\n" + "\n".join(f"- {line}" for line in goals(board)) + "\n"
            if failures:
                text += "".join(f"- `{m}` not run: {why}\n" for m, why in failures.items())
            sections.append(f"### {name}: {protocol}, split {split_spec}\n\n{text}")
            log(text)
            # Written after every board, so an interrupted run still leaves its results.
            write(args, sections, time.perf_counter() - started_all, final=False)
    write(args, sections, time.perf_counter() - started_all, final=True)


if __name__ == "__main__":
    main()
