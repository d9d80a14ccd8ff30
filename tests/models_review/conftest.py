"""Fixtures of the review tests: a hand-checkable grocery fixture and a slice of real baskets."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import shared_file
from xsell.data.shopdata import ShopData

#: Five orders whose pair counts are easy to check by hand (see test_cooccurrence_oracle.py).
TINY = [
    ["milk", "bread", "butter"],
    ["milk", "bread"],
    ["bread", "butter"],
    ["milk", "eggs"],
    ["bread", "eggs", "butter"],
    ["tea", "eggs"],
]


@pytest.fixture(scope="session")
def grocery_baskets() -> list[list[str]]:
    """The first 1,500 baskets of arules' Groceries (real, ragged, 169 items)."""
    path = shared_file("groceries/groceries.csv")
    lines = path.read_text().splitlines()[:1500]
    return [[item.strip() for item in line.split(",") if item.strip()] for line in lines]


@pytest.fixture(scope="session")
def grocery_data(grocery_baskets: list[list[str]]) -> ShopData:
    return ShopData.from_baskets(grocery_baskets)


def dated(baskets: list[list[str]], days: list[int], users: list[str] | None = None) -> ShopData:
    """ShopData of ``baskets`` placed ``days`` after 2025-01-01 (by ``users`` when given)."""
    rows = []
    for b, (items, day) in enumerate(zip(baskets, days, strict=True)):
        for item in items:
            rows.append(
                {
                    "basket_id": f"b{b}",
                    "item_id": item,
                    "user_id": users[b] if users else None,
                    "time": pd.Timestamp("2025-01-01") + pd.Timedelta(days=day),
                }
            )
    return ShopData.from_frame(pd.DataFrame(rows), user="user_id" if users else None)
