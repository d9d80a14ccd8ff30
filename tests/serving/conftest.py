"""Fixtures of the serving tests: small fitted bundles and clients of the real app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import wait_until
from xsell.data.shopdata import ShopData
from xsell.data.synthetic import SyntheticShop, make_shop
from xsell.models import make_model
from xsell.serving import ServeSettings, create_app

KEY = "test-key-0123"
ADMIN = "admin-key-4567"
#: Headers of a client that posts events, and of an admin.
AUTH = {"X-API-Key": KEY}
ADMIN_AUTH = {"X-API-Key": ADMIN}


@pytest.fixture(scope="session")
def shop() -> SyntheticShop:
    return make_shop(n_users=300, n_items=80, n_categories=6, seed=7)


@pytest.fixture(scope="session")
def shop_data(shop: SyntheticShop) -> ShopData:
    return shop.to_shopdata()


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of every test bundle (the servers' bundle root)."""
    return tmp_path_factory.mktemp("bundles")


@pytest.fixture(scope="session")
def popularity_bundle(shop_data: ShopData, bundles: Path) -> Path:
    path = bundles / "popularity"
    make_model("popularity").fit(shop_data).save(path)
    return path


@pytest.fixture(scope="session")
def pairs_bundle(shop_data: ShopData, bundles: Path) -> Path:
    """Plain pair counts (co-occurrence ``count``, no pruning): answers checkable by hand."""
    path = bundles / "pairs"
    pairs = make_model("cooccurrence", measure="count", neighbours=None, min_count=1)
    pairs.fit(shop_data).save(path)
    return path


@pytest.fixture(scope="session")
def cooccurrence_bundle(shop_data: ShopData, bundles: Path) -> Path:
    """A real model, fitted and saved as ``xsell train cooccurrence`` does.

    Pairs seen once count (``min_count=1``), so that one live order makes a pair.
    """
    path = bundles / "cooccurrence"
    make_model("cooccurrence", min_count=1).fit(shop_data).save(path)
    return path


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """``make_client(bundle, **settings)`` -> a started TestClient; all are closed at the end."""
    opened: list[TestClient] = []

    def make(bundle: Path, **options: Any) -> TestClient:
        options.setdefault("events_log", tmp_path / "events.jsonl")
        options.setdefault("api_keys", (KEY,))
        options.setdefault("admin_keys", (ADMIN,))
        options.setdefault("rate_limit", None)  # the tests of the limits set their own
        client = TestClient(create_app(ServeSettings(bundle=bundle, **options)))
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in reversed(opened):
        client.__exit__(None, None, None)


def wait_applied(client: Any, count: int) -> dict[str, Any]:
    """``/v1/model`` once the served model has learned ``count`` events.

    Events are learned off the request path (a 202 means durable, not learned yet):
    tests wait for the count the API shows. ``client`` is a TestClient or an
    ``httpx.Client`` of a real server.
    """
    info: dict[str, Any] = {}

    def learned() -> bool:
        info.update(client.get("/v1/model").json())
        return int(info["events_applied"]) >= count

    wait_until(learned, f"{count} events applied")
    return info


@pytest.fixture(scope="session")
def reranker_bundle(shop_data: ShopData, bundles: Path) -> Path:
    """A small learned re-ranker: its answers carry feature contributions with explain=true."""
    path = bundles / "reranker"
    make_model("reranker", n_estimators=30, max_queries=1000, candidates=10).fit(shop_data).save(
        path
    )
    return path
