"""Live learning with a real co-occurrence model, checked against a refit from scratch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.serving.conftest import AUTH, wait_applied
from tests.serving.oracle import refit_bundle, scores, suggestions
from xsell.data.shopdata import ShopData
from xsell.data.synthetic import SyntheticShop
from xsell.serving.schemas import MAX_K

Client = Callable[..., TestClient]
#: Sorts after every catalog id, so it takes the same index live and refitted (same tie-breaks).
NEW = "ZZ-NEW-SKU"


def _ids(answer: dict) -> list[str]:
    return [s["item_id"] for s in answer["items"]]


def test_one_order_changes_a_cooccurrence_model_as_a_refit_would(
    make_client: Client,
    cooccurrence_bundle: Path,
    shop: SyntheticShop,
    shop_data: ShopData,
    tmp_path: Path,
) -> None:
    client = make_client(cooccurrence_bundle)
    a = 3
    anchor, anchor_name = str(shop_data.items.ids[a]), str(shop_data.item_names()[a])
    page = f"/v1/items/{anchor}/complements"
    version = client.get("/v1/model").json()["model_version"]
    before = client.get(page, params={"k": MAX_K}).json()  # and now cached
    assert before["model"] == "cooccurrence" and NEW not in _ids(before)
    assert client.get(f"/v1/items/{NEW}/complements").status_code == 404

    order = {"type": "order", "items": [NEW, anchor]}
    assert client.post("/v1/events", json=order, headers=AUTH).status_code == 202
    wait_applied(client, 1)

    # same process, no reload: the next answers know the pair
    live = {
        "page": client.get(page, params={"k": MAX_K}).json(),
        "basket": client.post(
            "/v1/recommendations/basket", json={"items": [anchor], "k": MAX_K}
        ).json(),
        "explained": client.post(
            "/v1/recommendations/basket", json={"items": [anchor], "k": MAX_K, "explain": True}
        ).json(),
        "new page": client.get(f"/v1/items/{NEW}/complements", params={"k": 5}).json(),
    }
    info = client.get("/v1/model").json()
    assert (info["model_version"], info["reloads"], info["orders_learned"]) == (version, 0, 1)
    for name in ("page", "basket", "explained"):
        assert NEW in _ids(live[name]), name
    learned = [s for s in live["new page"]["items"] if s["source"] == "model"]
    assert [s["item_id"] for s in learned] == [anchor]  # the rest is best sellers as filler

    # by hand (jaccard, the default): 1 order together; the anchor is now in n_a + 1 of n + 1
    n_a, n = int(shop_data.basket_item[:, a].sum()), shop_data.n_baskets
    new = next(s for s in live["page"]["items"] if s["item_id"] == NEW)
    assert new["score"] == pytest.approx(1 / (n_a + 1))
    assert new["reasons"] == [
        f"bought with '{anchor_name}' in {1 / (n_a + 1):.0%} of its orders "
        f"(lift {(n + 1) / (n_a + 1):.1f})"
    ]
    assert learned[0]["score"] == pytest.approx(1 / (n_a + 1))
    bundles = client.get(f"/v1/items/{NEW}/bundles").json()["bundles"]
    assert [[i["item_id"] for i in b["items"]] for b in bundles] == [[NEW, anchor]]
    assert bundles[0]["combined_price"] is None  # the new item has no price yet

    # the oracle: the same model fitted from scratch on the old orders plus this one
    oracle = make_client(
        refit_bundle(shop, [[NEW, anchor]], tmp_path / "refit", min_count=1),
        events_log=tmp_path / "o.jsonl",
    )
    expected = {
        "page": oracle.get(page, params={"k": MAX_K}).json(),
        "basket": oracle.post(
            "/v1/recommendations/basket", json={"items": [anchor], "k": MAX_K}
        ).json(),
        "new page": oracle.get(f"/v1/items/{NEW}/complements", params={"k": 5}).json(),
    }
    expected["explained"] = expected["basket"]
    for name, answer in live.items():
        assert suggestions(answer) == suggestions(expected[name]), name
        assert scores(answer) == pytest.approx(scores(expected[name])), name
