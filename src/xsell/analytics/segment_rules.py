"""Segment-aware rules: the item pairs whose lift differs most between customer segments."""

from __future__ import annotations

import numpy as np
import pandas as pd

from xsell.analytics.baskets import pair_min_count, top_pairs
from xsell.analytics.common import Unavailable
from xsell.analytics.segments import segment_order
from xsell.data.groups import MIN_CUSTOMERS
from xsell.data.shopdata import ShopData


def segment_rule_contrasts(
    data: ShopData,
    segments: pd.DataFrame,
    k: int = 15,
    min_baskets: int = 200,
    min_customers: int = MIN_CUSTOMERS,
) -> pd.DataFrame:
    """Pairs mined within each segment, ranked by how much their lift differs between segments.

    Each segment with at least ``min_baskets`` orders is mined on its own baskets
    (pairs need :func:`~xsell.analytics.baskets.pair_min_count` of them and
    ``min_customers`` distinct buyers within the segment). A pair
    counts when it is frequent in two or more segments; its spread is
    ``max lift / min lift`` over those.

    Returns
    -------
    pandas.DataFrame
        ``item_a``, ``name_a``, ``item_b``, ``name_b``, one ``lift`` column per
        segment (NaN where the pair is not frequent there), ``spread``,
        ``highest`` and ``lowest`` (segments).
    """
    labels = segments["segment"]
    basket_segment = labels.reindex(data.basket_user).to_numpy()
    tables = []
    mined: list[str] = []
    for segment in segment_order(labels):
        mask = basket_segment == segment
        if mask.sum() < min_baskets:
            continue
        pairs = top_pairs(
            data.subset_baskets(mask),
            k=10**9,
            min_count=pair_min_count(int(mask.sum())),
            min_customers=min_customers,
        )
        tables.append(
            pairs[["item_a", "name_a", "item_b", "name_b", "lift"]].assign(segment=segment)
        )
        mined.append(segment)
    if len(mined) < 2:
        raise Unavailable(
            f"segment-aware rules need two segments with {min_baskets}+ orders; found {len(mined)}"
        )
    long = pd.concat(tables, ignore_index=True)
    wide = long.pivot_table(
        index=["item_a", "name_a", "item_b", "name_b"], columns="segment", values="lift"
    )
    wide = wide[[s for s in mined if s in wide.columns]]
    present = wide.notna().sum(axis=1) >= 2
    wide = wide[present]
    if wide.empty:
        raise Unavailable("segment-aware rules: no pair is frequent in two segments")
    lifts = wide.to_numpy()
    spread = np.nanmax(lifts, axis=1) / np.nanmin(lifts, axis=1)
    wide = wide.assign(
        spread=spread,
        highest=wide.columns[np.nanargmax(lifts, axis=1)],
        lowest=wide.columns[np.nanargmin(lifts, axis=1)],
    )
    return wide.sort_values("spread", ascending=False).head(k).reset_index()
