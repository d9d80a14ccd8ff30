"""Fixtures of the rules and hybrid model tests."""

from __future__ import annotations

import pytest

from xsell.data.shopdata import ShopData
from xsell.data.synthetic import SyntheticShop, make_shop


@pytest.fixture(scope="package")
def shop() -> SyntheticShop:
    return make_shop(n_users=400, n_items=120, n_pairs=8, n_triples=2, seed=3)


@pytest.fixture(scope="package")
def shop_data(shop: SyntheticShop) -> ShopData:
    return shop.to_shopdata()


@pytest.fixture
def tiny() -> ShopData:
    """Four baskets whose rules are computed by hand in the tests."""
    return ShopData.from_baskets([["a", "b", "c"], ["a", "b"], ["a", "c"], ["b", "c", "d"]])
