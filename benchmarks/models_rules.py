"""Speed of the rules model on the Instacart train lines, next to a plain dictionary matcher.

Mines rules once (``min_count`` baskets, ``max_len`` 3), then scores 10,000 real
carts (in chunks of 1,000, dense ``n x n_items`` output) with xsell's sparse
matcher (``baskets @ antecedents.T``, then a sparse product or max-product) and
with the textbook peer: rules indexed by antecedent in a dict, every subset of
the cart up to the longest antecedent looked up. Both give the same scores
(checked). Each figure is the best of three runs. Run::

    python benchmarks/models_rules.py [--min-count 100] [--out benchmarks/results/models_rules.md]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from xsell.data.ingest import ingest_lines
from xsell.data.shopdata import ShopData
from xsell.data.store import Store
from xsell.models import as_dense, basket_rows
from xsell.models.rules_model import RulesModel

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


def dict_matcher(model: RulesModel, data: ShopData) -> Callable[[list[list[int]]], np.ndarray]:
    """The peer: {antecedent tuple: [(consequent, value)]} and a subset walk per cart."""
    index = {item: i for i, item in enumerate(data.items.ids)}
    by_antecedent: dict[tuple[int, ...], list[tuple[int, float]]] = {}
    longest = 1
    for ante, cons, value in zip(
        model.rules_["antecedent"],
        model.rules_["consequent"],
        model.rules_[model.metric],
        strict=True,
    ):
        key = tuple(sorted(index[a] for a in ante))
        longest = max(longest, len(key))
        for c in cons:
            by_antecedent.setdefault(key, []).append((index[c], float(value)))

    def score(carts: list[list[int]]) -> np.ndarray:
        out = np.full((len(carts), data.n_items), -np.inf)
        for r, cart in enumerate(carts):
            row = out[r]
            for size in range(1, longest + 1):
                for key in combinations(sorted(cart), size):
                    for c, value in by_antecedent.get(key, ()):
                        if value > row[c]:
                            row[c] = value
        return out

    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-count", type=int, default=100)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    data = load()
    model = RulesModel(min_count=args.min_count, min_confidence=0.01)
    fit = best_of(lambda: model.fit(data), repeat=1)
    rng = np.random.default_rng(0)
    picked = rng.choice(data.n_baskets, N_QUERIES, replace=False)
    carts = [data.basket_items(int(b)).tolist() for b in picked]
    chunks = [carts[i : i + CHUNK] for i in range(0, N_QUERIES, CHUNK)]

    def xsell_scores(combine: str) -> Callable[[], None]:
        scorer = RulesModel(min_count=args.min_count, min_confidence=0.01, combine=combine)
        scorer.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})

        def run() -> None:
            for chunk in chunks:
                scorer.score(basket_rows(chunk, data.n_items))

        return run

    peer = dict_matcher(model, data)
    np.testing.assert_allclose(
        as_dense(model.score(basket_rows(chunks[0], data.n_items))), peer(chunks[0]), rtol=1e-12
    )

    def peer_run() -> None:
        for chunk in chunks:
            peer(chunk)

    timings = {c: best_of(xsell_scores(c)) for c in ("max", "noisy_or", "sum")}
    peer_time = best_of(peer_run)
    n_ante = model.antecedents_.shape[0]
    lines = [
        "# Rules model speed (Instacart train lines)",
        "",
        f"`python benchmarks/models_rules.py --min-count {args.min_count}` on "
        f"{data.n_baskets:,} baskets x {data.n_items:,} items: {len(model.rules_):,} rules "
        f"(min_count {args.min_count}, min_confidence 0.01, max_len 3) over {n_ante:,} distinct "
        f"antecedents; fit (mining + indexing) {fit:.2f} s. Scoring {N_QUERIES:,} real carts in "
        f"chunks of {CHUNK:,}, best of 3:",
        "",
        "| matcher | seconds | carts / s | peer time / xsell time |",
        "| --- | ---: | ---: | ---: |",
    ]
    for combine, seconds in timings.items():
        lines.append(
            f"| xsell rules, combine={combine} | {seconds:.2f} | {N_QUERIES / seconds:,.0f} "
            f"| {peer_time / seconds:.1f}x |"
        )
    lines.append(
        f"| peer: dict by antecedent, subset walk (max) | {peer_time:.2f} | "
        f"{N_QUERIES / peer_time:,.0f} | 1.0x |"
    )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
