"""What explanations cost: the answer path with and without SHAP contributions, side by side.

The learned re-ranker (default settings) is fitted on Online Retail (orders before
2011-11-01) and asked for 10 suggestions for real carts of the later orders
through ``model.answer`` (the path of ``recommend_for_basket`` and of the HTTP
API), once plainly and once with ``explain=True``, alternately, so both see the
same machine load. The extra cost is the median of the paired differences.

Side by side with the peer: the contributions of the 10 rows shown, from
LightGBM's own ``pred_contrib`` (what xsell calls) and from ``shap``'s
``TreeExplainer`` on the same booster, with the largest difference between them.

Run::

    python benchmarks/explain.py              # ~1-2 minutes after the store exists
    python benchmarks/explain.py --carts 100  # quicker
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "online_retail" / "online_retail.csv"
OUT = ROOT / "benchmarks" / "out"
RESULTS = ROOT / "benchmarks" / "results" / "explain.md"


def load_store() -> Path:
    """The Online Retail store of the benchmarks (ingested the first time)."""
    from xsell.data.ingest import ingest_lines
    from xsell.data.store import Store

    path = OUT / "online-retail.duckdb"
    if not Store(path).exists():
        OUT.mkdir(parents=True, exist_ok=True)
        ingest_lines(Store(path), DATA, preset="online-retail")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--carts", type=int, default=300)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()

    from xsell.data.shopdata import ShopData
    from xsell.data.splits import make_split
    from xsell.models import Query, make_model
    from xsell.models.contributions import tree_contributions

    data = ShopData.from_store(load_store())
    split = make_split(data, "2011-11-01")
    started = time.perf_counter()
    model = make_model("reranker").fit(split.train)
    fit_s = time.perf_counter() - started
    table = model.require_fitted()

    rng = np.random.default_rng(0)
    test = split.test
    sizes = np.diff(test.basket_item.indptr)
    eligible = np.flatnonzero((sizes >= 2) & (sizes <= 8))
    chosen = rng.choice(eligible, size=min(args.carts, len(eligible)), replace=False)
    carts = [
        [str(i) for i in test.items.ids[test.basket_items(int(b))][:4]] for b in chosen.tolist()
    ]

    plain, explained, extra = [], [], []
    for cart in carts:
        query = [Query(tuple(cart))]
        t0 = time.perf_counter()
        model.answer(query, args.k)
        t1 = time.perf_counter()
        [found] = model.answer(query, args.k, explain=True)
        t2 = time.perf_counter()
        plain.append((t1 - t0) * 1000)
        explained.append((t2 - t1) * 1000)
        extra.append(((t2 - t1) - (t1 - t0)) * 1000)
        assert found.contributions is not None

    # The peer: shap's TreeExplainer on the booster, the same rows as one answer explains.
    import shap

    rows = _shown_rows(model, carts[0], args.k)
    t0 = time.perf_counter()
    for _ in range(20):
        ours, _ = tree_contributions(model.ranker_, rows)
    lgb_ms = (time.perf_counter() - t0) / 20 * 1000
    explainer = shap.TreeExplainer(model.ranker_)
    t0 = time.perf_counter()
    for _ in range(20):
        theirs = np.asarray(explainer.shap_values(rows))
    shap_ms = (time.perf_counter() - t0) / 20 * 1000
    gap = float(np.abs(ours - theirs).max())

    trees = int(model.training_.get("trees", 0))
    load = os.getloadavg()
    lines = [
        "# Explanations: what `explain=True` costs on the answer path",
        "",
        "`python benchmarks/explain.py` — the learned re-ranker (defaults, "
        f"{trees} trees of up to 31 leaves, {len(model.feature_names_)} features) fitted on "
        f"Online Retail orders before 2011-11-01 ({split.train.n_baskets:,} baskets, "
        f"{len(table):,} items) in {fit_s:.1f} s; {len(carts)} real carts of the later orders "
        f"(2-4 items), k = {args.k}, asked through `model.answer` alternately without and with "
        "`explain=True`.",
        "",
        "| answer | median ms | p90 ms |",
        "| --- | ---: | ---: |",
        f"| plain | {np.median(plain):.1f} | {np.percentile(plain, 90):.1f} |",
        f"| explain=True | {np.median(explained):.1f} | {np.percentile(explained, 90):.1f} |",
        f"| **extra** (paired difference) | **{np.median(extra):.1f}** | "
        f"{np.percentile(extra, 90):.1f} |",
        "",
        f"Goal: under 10 ms extra for a request of 10 — "
        f"{'met' if np.median(extra) < 10 else 'not met'} (median).",
        "",
        f"Contributions of the {len(rows)} rows one answer shows, side by side with the peer:",
        "",
        "| computed by | ms per answer | ratio |",
        "| --- | ---: | ---: |",
        f"| LightGBM `pred_contrib` (xsell) | {lgb_ms:.2f} | 1.00 |",
        f"| shap 0.51 `TreeExplainer` | {shap_ms:.2f} | {shap_ms / lgb_ms:.2f} |",
        "",
        f"Largest difference between the two: {gap:.2e}.",
        "",
        f"Machine: 2 cores shared with other work; load average {load[0]:.1f} / "
        f"{load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min) at the end of the run.",
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


def _shown_rows(model: object, cart: list[str], k: int) -> np.ndarray:
    """The feature rows of the items one answer shows (what ``explain`` passes to LightGBM)."""
    from xsell.models import Query, basket_rows

    [found] = model.answer([Query(tuple(cart))], k)  # type: ignore[attr-defined]
    table = model.require_fitted()  # type: ignore[attr-defined]
    context = table.ids.to_index(cart)
    rows = basket_rows([context[context >= 0].tolist()], len(table))
    _, items, features = model.candidate_features(rows)  # type: ignore[attr-defined]
    where = {int(i): j for j, i in enumerate(items)}
    picked = [where[i] for i in found.items if i in where]
    return np.asarray(features[picked], dtype=np.float64)


if __name__ == "__main__":
    main()
