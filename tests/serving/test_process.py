"""The real server (uvicorn subprocess): SIGKILL loses no acknowledged event, reloads drop
no request, several workers share events and reloads, Schemathesis finds no 5xx."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import ROOT, need_module, wait_until
from tests.serving.conftest import ADMIN, ADMIN_AUTH, AUTH, KEY
from tests.serving.oracle import refit_bundle, scores, suggestions
from tests.serving.server import Server
from xsell.data.shopdata import ShopData
from xsell.data.synthetic import SyntheticShop
from xsell.serving.events import EventLog
from xsell.serving.schemas import MAX_K


def test_sigkill_then_restart_replays_acknowledged_orders_into_a_cooccurrence_model(
    cooccurrence_bundle: Path,
    shop: SyntheticShop,
    shop_data: ShopData,
    tmp_path: Path,
    make_client: Callable[..., TestClient],
) -> None:
    log = tmp_path / "events.jsonl"
    args = ("--api-key", KEY, "--events-log", str(log), "--rate-limit", "0")
    server = Server(cooccurrence_bundle, *args).start()
    lock = threading.Lock()
    anchor = str(shop_data.items.ids[2])
    # Few new items, many orders each: their scores count the orders; the names sort after
    # the catalog's and first appear in this order, so refit and replay index them alike.
    fresh = [f"ZZ-LIVE-{j}" for j in range(5)]
    acknowledged: list[str] = []
    stop = threading.Event()

    def send(worker: int) -> None:
        with httpx.Client(base_url=server.url, timeout=5) as client:
            n = 0
            while not stop.is_set():
                body = {
                    "type": "order",
                    "items": [anchor, fresh[n % len(fresh)]],
                    "customer": f"live-{worker}",
                }
                try:
                    got = client.post("/v1/events", json=body, headers=AUTH)
                except httpx.HTTPError:
                    return  # the server died mid-request: that event was never acknowledged
                if got.status_code == 202:
                    with lock:
                        acknowledged.extend(got.json()["ids"])
                n += 1

    senders = [threading.Thread(target=send, args=(w,)) for w in range(3)]
    for thread in senders:
        thread.start()
    # Kill once enough orders were acknowledged, however fast this machine is.
    wait_until(lambda: len(acknowledged) > 20, "20 acknowledged orders")
    server.kill()
    stop.set()
    for thread in senders:
        thread.join()
    assert len(acknowledged) > 20
    logged = EventLog(log).read_all()
    assert set(acknowledged) <= {event.id for event in logged}
    oracle = make_client(
        refit_bundle(shop, [event.items for event in logged], tmp_path / "refit", min_count=1),
        events_log=tmp_path / "oracle.jsonl",
    )
    pages = [f"/v1/items/{item}/complements?k={MAX_K}" for item in (anchor, *fresh)]
    with (
        Server(cooccurrence_bundle, *args) as restarted,
        httpx.Client(base_url=restarted.url) as client,
    ):
        info = client.get("/v1/model").json()
        assert info["model"] == "cooccurrence"
        assert info["events_applied"] == info["orders_learned"] == len(logged)
        for page in pages:
            got, expected = client.get(page).json(), oracle.get(page).json()
            assert suggestions(got) == suggestions(expected), page
            assert scores(got) == pytest.approx(scores(expected)), page
        # by hand (jaccard): fresh item j was bought with the anchor in c_j of the m new orders
        n_a = int(shop_data.basket_item[:, 2].sum())
        together = Counter(item for event in logged for item in event.items if item in fresh)
        page = {s["item_id"]: s["score"] for s in client.get(pages[0]).json()["items"]}
        m = len(logged)
        assert {j: page[j] for j in together} == pytest.approx(
            {j: c / (n_a + m) for j, c in together.items()}
        )
        basket = {"items": [anchor, fresh[0]], "k": 20}
        got = client.post("/v1/recommendations/basket", json=basket).json()
        expected = oracle.post("/v1/recommendations/basket", json=basket).json()
        assert suggestions(got) == suggestions(expected)
        assert scores(got) == pytest.approx(scores(expected))
        # the customers' histories came back too: what they bought is left out
        mine = client.get("/v1/customers/live-0/recommendations?k=20&exclude_seen=true")
        assert mine.status_code == 200
        assert not {anchor, *fresh} & {s["item_id"] for s in mine.json()["items"]}


def test_reload_under_steady_load_fails_no_request(
    cooccurrence_bundle: Path, popularity_bundle: Path, shop_data: ShopData, tmp_path: Path
) -> None:
    args = ("--api-key", KEY, "--admin-key", ADMIN, "--rate-limit", "0")
    args += ("--events-log", str(tmp_path / "e.jsonl"))
    items = [str(i) for i in shop_data.items.ids[:20]]
    results: list[tuple[int, str]] = []
    stop = threading.Event()
    with Server(cooccurrence_bundle, *args) as server:

        def load(worker: int) -> None:
            with httpx.Client(base_url=server.url, timeout=10) as client:
                n = 0
                while not stop.is_set():
                    item = items[(n + worker) % len(items)]
                    try:
                        if n % 2:
                            got = client.get(f"/v1/items/{item}/complements")
                        else:
                            body = {"items": [item, items[n % 7]], "k": 5}
                            got = client.post("/v1/recommendations/basket", json=body)
                        results.append((got.status_code, got.json()["model"]))
                    except Exception as exc:  # a dropped connection counts as a failure
                        results.append((0, repr(exc)))
                    n += 1

        clients = [threading.Thread(target=load, args=(w,)) for w in range(4)]
        for thread in clients:
            thread.start()
        reloads = []
        with httpx.Client(base_url=server.url, timeout=30, headers=ADMIN_AUTH) as admin:
            for bundle in [popularity_bundle, cooccurrence_bundle] * 3:
                # Each reload lands while requests flow: 40 more answers since the last one.
                seen = len(results)
                wait_until(lambda seen=seen: len(results) >= seen + 40, "40 more answers")
                reloads.append(admin.post("/admin/reload", json={"bundle": bundle.name}))
        seen = len(results)
        wait_until(lambda: len(results) >= seen + 40, "40 answers after the last reload")
        stop.set()
        for thread in clients:
            thread.join()
    assert [r.status_code for r in reloads] == [200] * 6
    failures = [r for r in results if r[0] != 200]
    assert not failures, failures[:5]
    assert {model for _, model in results} == {"cooccurrence", "popularity"}
    assert len(results) > 200


def test_two_workers_share_events_and_reloads(
    cooccurrence_bundle: Path, popularity_bundle: Path, shop_data: ShopData, tmp_path: Path
) -> None:
    args = ("--api-key", KEY, "--admin-key", ADMIN, "--workers", "2", "--rate-limit", "0")
    args += ("--events-log", str(tmp_path / "e.jsonl"))
    anchor = str(shop_data.items.ids[4])
    with Server(cooccurrence_bundle, *args) as server:
        got = httpx.post(
            server.url + "/v1/events",
            json={"type": "order", "items": [anchor, "SHARED-NEW"]},
            headers=AUTH,
        )
        assert got.status_code == 202

        def learned() -> bool:
            # Fresh connections land on either worker: 40 answers in a row from both.
            answers = [
                httpx.get(server.url + "/v1/items/SHARED-NEW/complements?k=1") for _ in range(40)
            ]
            return all(
                a.status_code == 200 and a.json()["items"][0]["item_id"] == anchor for a in answers
            )

        wait_until(learned, "both workers learned the order")
        with httpx.Client(base_url=server.url) as client:
            reload = client.post(
                "/admin/reload", json={"bundle": popularity_bundle.name}, headers=ADMIN_AUTH
            )
            assert reload.status_code == 200

        def swapped() -> bool:
            models = {httpx.get(server.url + "/v1/model").json()["model"] for _ in range(40)}
            return models == {"popularity"}

        wait_until(swapped, "both workers serve the reloaded bundle")
        with httpx.Client(base_url=server.url) as client:
            metrics = client.get("/metrics").text
            assert 'xsell_events_accepted_total{type="order"} 1.0' in metrics


@pytest.mark.parametrize("bundle", ["popularity_bundle", "cooccurrence_bundle"])
def test_schemathesis_finds_no_server_error_or_schema_violation(
    bundle: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    need_module("schemathesis")
    args = ("--api-key", KEY, "--admin-key", ADMIN, "--rate-limit", "0")
    args += ("--events-log", str(tmp_path / "e.jsonl"))
    # positive_data_acceptance is left out: JSON Schema cannot say "min_price <= max_price",
    # so an inverted price band is schema-valid yet rightly answered 422 (asserted in test_api).
    # One Schemathesis worker: with two threads, Hypothesis' concurrent ast.parse calls hit a
    # CPython 3.11 bug now and then ("AST constructor recursion depth mismatch"), and the count
    # of generated cases stays the same from run to run. Over the co-occurrence bundle the
    # generated orders (odd ids included) teach the model while it answers.
    with Server(request.getfixturevalue(bundle), *args) as server:
        run = subprocess.run(
            [
                sys.executable, "-m", "schemathesis.cli", "run", server.url + "/openapi.json",
                "--checks", "all", "--exclude-checks", "positive_data_acceptance",
                "--header", f"X-API-Key: {ADMIN}", "--max-examples", "90",
                "--seed", "1", "--workers", "1", "--no-color",
            ],
            cwd=ROOT, capture_output=True, text=True, timeout=280,
        )  # fmt: skip
        learned = httpx.get(server.url + "/v1/model").json()["orders_learned"]
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    generated = re.search(r"(\d+) generated, (\d+) passed(, (\d+) skipped)?\n", output)
    assert generated is not None, output[-2000:]
    # Every generated case passed (some skipped); a warning such as an operation answering
    # 404 without an experiment running is not a failure.
    total, passed = int(generated.group(1)), int(generated.group(2))
    assert total >= 1000 and passed == total, output[-2000:]
    assert "FAILURES" not in output and "failed" not in generated.group(0)
    if bundle == "cooccurrence_bundle":
        assert learned > 0  # the fuzzed orders went through the real model's update
