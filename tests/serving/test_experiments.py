"""Online experiments in the server: sticky arms, logged answers, attributed orders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.serving.conftest import AUTH
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.evaluation.experiment import Arm, assign
from xsell.models import load_model
from xsell.serving import ServeSettings

Client = Callable[..., TestClient]


def experiment_client(
    make_client: Client, popularity_bundle: Path, pairs_bundle: Path, tmp_path: Path
) -> tuple[TestClient, list[Arm], Path]:
    arms = [Arm("pop", str(popularity_bundle), 50), Arm("pairs", str(pairs_bundle), 50)]
    log = tmp_path / "exp.events.jsonl"
    client = make_client(popularity_bundle, experiment="exp1", arms=tuple(arms), events_log=log)
    return client, arms, log


def test_each_customer_is_answered_by_its_sticky_arm_and_every_answer_is_logged(
    make_client: Client,
    popularity_bundle: Path,
    pairs_bundle: Path,
    shop_data: ShopData,
    tmp_path: Path,
) -> None:
    client, arms, log = experiment_client(make_client, popularity_bundle, pairs_bundle, tmp_path)
    item = str(shop_data.items.ids[0])
    pairs = load_model(pairs_bundle)
    seen: dict[str, str] = {}
    ids = set()
    for n in range(40):
        customer = f"guest-{n % 20}"
        got = client.post(
            "/v1/recommendations/basket", json={"items": [item], "session": customer, "k": 5}
        )
        assert got.status_code == 200, got.text
        answer = got.json()
        expected_arm = assign("exp1", customer, arms)
        assert answer["arm"] == expected_arm
        assert seen.setdefault(customer, answer["arm"]) == answer["arm"]
        assert answer["model"] == ("popularity" if expected_arm == "pop" else "cooccurrence")
        if expected_arm == "pairs":
            wanted = pairs.recommend_for_basket([item], k=5)["item_id"].tolist()
            assert [s["item_id"] for s in answer["items"]] == wanted
        ids.add(answer["recommendation_id"])
    assert len(ids) == 40
    assert set(seen.values()) == {"pop", "pairs"}
    lines = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    started = [e for e in lines if e["type"] == "experiment"]
    assert started[0]["items"] == [f"pop={popularity_bundle}:50", f"pairs={pairs_bundle}:50"]
    logged = [e for e in lines if e["type"] == "recommendation"]
    assert {e["recommendation_id"] for e in logged} == ids
    assert all(e["arm"] == assign("exp1", e["session"], arms) for e in logged)
    info = client.get("/v1/experiment").json()
    assert [a["arm"] for a in info["arms"]] == ["pop", "pairs"]
    assert [a["model"] for a in info["arms"]] == ["popularity", "cooccurrence"]


def test_orders_of_suggested_items_are_attributed_in_the_report(
    make_client: Client,
    popularity_bundle: Path,
    pairs_bundle: Path,
    shop_data: ShopData,
    tmp_path: Path,
) -> None:
    client, _, _ = experiment_client(make_client, popularity_bundle, pairs_bundle, tmp_path)
    item = str(shop_data.items.ids[0])
    answer = client.post(
        "/v1/recommendations/basket", json={"items": [item], "customer": "c1", "k": 3}
    ).json()
    first = answer["items"][0]
    follow_ups = [
        {"type": "impression", "items": [s["item_id"] for s in answer["items"]]},
        {"type": "click", "items": [first["item_id"]]},
        {"type": "order", "items": [item, first["item_id"]]},
    ]
    events = [{**e, "customer": "c1", "recommendation_id": answer["recommendation_id"]}
              for e in follow_ups]  # fmt: skip
    posted = client.post("/v1/events", json={"events": events}, headers=AUTH)
    assert posted.status_code == 202, posted.text
    report = client.get("/v1/experiment/report").json()
    arm = next(a for a in report["arms"] if a["arm"] == answer["arm"])
    assert (arm["sessions"], arm["impressions"], arm["clicks"]) == (1, 1, 1)
    assert (arm["orders"], arm["attached_orders"]) == (1, 1)
    assert arm["revenue"] == pytest.approx(first["price"])
    other = next(a for a in report["arms"] if a["arm"] != answer["arm"])
    assert other["sessions"] == 0
    assert report["method"].startswith("delta method")


def test_answers_carry_an_id_and_no_arm_without_an_experiment(
    make_client: Client, pairs_bundle: Path, shop_data: ShopData
) -> None:
    client = make_client(pairs_bundle)
    item = str(shop_data.items.ids[0])
    twice = [client.get(f"/v1/items/{item}/complements").json() for _ in range(2)]  # cached
    assert [a["arm"] for a in twice] == [None, None]
    assert twice[0]["recommendation_id"] != twice[1]["recommendation_id"]
    assert twice[0]["items"] == twice[1]["items"]
    missing = client.get("/v1/experiment/report")
    assert missing.status_code == 404
    assert "no experiment runs on this server" in missing.json()["detail"]


def test_prices_of_an_event_must_match_its_items(make_client: Client, pairs_bundle: Path) -> None:
    client = make_client(pairs_bundle)
    bad = {"type": "order", "items": ["a", "b"], "prices": [1.0]}
    got = client.post("/v1/events", json=bad, headers=AUTH)
    assert got.status_code == 422
    assert "prices holds 1 values for 2 items" in got.text


def test_settings_refuse_arms_without_an_experiment(pairs_bundle: Path) -> None:
    arms = (Arm("a", "x", 1), Arm("b", "y", 1))
    with pytest.raises(ValidationError, match="arms were given without an experiment name"):
        ServeSettings(bundle=pairs_bundle, arms=arms)
    with pytest.raises(ValidationError, match="at least 2 arms, got 1"):
        ServeSettings(bundle=pairs_bundle, experiment="e", arms=arms[:1])


def test_experiment_settings_reach_every_worker_unchanged(
    pairs_bundle: Path, popularity_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xsell.serving.app import SETTINGS_ENV, app_from_env, settings_to_env

    arms = (Arm("a", str(pairs_bundle), 30.0), Arm("b", str(popularity_bundle), 70.0))
    settings = ServeSettings(
        bundle=pairs_bundle, experiment="e", arms=arms,
        compare_bundles=(("pop", popularity_bundle),), api_keys=("k" * 12,),
    )  # fmt: skip
    monkeypatch.setenv(SETTINGS_ENV, settings_to_env(settings))
    assert app_from_env().state.service.settings == settings
