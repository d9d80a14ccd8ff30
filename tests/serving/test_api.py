"""The HTTP API through the real app (httpx TestClient): answers, rules, errors, access, metrics."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.serving.conftest import KEY
from xsell.data.shopdata import ShopData
from xsell.models import load_model

Client = Callable[..., TestClient]


def _ids(answer: dict) -> list[str]:
    return [s["item_id"] for s in answer["items"]]


def test_complements_match_the_models_table_api(
    make_client: Client, pairs_bundle: Path, shop_data: ShopData
) -> None:
    client = make_client(pairs_bundle)
    model = load_model(pairs_bundle)
    for item in shop_data.items.ids[:25]:
        got = client.get(f"/v1/items/{item}/complements", params={"k": 5})
        assert got.status_code == 200
        expected = model.complements(str(item), k=5)
        answer = got.json()
        assert _ids(answer) == expected["item_id"].tolist()
        assert [s["score"] for s in answer["items"]] == pytest.approx(expected["score"].tolist())
        assert [s["source"] for s in answer["items"]] == expected["source"].tolist()
        assert ["; ".join(s["reasons"]) for s in answer["items"]] == expected["reason"].tolist()
        first = answer["items"][0]
        index = shop_data.items.index_of(first["item_id"])
        assert first["name"] == shop_data.item_names()[index]
        assert first["price"] == pytest.approx(shop_data.item_prices()[index])


RULE_CASES = [
    {},
    {"in_stock_only": True},
    {"complements_only": True},
    {"max_per_category": 1},
    {"min_price": 5.0, "max_price": 15.0},
    {"exclude_categories": ["Toys", "Garden"]},
    {"customer": True, "exclude_bought": True},
    {"deny": True, "k": 3},
]


@pytest.mark.parametrize("rules", RULE_CASES)
def test_basket_answers_equal_the_models_table_api_under_business_rules(
    make_client: Client, pairs_bundle: Path, shop_data: ShopData, rules: dict
) -> None:
    client = make_client(pairs_bundle)
    model = load_model(pairs_bundle)
    rng = np.random.default_rng(3)
    customer = str(shop_data.users.ids[0]) if rules.get("customer") else None
    used_fast_path = 0
    for _ in range(15):
        basket = [str(i) for i in rng.choice(shop_data.items.ids, size=3, replace=False)]
        options = {key: v for key, v in rules.items() if key not in ("k", "customer")}
        if options.get("deny"):
            options["deny"] = [basket[0]]
        k = rules.get("k", 6)
        body = {"items": basket, "k": k, "customer": customer, **options}
        got = client.post("/v1/recommendations/basket", json=body)
        assert got.status_code == 200, got.text
        expected = model.recommend_for_basket(basket, k=k, user=customer, rules=options)
        assert _ids(got.json()) == expected["item_id"].tolist()
        assert [s["score"] for s in got.json()["items"]] == pytest.approx(
            expected["score"].tolist()
        )
        used_fast_path += int((expected["source"] == "model").all())
    assert used_fast_path >= 5  # most baskets are answered by the model alone (the fast path)


def test_explain_adds_the_rule_trace(
    make_client: Client, pairs_bundle: Path, shop_data: ShopData
) -> None:
    client = make_client(pairs_bundle)
    first, second = (str(i) for i in shop_data.items.ids[:2])
    plain = client.post("/v1/recommendations/basket", json={"items": [first], "k": 3}).json()
    assert plain["trace"] is None
    denied = plain["items"][0]["item_id"]
    answer = client.post(
        "/v1/recommendations/basket",
        json={"items": [first, second], "k": 3, "explain": True, "deny": [denied]},
    ).json()
    assert answer["trace"]["in_basket"] == [first, second]
    assert answer["trace"]["deny"] == [denied]
    assert denied not in _ids(answer)


def test_customer_recommendations_and_unknown_customer(
    make_client: Client, pairs_bundle: Path, shop_data: ShopData
) -> None:
    client = make_client(pairs_bundle)
    model = load_model(pairs_bundle)
    customer = str(shop_data.users.ids[5])
    got = client.get(f"/v1/customers/{customer}/recommendations", params={"k": 4})
    assert got.status_code == 200
    assert _ids(got.json()) == model.recommend([customer], k=4)["item_id"].tolist()
    bought = set(shop_data.items.to_external(model.history_items(5)))
    assert not bought & set(_ids(got.json()))
    missing = client.get("/v1/customers/nobody-42/recommendations")
    assert missing.status_code == 404
    assert "unknown customer 'nobody-42'" in missing.json()["detail"]
    fallback = client.get("/v1/customers/nobody-42/recommendations", params={"fallback": True})
    assert fallback.status_code == 200 and len(fallback.json()["items"]) == 10


def test_unknown_item_is_404_with_its_id_or_best_sellers_with_fallback(
    make_client: Client, popularity_bundle: Path, shop_data: ShopData
) -> None:
    client = make_client(popularity_bundle)
    got = client.get("/v1/items/NO-SUCH-SKU/complements")
    assert got.status_code == 404
    assert got.json()["detail"].startswith("unknown item 'NO-SUCH-SKU'")
    known = str(shop_data.items.ids[0])
    basket = client.post(
        "/v1/recommendations/basket", json={"items": [known, "GHOST-1", "GHOST-2"]}
    )
    assert basket.status_code == 404
    assert "unknown items 'GHOST-1', 'GHOST-2'" in basket.json()["detail"]
    fallback = client.get("/v1/items/NO-SUCH-SKU/complements", params={"fallback": True, "k": 4})
    assert fallback.status_code == 200
    answer = fallback.json()
    assert answer["unknown_items"] == ["NO-SUCH-SKU"]
    popularity = load_model(popularity_bundle).require_fitted().popularity
    best = shop_data.items.to_external(np.argsort(-popularity, kind="stable")[:4]).tolist()
    assert _ids(answer) == best
    assert all(any("unknown item NO-SUCH-SKU" in r for r in s["reasons"]) for s in answer["items"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"items": ["a"] * 11}, "the basket holds 11 items; at most 10 are allowed"),
        ({"items": ["a"], "k": 0}, "Input should be greater than or equal to 1"),
        ({"items": ["a"], "k": 101}, "Input should be less than or equal to 100"),
        ({"items": []}, "List should have at least 1 item"),
        ({"items": ["a"], "min_price": 9, "max_price": 3}, "min_price 9.0 is above max_price 3.0"),
        ({"items": ["a"], "colour": "red"}, "Extra inputs are not permitted"),
        ({"items": ["a"], "max_per_category": 0}, "Input should be greater than or equal to 1"),
        ({"items": "a"}, "Input should be a valid list"),
    ],
)
def test_bad_basket_requests_are_422_with_a_message(
    make_client: Client, popularity_bundle: Path, body: dict, message: str
) -> None:
    client = make_client(popularity_bundle, max_basket=10)
    got = client.post("/v1/recommendations/basket", json=body)
    assert got.status_code == 422
    assert message in str(got.json()["detail"])


@pytest.mark.parametrize(
    ("content", "message"),
    [(b'{"items": ["a"', "JSON decode error"), (b"\xff\xfe\x00", "error parsing the body")],
)
def test_malformed_json_is_422(
    make_client: Client, popularity_bundle: Path, content: bytes, message: str
) -> None:
    client = make_client(popularity_bundle)
    got = client.post(
        "/v1/recommendations/basket", content=content, headers={"Content-Type": "application/json"}
    )
    assert got.status_code == 422
    assert message in str(got.json()["detail"])


def test_k_out_of_range_in_query_is_422(make_client: Client, popularity_bundle: Path) -> None:
    client = make_client(popularity_bundle)
    for k in ("0", "101", "ten"):
        got = client.get("/v1/items/x/complements", params={"k": k})
        assert got.status_code == 422
        assert got.json()["detail"][0]["loc"] == ["query", "k"]


def test_api_keys_guard_events_and_admin_and_a_wrong_key_is_refused_on_reads(
    make_client: Client, popularity_bundle: Path, shop_data: ShopData
) -> None:
    client = make_client(popularity_bundle)
    event = {"type": "view", "items": [str(shop_data.items.ids[0])]}
    missing = client.post("/v1/events", json=event)
    assert missing.status_code == 401
    assert missing.json()["detail"] == "missing API key: send it in the X-API-Key header"
    wrong = client.post("/admin/reload", headers={"X-API-Key": "not-the-key"})
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "invalid API key in the X-API-Key header"
    item = str(shop_data.items.ids[0])
    assert client.get(f"/v1/items/{item}/complements").status_code == 200
    bad_read = client.get(f"/v1/items/{item}/complements", headers={"X-API-Key": "nope-nope"})
    assert bad_read.status_code == 401
    good = client.post("/v1/events", json=event, headers={"X-API-Key": KEY})
    assert good.status_code == 202


def test_a_server_without_keys_says_how_to_allow_events(
    make_client: Client, popularity_bundle: Path
) -> None:
    client = make_client(popularity_bundle, api_keys=())
    got = client.post("/v1/events", json={"type": "view", "items": ["x"]})
    assert got.status_code == 401
    assert "start it with --api-key" in got.json()["detail"]


def test_rate_limit_per_key_answers_429_with_retry_after(
    make_client: Client, popularity_bundle: Path, shop_data: ShopData
) -> None:
    other = "other-key-4567"
    client = make_client(popularity_bundle, rate_limit=0.5, api_keys=(KEY, other))
    url = f"/v1/items/{shop_data.items.ids[0]}/complements"
    codes = [client.get(url, headers={"X-API-Key": KEY}).status_code for _ in range(3)]
    # bucket of 2 x 0.5 = 1 token: the first passes, the next ones wait ~2 s
    assert codes == [200, 429, 429]
    limited = client.get(url, headers={"X-API-Key": KEY})
    assert "rate limit of 0.5 requests/s for this API key exceeded" in limited.json()["detail"]
    assert int(limited.headers["Retry-After"]) >= 1
    assert client.get(url, headers={"X-API-Key": other}).status_code == 200
    assert client.get(url).status_code == 200  # anonymous reads are not limited


def test_cors_preflight_names_the_allowed_origin(
    make_client: Client, popularity_bundle: Path
) -> None:
    client = make_client(popularity_bundle, cors_origins=("https://shop.example",))
    got = client.options(
        "/v1/recommendations/basket",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-API-Key, Content-Type",
        },
    )
    assert got.status_code == 200
    assert got.headers["access-control-allow-origin"] == "https://shop.example"
    refused = client.options(
        "/v1/recommendations/basket",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in refused.headers


def test_health_model_info_and_prometheus_counts(
    make_client: Client, popularity_bundle: Path, shop_data: ShopData
) -> None:
    client = make_client(popularity_bundle)
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    info = client.get("/v1/model").json()
    assert info["model"] == "popularity"
    assert info["n_items"] == len(shop_data.items)
    assert info["n_customers"] == len(shop_data.users)
    item = shop_data.items.ids[0]
    for _ in range(3):
        client.get(f"/v1/items/{item}/complements")
    client.get("/v1/items/NOPE/complements")
    text = client.get("/metrics").text
    route = 'route="/v1/items/{item_id}/complements"'
    assert f'xsell_http_requests_total{{method="GET",{route},status="200"}} 3.0' in text
    assert f'xsell_http_requests_total{{method="GET",{route},status="404"}} 1.0' in text
    assert 'xsell_cache_lookups_total{result="hit"} 2.0' in text
    assert f"xsell_http_request_seconds_count{{{route}}} 4.0" in text
