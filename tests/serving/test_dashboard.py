"""The dashboard's page, sign-in, static files and JSON helpers (in process)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.serving.conftest import ADMIN, KEY
from tests.shops import evaluated
from xsell.data import columns as C
from xsell.data.shopdata import ShopData
from xsell.data.synthetic import SyntheticShop
from xsell.models import load_model
from xsell.serving.dashboard.access import DashboardAccess

Client = Callable[..., TestClient]


def open_client(make_client: Client, bundle: Path, **options: object) -> TestClient:
    return make_client(bundle, api_keys=(), admin_keys=(), **options)


def test_the_page_and_its_files_come_from_the_server_itself(
    make_client: Client, pairs_bundle: Path
) -> None:
    client = open_client(make_client, pairs_bundle)
    page = client.get("/dashboard")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/dashboard/static/") for s in sources)
    for source in sources:
        got = client.get(source)
        assert got.status_code == 200 and len(got.content) > 500, source
    assert "Plotly" in client.get("/dashboard/static/plotly.min.js").text
    assert client.get("/dashboard/static/secrets.txt").status_code == 404


def test_item_search_finds_ids_by_prefix_then_names_by_substring(
    make_client: Client, pairs_bundle: Path
) -> None:
    client = open_client(make_client, pairs_bundle)
    table = load_model(pairs_bundle).require_fitted()
    word = "garden"
    got = client.get("/dashboard/api/items", params={"q": "GARDEN", "limit": 50})
    assert got.status_code == 200, got.text
    found = got.json()
    expected = [str(i) for i, n in zip(table.ids.ids, table.names, strict=True)
                if word in str(n).lower()][:50]  # fmt: skip
    assert [item["item_id"] for item in found["items"]] == expected
    first = str(table.ids.ids[0])
    by_id = client.get("/dashboard/api/items", params={"q": first}).json()["items"]
    assert by_id[0]["item_id"] == first


def test_a_tried_basket_equals_the_models_answer_with_its_rule_trace(
    make_client: Client, pairs_bundle: Path, popularity_bundle: Path, shop_data: ShopData
) -> None:
    client = open_client(make_client, pairs_bundle, compare_bundles=(("pop", popularity_bundle),))
    basket = [str(i) for i in shop_data.items.ids[:2]]
    model = load_model(pairs_bundle)
    body = {"items": basket, "k": 5, "complements_only": True}
    got = client.post("/dashboard/api/basket", json=body)
    assert got.status_code == 200, got.text
    answer = got.json()
    expected = model.recommend_for_basket(basket, k=5, rules={"complements_only": True})
    assert [s["item_id"] for s in answer["items"]] == expected["item_id"].tolist()
    assert all(s["reasons"] and s["repeat"] is False for s in answer["items"])
    assert "complements_only" in answer["trace"]
    assert answer["server_ms"] >= 0
    other = client.post("/dashboard/api/basket", json={**body, "model": "pop"}).json()
    assert other["model"] == "popularity"
    wrong = client.post("/dashboard/api/basket", json={**body, "model": "nope"})
    assert wrong.status_code == 422
    assert "unknown model 'nope'; choose one of ['served', 'pop']" in wrong.text
    mode = client.post("/dashboard/api/basket", json={**body, "mode": "sideways"})
    assert "unknown mode 'sideways'" in mode.text


def test_live_figures_count_the_api_requests(make_client: Client, pairs_bundle: Path) -> None:
    client = open_client(make_client, pairs_bundle)
    item = str(load_model(pairs_bundle).require_fitted().ids.ids[0])
    for _ in range(3):
        client.get(f"/v1/items/{item}/complements")
    client.get("/v1/items/no-such-item/complements")
    live = client.get("/dashboard/api/live").json()
    assert live["requests"] == 4
    assert live["client_errors"] == 1
    assert live["cache_hit_rate"] == pytest.approx(2 / 4)  # miss, hit, hit, and the 404 missed
    assert live["latency_s"]["p99"] is not None


def test_the_models_panel_shows_the_stores_headline_figures_and_latest_leaderboard(
    make_client: Client, pairs_bundle: Path, shop: SyntheticShop, tmp_path: Path
) -> None:
    store = evaluated(shop, tmp_path)
    bare = open_client(make_client, pairs_bundle).get("/dashboard/api/models").json()
    assert bare["headline"] is None and bare["leaderboard"] is None
    got = open_client(make_client, pairs_bundle, store=store).get("/dashboard/api/models")
    assert got.status_code == 200, got.text
    found = got.json()
    assert found["leaderboard"]["models"] == ["pairs", "popularity"]
    assert found["leaderboard"]["values"] == [0.3, 0.1]
    figures = {row["figure"]: row["value"] for row in found["headline"]["rows"]}
    lines = pd.read_csv(tmp_path / "shop" / "orders.csv")
    orders = lines[C.BASKET].nunique()
    assert figures["orders"].startswith(f"{orders:,} (")
    revenue = float((lines[C.QUANTITY] * lines[C.PRICE]).sum())
    assert figures["revenue"].replace(",", "").endswith(f"{revenue:.2f}")
    assert found["headline"]["store"] == store.name


def test_with_keys_the_dashboard_needs_a_sign_in_with_a_csrf_token(
    make_client: Client, pairs_bundle: Path
) -> None:
    client = make_client(pairs_bundle)
    login = client.get("/dashboard")
    assert 'action="/dashboard/login"' in login.text
    assert client.get("/dashboard/api/items", params={"q": "a"}).status_code == 401
    token = re.search(r'name="csrf" value="([^"]+)"', login.text)
    assert token is not None
    forged = client.post("/dashboard/login", data={"key": KEY, "csrf": "forged"},
                         follow_redirects=False)  # fmt: skip
    assert forged.status_code == 403
    login = client.get("/dashboard")
    token = re.search(r'name="csrf" value="([^"]+)"', login.text)
    assert token is not None
    wrong = client.post("/dashboard/login", data={"key": "not-a-key-0000", "csrf": token[1]})
    assert wrong.status_code == 401 and "unknown key" in wrong.text
    login = client.get("/dashboard")
    token = re.search(r'name="csrf" value="([^"]+)"', login.text)
    assert token is not None
    signed = client.post("/dashboard/login", data={"key": KEY, "csrf": token[1]},
                         follow_redirects=False)  # fmt: skip
    assert signed.status_code == 303
    page = client.get("/dashboard")
    assert 'id="tab-basket"' in page.text
    assert client.get("/dashboard/api/items", params={"q": "a"}).status_code == 200
    assert client.post("/dashboard/logout", data={"csrf": "forged"}).status_code == 403
    out = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert out is not None
    assert client.post("/dashboard/logout", data={"csrf": out[1]}).status_code == 200
    assert client.get("/dashboard/api/items", params={"q": "a"}).status_code == 401


def test_session_cookies_are_signed_and_expire() -> None:
    access = DashboardAccess((KEY,), (ADMIN,))
    assert access.role_of_key(ADMIN) == "admin" and access.role_of_key(KEY) == "write"
    cookie = access.session_cookie("write", now=1000.0)
    assert access.session_role(cookie, now=1001.0) == "write"
    assert access.session_role(cookie, now=1000.0 + 9 * 3600) is None  # expired
    assert access.session_role(cookie.replace("write", "admin"), now=1001.0) is None
    other = DashboardAccess(("another-key-99",), ())
    assert other.session_role(cookie, now=1001.0) is None  # other keys, other secret
