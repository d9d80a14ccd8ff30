"""The item-page cache in front of the app: hits replay validated answers, keys still count."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.serving.conftest import AUTH
from xsell.data.shopdata import ShopData
from xsell.models import load_model

Client = Callable[..., TestClient]


def _stats(client: TestClient) -> tuple[int, int]:
    """Page requests answered from the cache, and those the app answered after a look-up."""
    text = client.get("/metrics").text
    found = re.findall(r'^xsell_cache_lookups_total\{result="(hit|miss)"\} ([\d.]+)$', text, re.M)
    counts = {result: int(float(value)) for result, value in found}
    return counts.get("hit", 0), counts.get("miss", 0)


def _without_id(answer: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in answer.items() if key != "recommendation_id"}


def test_a_hit_replays_the_computed_answer_with_a_fresh_id_per_query_string(
    make_client: Client, pairs_bundle: Path, shop_data: ShopData
) -> None:
    client = make_client(pairs_bundle)
    model = load_model(pairs_bundle)
    item = str(shop_data.items.ids[3])
    url = f"/v1/items/{item}/complements"
    first = client.get(url, params={"k": 3}, headers=AUTH)
    again = [client.get(url, params={"k": 3}, headers=AUTH) for _ in range(3)]
    other = client.get(url, params={"k": 5}, headers=AUTH)
    assert _stats(client) == (3, 2)  # k=3 missed once then hit three times; k=5 missed
    assert all(got.status_code == 200 for got in [first, *again, other])
    assert all(got.headers["content-type"] == "application/json" for got in again)
    expected = model.complements(item, k=3)["item_id"].tolist()
    assert [s["item_id"] for s in first.json()["items"]] == expected
    for got in again:
        assert _without_id(got.json()) == _without_id(first.json())
    ids = {got.json()["recommendation_id"] for got in [first, *again]}
    assert len(ids) == 4 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert [s["item_id"] for s in other.json()["items"]] == (
        model.complements(item, k=5)["item_id"].tolist()
    )
    metrics = client.get("/metrics").text
    assert 'route="/v1/items/{item_id}/complements",status="200"} 5.0' in metrics


def test_a_cached_page_still_needs_a_good_key_and_a_token(
    make_client: Client, pairs_bundle: Path, shop_data: ShopData
) -> None:
    client = make_client(pairs_bundle, rate_limit=1.0, failed_key_rate=1.0)
    now = [1000.0]
    client.app.state.service.gate.clock = lambda: now[0]  # type: ignore[attr-defined]
    url = f"/v1/items/{shop_data.items.ids[3]}/complements"
    assert client.get(url, headers=AUTH).status_code == 200  # computed and kept
    wrong = client.get(url, headers={"X-API-Key": "guess-0000"})
    assert wrong.status_code == 401 and "invalid API key" in wrong.text
    # a bucket of 2 x 1 per key: the computed answer took one, this hit the other
    assert client.get(url, headers=AUTH).status_code == 200
    refused = client.get(url, headers=AUTH)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    assert "rate limit of 1 requests/s for this API key exceeded" in refused.text
    now[0] += 1.0
    assert client.get(url, headers=AUTH).status_code == 200
    assert _stats(client) == (2, 3)  # the refused ones went to the app, which refused them


def test_explained_pages_are_computed_every_time(
    make_client: Client, pairs_bundle: Path, shop_data: ShopData
) -> None:
    client = make_client(pairs_bundle)
    url = f"/v1/items/{shop_data.items.ids[3]}/complements?explain=true"
    answers = [client.get(url, headers=AUTH).json() for _ in range(3)]
    assert _stats(client) == (0, 0)
    assert all(a["trace"] is not None for a in answers)


def test_during_an_experiment_pages_with_a_customer_are_answered_by_their_arm(
    make_client: Client, pairs_bundle: Path, popularity_bundle: Path, shop_data: ShopData
) -> None:
    from xsell.evaluation.experiment import Arm

    arms = (Arm("pairs", str(pairs_bundle), 50), Arm("pop", str(popularity_bundle), 50))
    client = make_client(pairs_bundle, experiment="page", arms=arms)
    url = f"/v1/items/{shop_data.items.ids[3]}/complements"
    customers = [f"c{n}" for n in range(20)]
    seen = {
        client.get(url, params={"customer": c}, headers=AUTH).json()["arm"] for c in customers * 2
    }
    assert seen == {"pairs", "pop"}  # never a kept answer (whose arm is null)
    assert _stats(client) == (0, 0)
    guest = [client.get(url, headers=AUTH).json() for _ in range(2)]  # no customer: cached
    assert [g["arm"] for g in guest] == [None, None]
    assert _stats(client) == (1, 1)
