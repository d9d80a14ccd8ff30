"""The margin trade-off on Complete Journey: margin@10 and recall@10 as the sensitivity grows.

Complete Journey gives what each line sold for (``sales_value``) but not what it
cost the shop, so the cost is taken as a fixed share of each item's price
(``--cost-share``, 70 %: a grocer's gross margin of 30 %): every item earns
30 % of its price. The catalog's category and brand come from products.parquet.

One model (``--model``, default co-occurrence) is fitted once on the baskets
before 2017-11-01 and asked for the same held-out baskets (one item hidden,
basket completion) at each margin sensitivity through
:func:`xsell.evaluation.margin.margin_sweep`. Goal: at sensitivity 0.5, margin@10
up at least 15 % for a recall@10 loss under 5 %.

Run::

    python benchmarks/margin.py                 # ~2-4 minutes the first time (ingest)
    python benchmarks/margin.py --model itemknn
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "complete_journey"
OUT = ROOT / "benchmarks" / "out"
RESULTS = ROOT / "benchmarks" / "results" / "margin.md"


def load_store() -> Path:
    """The Complete Journey store of the benchmarks (ingested the first time)."""
    from xsell.data.ingest import ingest_catalog, ingest_lines
    from xsell.data.store import Store

    path = OUT / "complete-journey.duckdb"
    if not Store(path).exists():
        OUT.mkdir(parents=True, exist_ok=True)
        store = Store(path)
        ingest_lines(store, DATA / "transactions.parquet", preset="complete-journey")
        ingest_catalog(store, DATA / "products.parquet", preset="complete-journey")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cooccurrence")
    parser.add_argument("--split", default="2017-11-01")
    parser.add_argument("--cost-share", type=float, default=0.7)
    parser.add_argument("--max-queries", type=int, default=5000)
    parser.add_argument("--param", action="append", default=[], help="name=value of the model")
    args = parser.parse_args()

    from xsell.cli.app import model_param
    from xsell.data import columns as C
    from xsell.data.shopdata import ShopData
    from xsell.data.splits import make_split
    from xsell.evaluation.margin import margin_sweep
    from xsell.models import make_model

    params = {}
    for spec in args.param:
        name, _, value = spec.partition("=")
        params[name] = model_param(args.model, name, value)
    data = ShopData.from_store(load_store())
    data.catalog[C.COST] = args.cost_share * data.catalog[C.PRICE]
    split = make_split(data, args.split)
    sweep = margin_sweep(
        make_model(args.model, **params),
        split,
        sensitivities=(0.1, 0.25, 0.5, 0.75, 1.0),
        k=10,
        split_name=args.split,
        max_queries=args.max_queries,
        quiet=False,
    )
    label = "-".join([args.model, *(p.replace("=", "-") for p in args.param)])
    paths = sweep.write(OUT / f"margin-{label}")
    half = sweep.at(0.5)
    met = half["margin_change"] >= 0.15 and half["recall_change"] > -0.05
    load = os.getloadavg()
    text = "\n".join(
        [
            f"# Margin sweep on Complete Journey ({label})",
            "",
            f"`python benchmarks/margin.py --model {args.model}"
            + "".join(f" --param {p}" for p in args.param)
            + "` — cost = "
            f"{args.cost_share:.0%} of each item's price (Complete Journey has no costs), "
            f"split {args.split}, basket completion, {sweep.n_queries:,} held-out queries, "
            f"fit + {len(sweep.table)} rankings in {sweep.details['seconds']:.0f} s. "
            f"Chart: `{paths['html'].relative_to(ROOT)}` (margin@10 against recall@10).",
            "",
            sweep.to_markdown(),
            f"Goal at sensitivity 0.5: margin@10 +15 % or more for a recall@10 loss under 5 % — "
            f"**{'met' if met else 'not met'}** (margin {half['margin_change']:+.1%}, "
            f"recall {half['recall_change']:+.1%}).",
            "",
            f"Load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (2 cores, shared).",
            "",
        ]
    )
    RESULTS.with_name(f"margin-{label}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
