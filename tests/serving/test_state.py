"""The served model: copy-on-write updates, events learned off the request path in batches,
consistent reads meanwhile, a warm-up at load, and idempotency keys."""

from __future__ import annotations

import copy
import hashlib
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from fastapi.testclient import TestClient

from tests.conftest import wait_until
from tests.serving.conftest import ADMIN_AUTH, AUTH, wait_applied
from xsell.data.shopdata import ShopData
from xsell.models import REGISTRY, ItemTable, Recommender, load_model, make_model
from xsell.serving.events import EventLog, LoggedEvent

Client = Callable[..., TestClient]


def _digest(value: Any, out: Any, seen: set[int]) -> None:
    """Feed every array, matrix and scalar reachable from ``value`` into ``out``."""
    if isinstance(value, np.ndarray):
        out.update(repr((value.dtype, value.shape)).encode())
        out.update(repr(value.tolist()).encode() if value.dtype == object else value.tobytes())
    elif sp.issparse(value):
        matrix = sp.csr_matrix(value)
        for part in (matrix.data, matrix.indices, matrix.indptr, np.asarray(matrix.shape)):
            _digest(part, out, seen)
    elif isinstance(value, dict):
        for key in sorted(value, key=repr):
            out.update(repr(key).encode())
            _digest(value[key], out, seen)
    elif isinstance(value, list | tuple):
        for item in value:
            _digest(item, out, seen)
    elif isinstance(value, str | int | float | bool | type(None)):
        out.update(repr(value).encode())
    elif id(value) not in seen and hasattr(value, "__dict__"):
        seen.add(id(value))
        _digest(vars(value), out, seen)
    else:
        out.update(type(value).__name__.encode())


def state_digest(model: Recommender) -> str:
    """A hash of everything the model holds (components, item table and maps included)."""
    out = hashlib.sha256()
    _digest(vars(model), out, set())
    return out.hexdigest()


@pytest.fixture(scope="module")
def fitted(shop_data: ShopData) -> Iterator[Callable[[str], Recommender]]:
    cache: dict[str, Recommender] = {}

    def get(name: str) -> Recommender:
        if name not in cache:
            cache[name] = make_model(name).fit(shop_data)
        return cache[name]

    yield get


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_updating_a_copy_leaves_the_original_exactly_as_it_was(
    name: str, fitted: Callable[[str], Recommender], shop_data: ShopData
) -> None:
    model = fitted(name)
    items = [str(i) for i in shop_data.items.ids[:6]]
    customer = str(shop_data.users.ids[0])
    # Asked first: a model may build caches when it first scores (a deep model's network).
    answer = model.recommend_for_basket(items[:2], k=5, user=customer)
    before = state_digest(model)
    # known items only (the item table keeps its size), then a new item and a new customer
    known = copy.copy(model)
    known.update([items[:3], items[2:5]], [customer, None])
    assert state_digest(model) == before
    grown = copy.copy(model)
    grown.update([[items[0], items[1], "COW-NEW"], items[2:5]], [customer, "cow-new-customer"])
    assert state_digest(model) == before
    assert model.recommend_for_basket(items[:2], k=5, user=customer).equals(answer)
    # and the copies did learn
    assert state_digest(known) != before
    assert "COW-NEW" in grown.require_fitted().ids
    assert "COW-NEW" not in model.require_fitted().ids


def test_the_digest_sees_an_array_changed_in_place(fitted: Callable[[str], Recommender]) -> None:
    model = copy.copy(fitted("popularity"))
    table = model.require_fitted()
    model.items_ = ItemTable(
        table.ids, table.names, table.categories, table.prices, table.in_stock,
        table.popularity.copy(),
    )  # fmt: skip
    before = state_digest(model)
    model.items_.popularity[0] += 1
    assert state_digest(model) != before


class Gate:
    """Holds every ``Recommender.update`` until released; records each call's order count."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, model_class: type[Recommender]) -> None:
        self.open = threading.Event()
        self.entered = threading.Event()
        self.batches: list[int] = []
        original = model_class.update

        def update(model: Recommender, baskets: Any, *args: Any, **kwargs: Any) -> None:
            self.batches.append(len(baskets))
            self.entered.set()
            assert self.open.wait(120), "the test never released the update"
            original(model, baskets, *args, **kwargs)

        monkeypatch.setattr(model_class, "update", update)


def test_events_are_learned_off_the_request_path_in_one_batch_and_reads_stay_consistent(
    make_client: Client, pairs_bundle: Path, shop_data: ShopData, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(pairs_bundle)
    gate = Gate(monkeypatch, type(load_model(pairs_bundle)))
    anchor = str(shop_data.items.ids[5])
    page = f"/v1/items/{anchor}/complements"
    before = client.get(page, params={"k": 5}).json()["items"]
    order = {"type": "order", "items": [anchor, "OFF-PATH-NEW"]}
    # the first order is answered while its update has not even finished
    assert client.post("/v1/events", json=order, headers=AUTH).status_code == 202
    assert gate.entered.wait(120)
    # more orders and reads while the model is being updated: all answered from the old one
    for _ in range(5):
        assert client.post("/v1/events", json=order, headers=AUTH).status_code == 202
        assert client.get(page, params={"k": 5}).json()["items"] == before
        assert client.get("/v1/items/OFF-PATH-NEW/complements").status_code == 404
    info = client.get("/v1/model").json()
    assert (info["events_applied"], info["orders_learned"]) == (0, 0)
    gate.open.set()
    info = wait_applied(client, 6)
    assert (info["events_applied"], info["orders_learned"]) == (6, 6)
    # the first order alone, then the five that came meanwhile in one update call
    assert gate.batches == [1, 5]
    after = client.get(page, params={"k": 100}).json()
    scores = {s["item_id"]: s["score"] for s in after["items"]}
    assert scores["OFF-PATH-NEW"] == 6.0  # pair counts: six orders together


def test_the_model_is_warmed_up_at_load_on_a_copy(
    make_client: Client, pairs_bundle: Path, shop_data: ShopData, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_class = type(load_model(pairs_bundle))
    calls: list[list[list[str]]] = []
    original = model_class.update

    def spy(model: Recommender, baskets: Any, *args: Any, **kwargs: Any) -> None:
        calls.append([list(b) for b in baskets])
        original(model, baskets, *args, **kwargs)

    monkeypatch.setattr(model_class, "update", spy)
    client = make_client(pairs_bundle)
    # one order of the two best sellers, learned by a throw-away copy at load
    counts = np.asarray(shop_data.basket_item.sum(axis=0)).ravel()
    best = [str(shop_data.items.ids[i]) for i in np.argsort(-counts, kind="stable")[:2]]
    assert calls == [[best]]
    info = client.get("/v1/model").json()
    assert (info["events_applied"], info["orders_learned"]) == (0, 0)
    assert info["warm_up_seconds"] > 0
    fresh = load_model(pairs_bundle)
    item = best[0]
    expected = fresh.complements(item, k=10)
    got = client.get(f"/v1/items/{item}/complements", params={"k": 10}).json()
    assert [s["item_id"] for s in got["items"]] == expected["item_id"].tolist()
    assert [s["score"] for s in got["items"]] == pytest.approx(expected["score"].tolist())


# ------------------------------------------------------------------ idempotency keys


def _lines(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if line.strip()]


def test_a_retried_post_with_a_key_is_logged_and_learned_once(
    make_client: Client, pairs_bundle: Path, shop_data: ShopData, tmp_path: Path
) -> None:
    log = tmp_path / "keys.jsonl"
    client = make_client(pairs_bundle, events_log=log)
    anchor = str(shop_data.items.ids[7])
    order = {"type": "order", "items": [anchor, "KEYED-NEW"], "idempotency_key": "order-1001"}
    first = client.post("/v1/events", json=order, headers=AUTH).json()
    again = client.post("/v1/events", json=order, headers=AUTH).json()
    assert (first["accepted"], first["duplicates"]) == (1, 0)
    assert (again["accepted"], again["duplicates"]) == (0, 1)
    assert again["ids"] == first["ids"]
    # the header names a request: a batch's events are KEY#0, KEY#1, ...
    batch = {"events": [{"type": "view", "items": [anchor]}, {"type": "cart", "items": [anchor]}]}
    keyed = {**AUTH, "Idempotency-Key": "checkout-77"}
    one = client.post("/v1/events", json=batch, headers=keyed).json()
    two = client.post("/v1/events", json=batch, headers=keyed).json()
    assert (one["accepted"], two["accepted"], two["duplicates"]) == (2, 0, 2)
    assert two["ids"] == one["ids"]
    # a key repeated inside one batch is one event too
    twice = {"events": [order, order]}
    assert client.post("/v1/events", json=twice, headers=AUTH).json()["duplicates"] == 2
    lines = _lines(log)
    assert len(lines) == 3
    assert ['"key":"order-1001"' in lines[0], '"key":"checkout-77#1"' in lines[2]] == [True, True]
    info = wait_applied(client, 3)
    assert (info["events_applied"], info["orders_learned"]) == (3, 1)
    page = client.get("/v1/items/KEYED-NEW/complements", params={"k": 1}).json()
    assert page["items"][0]["score"] == 1.0  # learned once
    metrics = client.get("/metrics").text
    assert 'xsell_events_accepted_total{type="order"} 1.0' in metrics


def test_keys_hold_across_workers_sharing_the_log_and_on_replay(
    make_client: Client, pairs_bundle: Path, shop_data: ShopData, tmp_path: Path
) -> None:
    log = tmp_path / "shared.jsonl"
    first = make_client(pairs_bundle, events_log=log)
    second = make_client(pairs_bundle, events_log=log)
    anchor = str(shop_data.items.ids[8])
    order = {"type": "order", "items": [anchor, "SHARED-KEY-NEW"], "idempotency_key": "k-1"}
    sent = first.post("/v1/events", json=order, headers=AUTH).json()
    retried = second.post("/v1/events", json=order, headers=AUTH).json()
    assert (retried["accepted"], retried["duplicates"], retried["ids"]) == (0, 1, sent["ids"])
    assert len(_lines(log)) == 1
    for client in (first, second):
        assert wait_applied(client, 1)["orders_learned"] == 1
    # a log holding a keyed event twice (two processes without the lock, a copied line):
    # a replay learns it once
    line = _lines(log)[0]
    log.write_text(line + "\n" + line.replace(sent["ids"][0], "another-id") + "\n")
    replayed = make_client(pairs_bundle, events_log=log).get("/v1/model").json()
    assert (replayed["events_applied"], replayed["orders_learned"]) == (1, 1)


def test_two_logs_on_one_file_write_a_key_once_when_racing(tmp_path: Path) -> None:
    path = tmp_path / "race.jsonl"
    logs = [EventLog(path) for _ in range(4)]
    start = threading.Barrier(len(logs))
    results: list[tuple[list[str], int]] = []

    def post(log: EventLog, n: int) -> None:
        start.wait()
        for k in range(50):
            event = LoggedEvent(f"id-{n}-{k}", "order", ("a", "b"), None, None, 0.0, f"key-{k}")
            results.append(log.append([event]))

    threads = [threading.Thread(target=post, args=(log, n)) for n, log in enumerate(logs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    written = [event.key for event in EventLog(path).read_all()]
    assert sorted(written, key=lambda k: int(str(k).split("-")[1])) == [
        f"key-{k}" for k in range(50)
    ]
    assert sum(new for _, new in results) == 50
    assert len(_lines(path)) == 50
    # every post of a key got the id it was logged under
    logged = {event.key: event.id for event in EventLog(path).read_all()}
    by_key: dict[str, set[str]] = {}
    for ids, _ in results:
        by_key.setdefault(ids[0].rsplit("-", 1)[1], set()).add(ids[0])
    assert all(len(ids) == 1 for ids in by_key.values())
    assert set(logged.values()) == {next(iter(v)) for v in by_key.values()}


# ------------------------------------------------------------------ reloads across workers


def test_other_workers_load_a_reload_while_the_asked_one_does_and_swap_at_its_commit(
    make_client: Client, pairs_bundle: Path, popularity_bundle: Path, tmp_path: Path
) -> None:
    log = tmp_path / "reload.jsonl"  # the workers share the log and its control file
    asked, other = (
        make_client(pairs_bundle, events_log=log),
        make_client(pairs_bundle, events_log=log),
    )
    asked_state = asked.app.state.service.state  # type: ignore[attr-defined]
    other_service = other.app.state.service  # type: ignore[attr-defined]
    release = threading.Event()
    real_load, other_load = asked_state.load, other_service.state.load
    loads: list[Path] = []

    def held_load(bundle: Path) -> Any:
        assert release.wait(120), "never released"
        return real_load(bundle)

    def counted_load(bundle: Path) -> Any:
        loads.append(Path(bundle))
        return other_load(bundle)

    asked_state.load = held_load
    other_service.state.load = counted_load
    answers: list[Any] = []
    reload = threading.Thread(
        target=lambda: answers.append(
            asked.post("/admin/reload", json={"bundle": "popularity"}, headers=ADMIN_AUTH)
        )
    )
    reload.start()
    # the other worker has loaded the coming bundle while the asked one is still loading,
    # and serves the old model until the reload is committed
    wait_until(
        lambda: other_service.preparing is not None and other_service.preparing[1].done(),
        "the other worker loaded the coming bundle",
    )
    assert other.get("/v1/model").json()["model"] == "cooccurrence"
    release.set()
    reload.join()
    assert answers[0].status_code == 200
    wait_until(
        lambda: other.get("/v1/model").json()["model"] == "popularity",
        "the other worker serves the reloaded bundle",
    )
    assert loads == [popularity_bundle.resolve()]  # loaded once, ahead of the commit
    assert other.get("/v1/model").json()["reloads"] == 1


def test_a_failed_reload_is_dropped_by_the_other_workers(
    make_client: Client, pairs_bundle: Path, popularity_bundle: Path, tmp_path: Path
) -> None:
    broken = popularity_bundle.parent / "broken-for-followers"
    shutil.rmtree(broken, ignore_errors=True)
    shutil.copytree(popularity_bundle, broken)
    (broken / "arrays.npz").write_bytes(b"")
    log = tmp_path / "reload.jsonl"
    asked, other = (
        make_client(pairs_bundle, events_log=log),
        make_client(pairs_bundle, events_log=log),
    )
    other_service = other.app.state.service  # type: ignore[attr-defined]
    got = asked.post("/admin/reload", json={"bundle": broken.name}, headers=ADMIN_AUTH)
    assert got.status_code == 422
    wait_until(lambda: other_service.preparing is None, "the failed reload dropped")
    assert other.get("/v1/model").json()["model"] == "cooccurrence"
    assert asked.post("/admin/reload", json={"bundle": "popularity"}, headers=ADMIN_AUTH).is_success
    wait_until(
        lambda: other.get("/v1/model").json()["model"] == "popularity",
        "the other worker serves the good bundle",
    )
    wait_until(lambda: other_service.preparing is None, "no reload left under way")
    info = other.get("/v1/model").json()
    assert (info["bundle"], info["reloads"]) == ("popularity", 1)
