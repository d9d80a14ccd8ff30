"""ALS and BPR on Online Retail, side by side: xsell's models vs ``implicit`` called directly.

Both sides fit the same matrix with the same hyper-parameters, one thread, so the
ratio is xsell's overhead (id mapping, weighting, bookkeeping). Scoring compares
folding in 2,000 carts (xsell ``score``, the ALS least-squares solve) with
``implicit``'s ``recommend(..., recalculate_user=True)`` on the same carts. Run::

    python benchmarks/factorization.py
"""

from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking

from xsell.data.shopdata import ShopData
from xsell.models.factorization import ALS, BPR

DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "online_retail" / "online_retail.csv"
)
N_CARTS = 2000


def load() -> ShopData:
    raw = pd.read_csv(DATA, dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str})
    raw = raw[(raw["Quantity"] > 0) & ~raw["InvoiceNo"].str.startswith("C")]
    return ShopData.from_frame(
        raw.rename(
            columns={"InvoiceNo": "basket_id", "StockCode": "item_id", "CustomerID": "user_id"}
        ).assign(time=pd.to_datetime(raw["InvoiceDate"]))[
            ["basket_id", "item_id", "user_id", "time"]
        ]
    )


def timed(call):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def main() -> None:
    data = load()
    print(data)
    rng = np.random.default_rng(0)
    carts = data.basket_item[rng.choice(data.n_baskets, N_CARTS, replace=False)]
    rows = []
    for on in ("baskets", "users"):
        matrix = data.basket_item if on == "baskets" else data.user_item.astype(np.float32)
        ours_t, ours = timed(lambda on=on: ALS(on=on).fit(data))
        peer = AlternatingLeastSquares(
            factors=64,
            regularization=0.01,
            alpha=10.0,
            iterations=15,
            random_state=0,
            num_threads=1,
        )
        peer_t, _ = timed(lambda m=matrix, p=peer: p.fit(m, show_progress=False))
        rows.append((f"ALS fit, on={on}", ours_t, peer_t))
        score_t, _ = timed(lambda m=ours: m.score(carts))
        rec_t, _ = timed(
            lambda p=peer: p.recommend(
                np.arange(N_CARTS),
                carts,
                N=10,
                filter_already_liked_items=True,
                recalculate_user=True,
            )
        )
        rows.append((f"ALS score {N_CARTS:,} carts, on={on}", score_t, rec_t))
        ours_t, _ = timed(lambda on=on: BPR(on=on).fit(data))
        bpr = BayesianPersonalizedRanking(
            factors=64,
            learning_rate=0.05,
            regularization=0.01,
            iterations=100,
            random_state=0,
            num_threads=1,
        )
        peer_t, _ = timed(lambda m=matrix, p=bpr: p.fit(m, show_progress=False))
        rows.append((f"BPR fit, on={on}", ours_t, peer_t))
    print("| step | xsell s | implicit s | ratio |\n| --- | ---: | ---: | ---: |")
    for label, ours_s, peer_s in rows:
        print(f"| {label} | {ours_s:.2f} | {peer_s:.2f} | {ours_s / peer_s:.2f} |")


if __name__ == "__main__":
    main()
