"""The HTTP API through the real app (httpx TestClient): answers, rules, errors, access, metrics."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.serving.conftest import ADMIN_AUTH, AUTH, KEY, wait_applied
from tests.shops import PSEUDONYM_KEY, hashed, pseudonymized_bundle
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.models import load_model
from xsell.serving import ServeSettings

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


def test_explain_adds_a_learned_rankers_contributions(
    make_client: Client, reranker_bundle: Path, shop_data: ShopData
) -> None:
    client = make_client(reranker_bundle)
    cart = [str(i) for i in shop_data.items.ids[shop_data.basket_items(3)][:2]]
    plain = client.post("/v1/recommendations/basket", json={"items": cart, "k": 4}).json()
    assert all(s["contributions"] is None for s in plain["items"])
    answer = client.post(
        "/v1/recommendations/basket", json={"items": cart, "k": 4, "explain": True}
    ).json()
    model = load_model(reranker_bundle)
    expected = model.recommend_for_basket(cart, k=4, explain=True)
    assert _ids(answer) == expected["item_id"].tolist()
    for suggestion in answer["items"]:
        if suggestion["source"] == "fallback":
            continue
        numbers = suggestion["contributions"]
        total = numbers["base"] + sum(c["contribution"] for c in numbers["contributions"])
        assert total == pytest.approx(suggestion["score"], abs=1e-6)
        assert any(r.startswith("ranked up by: ") for r in suggestion["reasons"])


def test_the_margin_objective_ranks_as_the_models_table_api(
    make_client: Client, cooccurrence_bundle: Path, shop_data: ShopData
) -> None:
    client = make_client(cooccurrence_bundle)
    model = load_model(cooccurrence_bundle)
    cart = [str(i) for i in shop_data.items.ids[shop_data.basket_items(5)][:2]]
    options = {"objective": "margin", "margin_sensitivity": 1.0, "overstock_boost": 0.5}
    got = client.post("/v1/recommendations/basket", json={"items": cart, "k": 5, **options})
    assert got.status_code == 200, got.text
    expected = model.recommend_for_basket(cart, k=5, rules=options)
    assert _ids(got.json()) == expected["item_id"].tolist()
    bad = client.post("/v1/recommendations/basket", json={"items": cart, "margin_sensitivity": 1.5})
    assert bad.status_code == 422 and "margin_sensitivity" in bad.text


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


def test_modes_answer_as_the_models_table_api_and_a_bad_mode_is_422(
    make_client: Client, pairs_bundle: Path, shop_data: ShopData
) -> None:
    client = make_client(pairs_bundle)
    model = load_model(pairs_bundle)
    customer = str(shop_data.users.ids[5])
    bought = set(shop_data.items.to_external(model.history_items(5)))
    url = f"/v1/customers/{customer}/recommendations"
    for mode in ("explore", "repeat", "mixed"):
        got = client.get(url, params={"k": 6, "mode": mode, "exclude_seen": False})
        assert got.status_code == 200, got.text
        expected = model.recommend([customer], k=6, exclude_seen=False, mode=mode)
        assert _ids(got.json()) == expected["item_id"].tolist()
    repeat = client.get(url, params={"k": 6, "mode": "repeat"}).json()  # exclude_seen default
    assert repeat["items"] and set(_ids(repeat)) <= bought
    explore = client.get(url, params={"k": 6, "mode": "explore"}).json()
    assert len(explore["items"]) == 6 and not set(_ids(explore)) & bought
    cart = [str(i) for i in shop_data.items.ids[:2]]
    body = {"items": cart, "k": 5, "customer": customer, "mode": "explore"}
    got = client.post("/v1/recommendations/basket", json=body)
    assert got.status_code == 200, got.text
    expected = model.recommend_for_basket(cart, k=5, user=customer, mode="explore")
    assert _ids(got.json()) == expected["item_id"].tolist()
    assert not set(_ids(got.json())) & bought
    for bad in (
        client.get(url, params={"mode": "new"}),
        client.post("/v1/recommendations/basket", json={**body, "mode": "new"}),
    ):
        assert bad.status_code == 422 and "'mixed', 'explore' or 'repeat'" in bad.text


def test_unknown_item_is_404_with_its_id_or_best_sellers_with_fallback(
    make_client: Client, popularity_bundle: Path, shop_data: ShopData
) -> None:
    client = make_client(popularity_bundle)
    got = client.get("/v1/items/NO-SUCH-SKU/complements")
    assert got.status_code == 404
    assert got.json()["detail"] == (
        "unknown item 'NO-SUCH-SKU': the model knows none of the items asked about "
        f"(it knows {shop_data.n_items} items); ask with fallback=true for best sellers instead"
    )
    ghosts = client.post("/v1/recommendations/basket", json={"items": ["GHOST-1", "GHOST-2"]})
    assert ghosts.status_code == 404
    assert "unknown items 'GHOST-1', 'GHOST-2': the model knows none" in ghosts.json()["detail"]
    # One known item is enough: the cart is answered for it, and the others are listed.
    known = str(shop_data.items.ids[0])
    basket = client.post(
        "/v1/recommendations/basket", json={"items": [known, "GHOST-1", "GHOST-2"], "k": 5}
    )
    assert basket.status_code == 200
    assert basket.json()["unknown_items"] == ["GHOST-1", "GHOST-2"]
    alone = client.post("/v1/recommendations/basket", json={"items": [known], "k": 5}).json()
    assert _ids(basket.json()) == _ids(alone)
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
    assert client.post("/v1/events", json=event, headers=AUTH).status_code == 202
    assert client.post("/v1/events", json=event, headers=ADMIN_AUTH).status_code == 202


def test_a_key_that_posts_events_cannot_reload_the_model(
    make_client: Client, popularity_bundle: Path
) -> None:
    client = make_client(popularity_bundle)
    got = client.post("/admin/reload", headers=AUTH)
    assert got.status_code == 403
    assert got.json()["detail"].startswith("this API key may post events but not call /admin/*")
    assert client.post("/admin/reload", headers=ADMIN_AUTH).status_code == 200
    without_admin = make_client(popularity_bundle, admin_keys=())
    assert without_admin.post("/admin/reload", headers=AUTH).status_code == 403
    nobody = without_admin.post("/admin/reload")
    assert nobody.status_code == 401
    assert "no admin key configured; start it with --admin-key KEY" in nobody.json()["detail"]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"max_body": 0}, "max_body must be at least 1 byte, got 0"),
        ({"apply_interval_s": -1.0}, "apply_interval_s must be 0 or more, got -1.0"),
        ({"failed_key_rate": 0.0}, "failed_key_rate must be positive, got 0.0"),
    ],
)
def test_settings_out_of_range_are_refused(
    popularity_bundle: Path, option: dict, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        ServeSettings(bundle=popularity_bundle, **option)


def test_admin_and_event_keys_must_differ(popularity_bundle: Path) -> None:
    with pytest.raises(ValidationError, match="an admin key must differ from every API key"):
        ServeSettings(bundle=popularity_bundle, api_keys=(KEY,), admin_keys=(KEY,))


def test_reload_loads_bundles_inside_the_bundle_root_only(
    make_client: Client, popularity_bundle: Path, pairs_bundle: Path, tmp_path: Path
) -> None:
    client = make_client(popularity_bundle)
    assert client.get("/v1/model").json()["bundle"] == "popularity"  # a name, not a path
    link = popularity_bundle.parent / "outside-link"
    link.unlink(missing_ok=True)
    link.symlink_to(tmp_path)  # inside the root, pointing out of it
    for outside in ("../elsewhere", "/etc", str(tmp_path), link.name):
        got = client.post("/admin/reload", json={"bundle": outside}, headers=ADMIN_AUTH)
        assert got.status_code == 403, outside
        assert "is outside the bundle root" in got.json()["detail"]
    for asked in ("pairs", str(pairs_bundle)):
        got = client.post("/admin/reload", json={"bundle": asked}, headers=ADMIN_AUTH)
        assert got.status_code == 200 and got.json()["bundle"] == "pairs"
    elsewhere = make_client(popularity_bundle, bundle_root=tmp_path)
    got = elsewhere.post("/admin/reload", json={"bundle": "pairs"}, headers=ADMIN_AUTH)
    assert got.status_code == 404


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        ("truncate", "items.parquet"),
        ("empty", "arrays.npz"),
        ("delete", "arrays.npz"),
        ("garbage", "model.json"),
        ("truncate", "customers.parquet"),
    ],
)
def test_a_damaged_bundle_is_refused_with_4xx_naming_the_file(
    make_client: Client, popularity_bundle: Path, damage: str, named: str
) -> None:
    broken = popularity_bundle.parent / f"broken-{damage}-{named}"
    shutil.rmtree(broken, ignore_errors=True)
    shutil.copytree(popularity_bundle, broken)
    target = broken / named
    if damage == "delete":
        target.unlink()
    elif damage == "garbage":
        target.write_text("{not json")
    else:
        data = target.read_bytes()
        target.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"")
    client = make_client(popularity_bundle)
    got = client.post("/admin/reload", json={"bundle": broken.name}, headers=ADMIN_AUTH)
    assert got.status_code == 422, got.text
    assert f"{target}: " in got.json()["detail"]
    # The served model is untouched and the same connection still answers.
    assert client.get("/v1/model").json()["bundle"] == "popularity"


def test_a_server_without_keys_says_how_to_allow_events(
    make_client: Client, popularity_bundle: Path
) -> None:
    client = make_client(popularity_bundle, api_keys=(), admin_keys=())
    got = client.post("/v1/events", json={"type": "view", "items": ["x"]})
    assert got.status_code == 401
    assert "start it with --api-key" in got.json()["detail"]


def test_rate_limit_per_key_answers_429_with_retry_after(
    make_client: Client, popularity_bundle: Path, shop_data: ShopData
) -> None:
    other = "other-key-4567"
    client = make_client(popularity_bundle, rate_limit=0.5, api_keys=(KEY, other))
    now = [1000.0]
    client.app.state.service.gate.clock = lambda: now[0]  # type: ignore[attr-defined]
    url = f"/v1/items/{shop_data.items.ids[0]}/complements"
    codes = [client.get(url, headers=AUTH).status_code for _ in range(3)]
    # bucket of 2 x 0.5 = 1 token: the first passes, the next ones must wait 2 s
    assert codes == [200, 429, 429]
    limited = client.get(url, headers=AUTH)
    assert limited.json()["detail"] == (
        "rate limit of 0.5 requests/s for this API key exceeded; retry in 2.00 s"
    )
    assert limited.headers["Retry-After"] == "2"
    assert client.get(url, headers={"X-API-Key": other}).status_code == 200
    now[0] += 1.0
    assert client.get(url, headers=AUTH).status_code == 429  # half a token
    now[0] += 1.0
    assert client.get(url, headers=AUTH).status_code == 200  # a whole one


def test_reads_without_a_key_are_limited_per_client_address(
    make_client: Client, popularity_bundle: Path, shop_data: ShopData
) -> None:
    client = make_client(popularity_bundle, rate_limit=2.0)
    now = [1000.0]
    client.app.state.service.gate.clock = lambda: now[0]  # type: ignore[attr-defined]
    url = f"/v1/items/{shop_data.items.ids[0]}/complements"
    # a bucket of 2 x 2 = 4 requests for the address ("testclient" here), then 429
    codes = [client.get(url).status_code for _ in range(6)]
    assert codes == [200] * 4 + [429] * 2
    limited = client.get(url)
    assert limited.json()["detail"] == (
        "rate limit of 2 requests/s for requests without an API key from this address "
        "exceeded; retry in 0.50 s"
    )
    assert client.get(url, headers=AUTH).status_code == 200  # a key has its own bucket
    now[0] += 0.5
    assert client.get(url).status_code == 200


def test_wrong_keys_are_throttled_per_address_so_guessing_is_slow(
    make_client: Client, popularity_bundle: Path, shop_data: ShopData
) -> None:
    client = make_client(popularity_bundle, rate_limit=1000.0, failed_key_rate=1.0)
    now = [1000.0]
    client.app.state.service.gate.clock = lambda: now[0]  # type: ignore[attr-defined]
    url = f"/v1/items/{shop_data.items.ids[0]}/complements"
    guesses = [client.get(url, headers={"X-API-Key": f"guess-{n:04d}"}) for n in range(4)]
    # two wrong keys answered 401 (a bucket of 2 x 1), then 429 before any key is compared
    assert [g.status_code for g in guesses] == [401, 401, 429, 429]
    assert guesses[2].json()["detail"] == (
        "rate limit of 1 requests/s for invalid API keys from this address exceeded; "
        "retry in 1.00 s"
    )
    assert client.get(url, headers=AUTH).status_code == 200  # the right key still works
    now[0] += 1.0
    assert client.get(url, headers={"X-API-Key": "guess-9999"}).status_code == 401


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


#: Bad requests and what the answer must say (status, a piece of the message); never a 500.
BAD_REQUESTS = [
    ("POST", "/v1/recommendations/basket", '{"items": ["SKU00001"], "k": 1e400}', 422, "integer"),
    ("POST", "/v1/recommendations/basket", '{"items": ["SKU00001"], "k": NaN}', 422, "integer"),
    ("POST", "/v1/recommendations/basket", '{"items": ["SKU00001"], "k": 2.5}', 422, "integer"),
    ("POST", "/v1/recommendations/basket", '{"items": ["SKU00001"], "k": true}', 422, "integer"),
    (
        "POST",
        "/v1/recommendations/basket",
        '{"items": ["SKU00001"], "max_per_category": true}',
        422,
        "valid integer",
    ),
    (
        "POST",
        "/v1/recommendations/basket",
        '{"items": ["SKU00001"], "min_price": NaN}',
        422,
        "finite",
    ),
    (
        "POST",
        "/v1/recommendations/basket",
        '{"items": ["SKU00001"], "max_price": -Infinity}',
        422,
        "finite",
    ),
    ("POST", "/v1/recommendations/basket", '{"items": ["\\ud800"]}', 422, "unicode"),
    (
        "POST",
        "/v1/recommendations/basket",
        '{"items": ["SKU00001"], "customer": "\\udfff"}',
        422,
        "unicode",
    ),
    (
        "POST",
        "/v1/recommendations/basket",
        '{"items": ["SKU00001"], "deny": ["\\ud83d"]}',
        422,
        "unicode",
    ),
    ("POST", "/v1/recommendations/basket", '{"items": ["SKU00001"]', 422, "JSON"),
    ("POST", "/v1/recommendations/basket", "", 422, "Field required"),
    ("POST", "/v1/recommendations/basket", "[1, 2]", 422, "valid dictionary"),
    ("POST", "/v1/recommendations/basket", '{"items": {"a": 1}}', 422, "valid list"),
    ("POST", "/v1/recommendations/basket", '{"items": [1]}', 422, "valid string"),
    (
        "POST",
        "/v1/recommendations/basket",
        '{"items": ["SKU00001"], "min_price": false}',
        422,
        "valid number",
    ),
    ("GET", "/v1/items/SKU00001/complements?k=1e400", None, 422, "valid integer"),
    ("GET", "/v1/items/SKU00001/complements?k=NaN", None, 422, "valid integer"),
    ("GET", "/v1/items/SKU00001/complements?k=-3", None, 422, "greater than or equal to 1"),
    ("GET", "/v1/items/SKU00001/complements?in_stock_only=maybe", None, 422, "valid boolean"),
    ("GET", "/v1/items/%ED%A0%80/complements", None, 404, "unknown item"),
    ("GET", "/v1/customers/x/recommendations?k=0", None, 422, "greater than or equal to 1"),
    ("GET", "/v1/items/SKU00001/bundles?k=21", None, 422, "less than or equal to 20"),
    ("POST", "/v1/events", '{"type": "order", "items": ["\\ud800"]}', 422, "unicode"),
    ("POST", "/v1/events", '{"type": "order", "items": ["a"], "time": 5}', 422, "valid string"),
    ("POST", "/v1/events", '{"events": [{"type": "buy", "items": ["a"]}]}', 422, "'order', 'cart'"),
    ("POST", "/v1/events", '{"type": "order"}', 422, "Field required"),
    (
        "POST",
        "/v1/recommendations/basket",
        '{"items": ["SKU00001"], "in_stock_only": [-201496693309881036232982528]}',
        422,
        "-201496693309881036232982528",
    ),
    (
        "POST",
        "/v1/events",
        '{"type": "view", "items": ["a"], "time": 184467440737095516160}',
        422,
        "184467440737095516160",
    ),
    ("POST", "/admin/reload", '{"bundle": 7}', 422, "valid string"),
    ("POST", "/admin/reload", '{"bundle": "%s"}' % ("0" * 4000), 422, "File name too long"),
]


@pytest.mark.parametrize(("method", "url", "body", "code", "message"), BAD_REQUESTS)
def test_bad_requests_get_a_4xx_that_says_why(
    make_client: Client,
    popularity_bundle: Path,
    method: str,
    url: str,
    body: str | None,
    code: int,
    message: str,
) -> None:
    client = make_client(popularity_bundle)
    headers = {"Content-Type": "application/json", **ADMIN_AUTH}
    got = client.request(method, url, content=body, headers=headers)
    assert got.status_code == code, got.text
    assert message in got.text
    # Only the requested shape's errors are listed (one event, not also a batch).
    if url == "/v1/events" and '"events"' not in (body or ""):
        assert "batch" not in got.text


# ----------------------------------------------------------- pseudonymized customers


@pytest.fixture
def keyed_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XSELL_PSEUDONYM_KEY", PSEUDONYM_KEY)
    return pseudonymized_bundle(tmp_path)


def test_raw_customer_ids_are_hashed_on_arrival(
    keyed_bundle: Path, make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    client = make_client(keyed_bundle, pseudonymize=True)
    expected = load_model(keyed_bundle).recommend([hashed("ANNA-1")], k=3)["item_id"].tolist()
    answer = client.get("/v1/customers/ANNA-1/recommendations?k=3").json()
    assert expected and [s["item_id"] for s in answer["items"]] == expected
    basket = client.post(
        "/v1/recommendations/basket", json={"items": ["a"], "customer": "BEN-2", "k": 3}
    )
    assert basket.status_code == 200 and basket.json()["items"]
    posted = client.post(
        "/v1/events", json={"type": "order", "items": ["e"], "customer": "ANNA-1"}, headers=AUTH
    )
    assert posted.status_code == 202
    wait_applied(client, 1)
    log = (tmp_path / "events.jsonl").read_text()
    assert "ANNA-1" not in log and hashed("ANNA-1") in log


def test_without_the_key_a_raw_id_is_an_unknown_customer(
    keyed_bundle: Path, make_client: Callable[..., TestClient]
) -> None:
    model = load_model(keyed_bundle)
    stranger = model.recommend(["NOBODY-0"], k=3)["item_id"].tolist()
    own = model.recommend([hashed("ANNA-1")], k=3)["item_id"].tolist()
    assert stranger != own
    client = make_client(keyed_bundle)
    assert client.get("/v1/customers/ANNA-1/recommendations?k=3").status_code == 404
    answer = client.get("/v1/customers/ANNA-1/recommendations?k=3&fallback=true")
    assert [s["item_id"] for s in answer.json()["items"]] == stranger
