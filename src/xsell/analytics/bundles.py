"""Bundle candidates: 2-3 item sets bought together far above chance, across categories, priced."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from xsell.analytics.common import Unavailable
from xsell.data.groups import MIN_CUSTOMERS, check_min_customers, customers_of
from xsell.data.shopdata import ShopData
from xsell.mining import frequent_itemsets


def bundle_min_count(n_baskets: int) -> int:
    """Default floor of baskets a bundle needs: 0.5 % of the baskets, at least 10."""
    return max(10, math.ceil(0.005 * n_baskets))


def bundle_candidates(
    data: ShopData,
    k: int = 20,
    min_count: int | None = None,
    max_len: int = 3,
    cross_category: bool | None = None,
    min_lift: float = 2.0,
    min_customers: int = MIN_CUSTOMERS,
) -> pd.DataFrame:
    """Item sets of 2..``max_len`` items to sell as a bundle, best first.

    A set's lift is ``support(S) / prod(support(i) for i in S)``: how many times
    more often its items share a basket than if they were bought independently.
    Sets with at least ``min_lift`` are ranked by all-confidence, ``count(S) /
    max(count(i))``: the share of the orders holding the set's best seller that
    hold the whole set; it favours sets a shop can act on. A set can never beat
    its own sub-pairs on it, so each size is ranked on its own: up to ``k``
    triples first, then up to ``k`` pairs. Within a size an item joins one
    bundle only, so the list is not ten variations of one bundle.

    Parameters
    ----------
    min_count:
        Baskets the whole set must appear in (default :func:`bundle_min_count`).
    cross_category:
        Keep only sets spanning two or more categories; default: when the catalog
        has categories.
    min_customers:
        Sets bought together by fewer distinct customers are left out: a bundle
        must never be one person's basket.

    Returns
    -------
    pandas.DataFrame
        ``items`` (tuple of ids), ``names`` (joined with " + "), ``categories``,
        ``size``, ``count`` (baskets with every item), ``support``,
        ``expected_count`` (if independent), ``lift``, ``all_confidence``, ``customers``
        (distinct buyers of the whole set), ``price`` (sum of item prices; NaN when
        one is unknown), ``evidence`` (a sentence).
    """
    if data.n_baskets == 0:
        raise Unavailable("bundle candidates need orders, and the store holds none")
    floor = min_count if min_count is not None else bundle_min_count(data.n_baskets)
    sets = frequent_itemsets(data.basket_item, floor, max_len=max_len)
    sets = sets[sets["length"] >= 2]
    if sets.empty:
        raise Unavailable(
            f"bundle candidates: no set of 2-{max_len} items is in {floor} or more baskets"
        )
    floor_customers = check_min_customers(min_customers)
    categories = data.item_categories()
    if cross_category is None:
        cross_category = any(c is not None for c in categories)
    single = data.item_basket_count / data.n_baskets
    names = data.item_names()
    prices = data.item_prices()
    rows = []
    for items, count in zip(sets["items"], sets["count"], strict=True):
        idx = np.asarray(items, dtype=np.int64)
        cats = [c for c in categories[idx] if c is not None]
        if cross_category and len(set(cats)) < 2:
            continue
        expected = float(np.prod(single[idx])) * data.n_baskets
        if count < min_lift * expected:
            continue
        buyers = customers_of(data, idx.tolist())
        if buyers < floor_customers:
            continue
        rows.append(
            {
                "index": tuple(int(i) for i in idx),
                "items": tuple(data.items.ids[idx]),
                "names": " + ".join(map(str, names[idx])),
                "categories": ", ".join(sorted(set(map(str, cats)))),
                "size": len(idx),
                "count": int(count),
                "support": count / data.n_baskets,
                "expected_count": expected,
                "lift": count / expected,
                "all_confidence": count / int(data.item_basket_count[idx].max()),
                "customers": buyers,
                "price": float(prices[idx].sum()),
            }
        )
    if not rows:
        raise Unavailable(
            f"bundle candidates: no set of 2-{max_len} items"
            + (" from different categories" if cross_category else "")
            + f" is in {floor} or more baskets with lift >= {min_lift}, bought by "
            + f"{floor_customers} or more customers"
        )
    table = pd.DataFrame(rows).sort_values(
        ["all_confidence", "lift"], ascending=False, kind="stable"
    )
    kept: list[int] = []
    for size in range(max_len, 1, -1):
        used: set[int] = set()
        picked = 0
        for position, (index, length) in enumerate(zip(table["index"], table["size"], strict=True)):
            if length != size or used & set(index):
                continue
            kept.append(position)
            used |= set(index)
            picked += 1
            if picked == k:
                break
    table = table.iloc[kept].drop(columns="index").reset_index(drop=True)
    table["evidence"] = [
        f"together in {c:,} orders ({a:.0%} of the orders with its best seller), "
        f"{lift:,.1f}x the {e:.2g} expected by chance"
        for c, a, lift, e in zip(
            table["count"],
            table["all_confidence"],
            table["lift"],
            table["expected_count"],
            strict=True,
        )
    ]
    return table
