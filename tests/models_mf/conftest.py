"""Fixtures shared by the factorization and content model tests."""

from __future__ import annotations

import pytest

from xsell.data.shopdata import ShopData
from xsell.data.synthetic import SyntheticShop, make_shop


@pytest.fixture(scope="package")
def shop() -> SyntheticShop:
    return make_shop(seed=0)


@pytest.fixture(scope="package")
def shop_data(shop: SyntheticShop) -> ShopData:
    return shop.to_shopdata()
