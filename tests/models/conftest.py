"""Fixtures of the model tests: one synthetic shop, models fitted once per name."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import IN_CI
from xsell.data.shopdata import ShopData
from xsell.data.synthetic import SyntheticShop, make_shop
from xsell.models import REGISTRY, Recommender, make_model

#: Small but still honest settings, so the whole suite stays fast.
FAST_PARAMS: dict[str, dict[str, Any]] = {
    "als": {"factors": 16, "iterations": 8},
    "bpr": {"factors": 16},
    "cooccurrence": {"measure": "lift", "min_count": 2},
    "reranker": {"n_estimators": 60, "max_queries": 2000},
}
#: Models that learn from co-purchases, so they must find the planted partners.
CO_PURCHASE = ("cooccurrence", "itemknn", "userknn", "rules", "als", "bpr", "hybrid", "reranker")


def build(name: str, **params: Any) -> Recommender:
    """A new model; a registered model whose module is missing fails under CI, else skips."""
    module = REGISTRY[name].partition(":")[0]
    try:
        return make_model(name, **{**FAST_PARAMS.get(name, {}), **params})
    except (ImportError, AttributeError) as exc:
        if IN_CI:
            pytest.fail(f"CI needs the model {name!r} (xsell.models.{module}): {exc}")
        pytest.skip(f"model {name!r} not built yet: {exc}")
        raise


@pytest.fixture(scope="session")
def shop() -> SyntheticShop:
    return make_shop(n_users=600, n_items=150, n_pairs=12, n_triples=3, seed=7)


@pytest.fixture(scope="session")
def shop_data(shop: SyntheticShop) -> ShopData:
    return shop.to_shopdata()


_FITTED: dict[str, Recommender] = {}


@pytest.fixture
def fitted(request: pytest.FixtureRequest, shop_data: ShopData) -> Recommender:
    """The model named by the test's ``name`` parameter, fitted once per session (read only)."""
    name = request.node.callspec.params["name"]
    if name not in _FITTED:
        _FITTED[name] = build(name).fit(shop_data)
    return _FITTED[name]
