"""Live events: durable before 202, learned at once (new items too), cache invalidation, replay."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.serving.conftest import ADMIN_AUTH, AUTH, wait_applied
from xsell.data.shopdata import ShopData

Client = Callable[..., TestClient]


def _ids(answer: dict) -> list[str]:
    return [s["item_id"] for s in answer["items"]]


def test_events_are_in_the_log_before_the_answer(
    make_client: Client, pairs_bundle: Path, tmp_path: Path
) -> None:
    log = tmp_path / "events.jsonl"
    client = make_client(pairs_bundle, events_log=log)
    one = client.post("/v1/events", json={"type": "view", "items": ["A"]}, headers=AUTH)
    batch = client.post(
        "/v1/events",
        json={"events": [{"type": "cart", "items": ["B"], "customer": "c1"},
                         {"type": "order", "items": ["A", "B"], "time": "2025-05-01T10:00:00"}]},
        headers=AUTH,
    )  # fmt: skip
    assert one.status_code == 202 and batch.status_code == 202
    ids = one.json()["ids"] + batch.json()["ids"]
    assert batch.json()["accepted"] == 2
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["id"] for line in lines] == ids
    assert [line["type"] for line in lines] == ["view", "cart", "order"]
    assert lines[1]["customer"] == "c1" and lines[2]["time"] == "2025-05-01T10:00:00"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "order", "items": []}, "List should have at least 1 item"),
        (
            {"type": "purchase", "items": ["a"]},
            "Input should be 'order', 'cart', 'view', 'impression' or 'click'",
        ),
        ({"events": []}, "List should have at least 1 item"),
        ({"type": "order", "items": [""]}, "String should have at least 1 character"),
    ],
)
def test_bad_events_are_422_and_not_logged(
    make_client: Client, pairs_bundle: Path, tmp_path: Path, body: dict, message: str
) -> None:
    log = tmp_path / "events.jsonl"
    client = make_client(pairs_bundle, events_log=log)
    got = client.post("/v1/events", json=body, headers=AUTH)
    assert got.status_code == 422
    assert message in str(got.json()["detail"])
    assert log.read_text() == ""


def test_too_many_events_in_one_request(make_client: Client, pairs_bundle: Path) -> None:
    client = make_client(pairs_bundle, max_events=2)
    body = {"events": [{"type": "view", "items": ["a"]}] * 3}
    got = client.post("/v1/events", json=body, headers=AUTH)
    assert got.status_code == 422
    assert "3 events in one request; at most 2 are allowed" in str(got.json()["detail"])


def test_an_order_changes_answers_at_once_new_items_included(
    make_client: Client, pairs_bundle: Path, shop_data: ShopData
) -> None:
    client = make_client(pairs_bundle)
    anchor = str(shop_data.items.ids[3])
    assert client.get("/v1/items/NEW-SKU/complements").status_code == 404
    before = client.get(f"/v1/items/{anchor}/complements", params={"k": 3}).json()
    assert "NEW-SKU" not in _ids(before)
    top_count = int(before["items"][0]["score"])  # a pair count: the measure is "count"
    # enough orders for the new pair to become the anchor's strongest complement
    orders = [{"type": "order", "items": [anchor, "NEW-SKU"], "customer": "new-customer"}]
    got = client.post("/v1/events", json={"events": orders * (top_count + 1)}, headers=AUTH)
    assert got.status_code == 202
    wait_applied(client, top_count + 1)
    after = client.get(f"/v1/items/{anchor}/complements", params={"k": 3}).json()
    assert _ids(after)[0] == "NEW-SKU"
    assert after["items"][0]["score"] == top_count + 1
    name = shop_data.item_names()[3]
    assert after["items"][0]["reasons"][0].startswith(f"bought with '{name}' in ")
    new_item = client.get("/v1/items/NEW-SKU/complements", params={"k": 1}).json()
    assert _ids(new_item) == [anchor]
    history = client.get(
        "/v1/customers/new-customer/recommendations", params={"k": 5, "exclude_seen": True}
    ).json()
    assert not {anchor, "NEW-SKU"} & set(_ids(history))
    info = client.get("/v1/model").json()
    assert info["live_updates"] is True
    assert info["orders_learned"] == top_count + 1


def test_cache_serves_repeats_and_forgets_items_an_order_touches(
    make_client: Client, pairs_bundle: Path, shop_data: ShopData
) -> None:
    client = make_client(pairs_bundle)
    cache = client.app.state.service.cache  # type: ignore[attr-defined]
    a, b, c = (str(i) for i in shop_data.items.ids[:3])
    for item in (a, b):
        client.get(f"/v1/items/{item}/complements")
        client.get(f"/v1/items/{item}/complements")
    assert (cache.stats.hits, cache.stats.misses, len(cache)) == (2, 2, 2)
    client.post("/v1/events", json={"type": "order", "items": [a, c]}, headers=AUTH)
    wait_applied(client, 1)
    assert len(cache) == 1  # a's answer is gone, b's stays
    client.get(f"/v1/items/{b}/complements")
    assert cache.stats.hits == 3
    client.get(f"/v1/items/{a}/complements")
    assert cache.stats.misses == 3
    views = {"type": "view", "items": [b]}
    client.post("/v1/events", json=views, headers=AUTH)
    wait_applied(client, 2)
    assert len(cache) == 2  # a view teaches the model nothing: b's answer stays


def test_reload_clears_the_cache_and_reports_versions(
    make_client: Client, pairs_bundle: Path, popularity_bundle: Path, shop_data: ShopData
) -> None:
    client = make_client(pairs_bundle)
    item = str(shop_data.items.ids[0])
    client.get(f"/v1/items/{item}/complements")
    old = client.get("/v1/model").json()["model_version"]
    got = client.post("/admin/reload", json={"bundle": "popularity"}, headers=ADMIN_AUTH)
    assert got.status_code == 200
    assert got.json()["previous_version"] == old
    assert got.json()["bundle"] == "popularity"
    assert got.json()["model"] == "popularity"
    assert len(client.app.state.service.cache) == 0  # type: ignore[attr-defined]
    answer = client.get(f"/v1/items/{item}/complements").json()
    assert answer["model"] == "popularity" and answer["model_version"] != old
    missing = client.post("/admin/reload", json={"bundle": "no-such-bundle"}, headers=ADMIN_AUTH)
    assert missing.status_code == 404
    assert missing.json()["detail"].endswith(
        "no-such-bundle: not an xsell model bundle (no model.json); create one with `xsell train`"
    )
    assert client.get("/v1/model").json()["model"] == "popularity"


def test_a_restart_replays_the_log(
    make_client: Client, pairs_bundle: Path, shop_data: ShopData, tmp_path: Path
) -> None:
    log = tmp_path / "replay.jsonl"
    first = make_client(pairs_bundle, events_log=log)
    anchor = str(shop_data.items.ids[1])
    orders = [{"type": "order", "items": [anchor, "FRESH"]}] * 3
    first.post("/v1/events", json={"events": orders}, headers=AUTH)
    first.post("/v1/events", json={"type": "view", "items": ["FRESH"]}, headers=AUTH)
    wait_applied(first, 4)
    expected = first.get("/v1/items/FRESH/complements", params={"k": 1}).json()
    del expected["recommendation_id"]  # fresh in every answer
    second = make_client(pairs_bundle, events_log=log)
    info = second.get("/v1/model").json()
    assert (info["events_applied"], info["orders_learned"]) == (4, 3)
    again = second.get("/v1/items/FRESH/complements", params={"k": 1}).json()
    assert {k: v for k, v in again.items() if k != "recommendation_id"} == expected


def test_bundles_from_saved_association_rules(
    make_client: Client, pairs_bundle: Path, shop_data: ShopData, tmp_path: Path
) -> None:
    from xsell.mining import association_rules, frequent_itemsets, save_rules

    store = tmp_path / "rules.duckdb"
    rules = association_rules(frequent_itemsets(shop_data, 0.01, max_len=3), min_confidence=0.1)
    save_rules(store, rules)
    client = make_client(pairs_bundle, rules_store=store)
    item = str(rules.iloc[0]["antecedent"][0])
    got = client.get(f"/v1/items/{item}/bundles", params={"k": 4})
    assert got.status_code == 200
    answer = got.json()
    assert answer["source"] == "association_rules"
    # oracle: brute force over the rules table, strongest lift per itemset
    best: dict[frozenset, float] = {}
    for row in rules.itertuples():
        itemset = frozenset((*row.antecedent, *row.consequent))
        if item in itemset and len(itemset) <= 3:
            best[itemset] = max(best.get(itemset, 0.0), row.lift)
    ranked = sorted(best.items(), key=lambda e: -e[1])[:4]
    assert [b["strength"]["lift"] for b in answer["bundles"]] == pytest.approx(
        [lift for _, lift in ranked]
    )
    prices = dict(zip(shop_data.items.ids, shop_data.item_prices(), strict=True))
    for bundle, (itemset, _) in zip(answer["bundles"], ranked, strict=True):
        ids = [i["item_id"] for i in bundle["items"]]
        assert ids[0] == item and set(ids) == itemset
        assert bundle["combined_price"] == pytest.approx(sum(prices[i] for i in ids), abs=0.01)


def test_bundles_without_rules_come_from_complements_and_say_so(
    make_client: Client, pairs_bundle: Path, shop_data: ShopData
) -> None:
    client = make_client(pairs_bundle)
    item = str(shop_data.items.ids[0])
    answer = client.get(f"/v1/items/{item}/bundles").json()
    assert answer["source"] == "model_complements"
    assert "holds no association rules" in answer["note"]
    complements = set(_ids(client.get(f"/v1/items/{item}/complements", params={"k": 5}).json()))
    for bundle in answer["bundles"]:
        ids = [i["item_id"] for i in bundle["items"]]
        assert ids[0] == item and 2 <= len(ids) <= 3
        assert set(ids[1:]) <= complements
    assert client.get("/v1/items/NOPE/bundles").status_code == 404


def test_bundles_carry_a_suggested_discount_above_the_margin_floor(
    make_client: Client, pairs_bundle: Path, shop_data: ShopData
) -> None:
    client = make_client(pairs_bundle)
    item = str(shop_data.items.ids[0])
    params = {"margin_floor": 0.15, "elasticity": 4.0}
    answer = client.get(f"/v1/items/{item}/bundles", params=params).json()
    prices = dict(zip(shop_data.items.ids, shop_data.item_prices(), strict=True))
    margins = dict(zip(shop_data.items.ids, shop_data.item_margins(), strict=True))
    assert answer["bundles"]
    grid = np.linspace(0.0, 0.5, 20_001)
    for bundle in answer["bundles"]:
        ids = [i["item_id"] for i in bundle["items"]]
        p, m = sum(prices[i] for i in ids), sum(margins[i] for i in ids)
        pricing = bundle["pricing"]
        assert pricing["list_price"] == pytest.approx(p)
        # Oracle: the best discount on a fine grid among those keeping 15 % margin.
        allowed = grid[(m - grid * p) / ((1 - grid) * p) >= 0.15]
        value = (1 - allowed) ** -4.0 * (m - allowed * p)
        best = allowed[np.argmax(value)] if len(allowed) else 0.0
        assert pricing["discount"] == pytest.approx(best, abs=1e-4)
        assert pricing["margin_share_after"] >= 0.15 - 1e-9
        assert "price elasticity 4.00 set by the user" in pricing["assumptions"]
    default = client.get(f"/v1/items/{item}/bundles").json()["bundles"][0]["pricing"]
    assert "assumed" in default["assumptions"] and "margin floor 20%" in default["assumptions"]
    bad = client.get(f"/v1/items/{item}/bundles", params={"margin_floor": 1.0})
    assert bad.status_code == 422
