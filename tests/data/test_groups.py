"""Minimum group sizes: distinct customers behind an item set, checked by brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xsell.data.groups import (
    customers_of,
    customers_per_item,
    customers_per_itemset,
    first_with_customers,
)
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError


def random_shop(seed: int) -> tuple[ShopData, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    rows = []
    for basket in range(300):
        user = f"u{rng.integers(0, 40)}" if rng.random() < 0.8 else None
        for item in rng.choice(12, size=rng.integers(1, 5), replace=False):
            rows.append((f"b{basket}", user, f"i{item:02d}"))
    frame = pd.DataFrame(rows, columns=["basket_id", "user_id", "item_id"])
    return ShopData.from_frame(frame), frame


def brute_force(frame: pd.DataFrame, items: list[str]) -> int:
    holding = frame.groupby("basket_id")["item_id"].apply(set)
    baskets = {b for b, s in holding.items() if set(items) <= s}
    owners = frame[frame["basket_id"].isin(baskets)]["user_id"].dropna()
    return owners.nunique()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_distinct_customers_match_brute_force(seed: int) -> None:
    data, frame = random_shop(seed)
    sets = (
        [[a] for a in range(data.n_items)]
        + [[a, b] for a in range(data.n_items) for b in range(a + 1, data.n_items)]
        + [[0, 1, 2], [3, 5, 7]]
    )
    named = [[str(data.items.ids[i]) for i in s] for s in sets]
    assert customers_per_itemset(data, sets).tolist() == [brute_force(frame, n) for n in named]
    singles = customers_per_item(data).tolist()
    assert singles == [brute_force(frame, [str(i)]) for i in data.items.ids]


def test_first_with_customers_keeps_order_and_stops_at_k() -> None:
    data, _ = random_shop(3)
    sets = [[a, b] for a in range(data.n_items) for b in range(a + 1, data.n_items)]
    counts = [customers_of(data, s) for s in sets]
    keep, found = first_with_customers(data, sets, 4, k=5)
    expected = [i for i, c in enumerate(counts) if c >= 4][:5]
    assert keep.tolist() == expected and found.tolist() == [counts[i] for i in expected]
    with pytest.raises(ValidationError, match="min_customers must be 1 or more, got 0"):
        first_with_customers(data, sets, 0)
    with pytest.raises(ValidationError, match=r"min_customers must be a whole number, got 2\.5"):
        first_with_customers(data, sets, 2.5)  # type: ignore[arg-type]
