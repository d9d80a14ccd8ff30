"""The answer cache: LRU order and per-item invalidation, and a real Redis shared by two apps
and by the two workers of a real ``xsell serve --workers 2 --redis-url``."""

from __future__ import annotations

import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from prometheus_client.multiprocess import MultiProcessCollector

from tests.conftest import need_module, need_program, wait_until
from tests.serving.conftest import ADMIN, KEY, wait_applied
from tests.serving.server import Server, free_port
from xsell.data.shopdata import ShopData
from xsell.serving.cache import AnswerCache
from xsell.serving.schemas import MAX_K
from xsell.serving.shared import RedisLink


def test_lru_evicts_the_least_recently_used_and_invalidates_by_item() -> None:
    cache = AnswerCache(size=3)
    for n, item in enumerate("abc"):
        cache.put(item, f"{item}|k", bytes([n]))
    assert cache.get("a", "a|k") == b"\x00"  # a is now the most recent
    cache.put("d", "d|k", b"d")  # evicts b, the least recent
    assert cache.get("b", "b|k") is None
    assert [cache.get(i, f"{i}|k") is not None for i in "acd"] == [True, True, True]
    assert cache.get("c", "c|k") is not None  # recency now: a, d, c
    cache.put("c", "c|k2", b"c2")  # a second answer for c evicts a
    assert cache.get("a", "a|k") is None
    assert cache.invalidate(["c"]) == 2
    assert len(cache) == 1 and cache.get("d", "d|k") == b"d"
    cache.clear()
    assert len(cache) == 0


def test_a_cache_whose_redis_is_down_serves_from_its_own_lru() -> None:
    link = RedisLink(f"redis://127.0.0.1:{free_port()}/0")
    assert link.probe() is False and link.up is False
    cache = AnswerCache(size=2, redis=link)
    cache.put("a", "a|k", b"A")
    assert cache.get("a", "a|k") == b"A"
    assert cache.get("b", "b|k") is None
    assert (cache.stats.hits, cache.stats.misses, cache.stats.redis_hits) == (1, 1, 0)


def start_redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    """A real redis-server on ``port``, once it answers."""
    process = subprocess.Popen(
        [need_program("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    link = RedisLink(f"redis://127.0.0.1:{port}/0", retry_s=0)
    wait_until(link.probe, f"redis-server on port {port} answers", deadline_s=30)
    link.close()
    return process


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    process = start_redis(port, tmp_path_factory.mktemp("redis"))
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(10)


def test_two_workers_share_answers_through_redis_and_never_read_a_stale_one(
    make_client: Callable[..., TestClient],
    pairs_bundle: Path,
    shop_data: ShopData,
    redis_url: str,
    tmp_path: Path,
) -> None:
    log = tmp_path / "shared.jsonl"
    first = make_client(pairs_bundle, redis_url=redis_url, events_log=log)
    second = make_client(pairs_bundle, redis_url=redis_url, events_log=log, poll_interval_s=60)
    cache1 = first.app.state.service.cache  # type: ignore[attr-defined]
    cache2 = second.app.state.service.cache  # type: ignore[attr-defined]
    item = str(shop_data.items.ids[6])
    url = f"/v1/items/{item}/complements"
    answer = first.get(url, params={"k": 4})
    assert (cache1.stats.misses, cache2.stats.redis_hits) == (1, 0)
    shared = second.get(url, params={"k": 4})
    assert cache2.stats.redis_hits == 1 and cache2.stats.misses == 0
    assert _answer(shared) == _answer(answer)
    # an order for the item, accepted by the first worker
    order = {"events": [{"type": "order", "items": [item, "RED-NEW"]}] * 50}
    assert first.post("/v1/events", json=order, headers={"X-API-Key": KEY}).status_code == 202
    wait_applied(first, 50)
    fresh = first.get(url, params={"k": 4}).json()
    assert fresh["items"][0]["item_id"] == "RED-NEW"
    # the second worker has not read the log yet: it serves its own (old) state from Redis
    assert _answer(second.get(url, params={"k": 4})) == _answer(answer)
    second.portal.call(second.app.state.service.apply_new_events)  # type: ignore[attr-defined,union-attr]
    # once it has learned the order, the Redis entry it finds is the new one
    hits = cache2.stats.redis_hits
    assert _answer(second.get(url, params={"k": 4})) == {**fresh, "recommendation_id": None}
    assert cache2.stats.redis_hits == hits + 1


def _answer(response: Any) -> dict[str, Any]:
    """An answer without its ``recommendation_id`` (fresh in every answer, cached or not)."""
    return {**response.json(), "recommendation_id": None}


def _per_worker(folder: Path, sample: str, **labels: str) -> dict[int, float]:
    """A metric sample's value in each worker process (from its prometheus multiprocess file)."""
    values: dict[int, float] = {}
    for path in folder.glob("*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        try:
            merged = MultiProcessCollector.merge([str(path)])
        except (OSError, ValueError, struct.error):
            continue  # a worker still creating its file: it has reported nothing yet
        for metric in merged:
            for s in metric.samples:
                if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                    values[pid] = values.get(pid, 0.0) + s.value
    return values


def _wait_for_workers(folder: Path, sample: str, value: float) -> None:
    """Until both workers report ``sample == value`` (they follow each other every 0.2 s)."""
    deadline = time.monotonic() + 20
    while True:
        values = _per_worker(folder, sample)
        if len(values) == 2 and set(values.values()) == {value}:
            return
        assert time.monotonic() < deadline, f"{sample}: {values}, waited for {value} in both"
        time.sleep(0.05)


def test_real_workers_share_item_pages_through_redis_and_drop_them_on_events_and_reloads(
    cooccurrence_bundle: Path,
    popularity_bundle: Path,
    shop_data: ShopData,
    redis_url: str,
    tmp_path: Path,
) -> None:
    store = need_module("redis").Redis.from_url(redis_url)
    store.flushdb()
    metrics = tmp_path / "metrics"  # one file per worker: which worker answered what
    metrics.mkdir()
    log = tmp_path / "events.jsonl"
    args = ("--api-key", KEY, "--admin-key", ADMIN, "--events-log", str(log))
    args += ("--rate-limit", "0", "--workers", "2", "--redis-url", redis_url)
    env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    item = str(shop_data.items.ids[6])
    page = f"/v1/items/{item}/complements?k={MAX_K}"

    def lookups(result: str) -> dict[int, float]:
        return _per_worker(metrics, "xsell_cache_lookups_total", result=result)

    def ask_each_worker(url: str) -> tuple[set[bytes], dict[int, float], dict[int, float]]:
        """GET the page, one connection each, until both workers answered it; bodies and
        each worker's new cache hits and misses."""
        hits0, misses0 = lookups("hit"), lookups("miss")
        bodies: set[bytes] = set()
        for _ in range(200):
            got = httpx.get(url)
            assert got.status_code == 200
            # the body without its recommendation_id, which is fresh in every answer
            bodies.add(orjson.dumps({**got.json(), "recommendation_id": None}))
            hits = {p: v - hits0.get(p, 0.0) for p, v in lookups("hit").items()}
            misses = {p: v - misses0.get(p, 0.0) for p, v in lookups("miss").items()}
            if sum(1 for p in hits if hits[p] + misses.get(p, 0.0) > 0) == 2:
                return bodies, hits, misses
        raise AssertionError(f"one worker answered 200 requests: {lookups('hit')}")

    with Server(cooccurrence_bundle, *args, env=env, log=tmp_path / "server.log") as server:
        # one worker computes the answer; the other, its own cache still empty, reads it from
        # Redis: one miss in all, and a worker with hits only
        bodies, hits, misses = ask_each_worker(server.url + page)
        assert len(bodies) == 1 and store.dbsize() == 1
        assert sum(misses.values()) == 1
        assert any(hits[p] > 0 and misses.get(p) == 0 for p in hits), (hits, misses)
        (old,) = bodies
        exposed = httpx.get(server.url + "/metrics").text  # both workers' numbers, added up
        assert 'xsell_cache_lookups_total{result="miss"} 1.0' in exposed

        # an order with the item, accepted by one worker, reaches the other through the log:
        # the cached answer is never served again, the new one is computed once and shared
        order = {"type": "order", "items": [item, "ZZ-REDIS-NEW"]}
        got = httpx.post(server.url + "/v1/events", json=order, headers={"X-API-Key": KEY})
        assert got.status_code == 202
        _wait_for_workers(metrics, "xsell_events_applied", 1.0)
        bodies, hits, misses = ask_each_worker(server.url + page)
        assert old not in bodies and len(bodies) == 1
        assert b'"item_id":"ZZ-REDIS-NEW"' in next(iter(bodies))
        assert sum(misses.values()) == 1 and store.dbsize() == 2
        assert any(hits[p] > 0 and misses.get(p) == 0 for p in hits), (hits, misses)

        # a reload asked of one worker: both serve the new model, never an old answer
        got = httpx.post(
            server.url + "/admin/reload",
            json={"bundle": popularity_bundle.name},
            headers={"X-API-Key": ADMIN},
            timeout=30,
        )
        assert got.status_code == 200
        _wait_for_workers(metrics, "xsell_model_reloads_total", 1.0)
        bodies, hits, misses = ask_each_worker(server.url + page)
        assert len(bodies) == 1 and b'"model":"popularity"' in next(iter(bodies))
        assert sum(misses.values()) == 1 and store.dbsize() == 3


def test_workers_sharing_redis_share_the_rate_limits(
    make_client: Callable[..., TestClient],
    pairs_bundle: Path,
    shop_data: ShopData,
    redis_url: str,
    tmp_path: Path,
) -> None:
    need_module("redis").Redis.from_url(redis_url).flushdb()
    log = tmp_path / "limits.jsonl"
    workers = [
        make_client(pairs_bundle, redis_url=redis_url, events_log=log, rate_limit=1.0)
        for _ in range(2)
    ]
    for worker in workers:
        worker.app.state.service.gate.clock = lambda: 5000.0  # type: ignore[attr-defined]
    url = f"/v1/items/{shop_data.items.ids[0]}/complements"
    codes = [w.get(url, headers={"X-API-Key": KEY}).status_code for w in workers * 2]
    # one bucket of 2 x 1 for the key, whichever worker answers: not 2 per worker
    assert codes == [200, 200, 429, 429]
    # and one per address for requests without a key
    anonymous = [w.get(url).status_code for w in workers * 2]
    assert anonymous == [200, 200, 429, 429]


def _redis_up(url: str) -> float | None:
    text = httpx.get(url + "/metrics").text
    for line in text.splitlines():
        if line.startswith("xsell_redis_up "):
            return float(line.split()[1])
    return None


def test_redis_down_at_start_or_later_degrades_alike_and_reconnects(
    cooccurrence_bundle: Path, shop_data: ShopData, tmp_path: Path
) -> None:
    need_program("redis-server")
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    args = ("--api-key", KEY, "--events-log", str(tmp_path / "e.jsonl"), "--rate-limit", "0")
    item = str(shop_data.items.ids[3])
    pages = [f"/v1/items/{item}/complements?k={k}" for k in range(1, 40)]
    # Redis is not running: the server starts all the same and answers
    with Server(cooccurrence_bundle, *args, "--redis-url", url) as server:
        assert _redis_up(server.url) == 0.0
        assert httpx.get(server.url + pages[0]).status_code == 200
        # Redis comes up: the server finds it and shares its answers there
        process = start_redis(port, tmp_path)
        store = need_module("redis").Redis.from_url(url)
        try:
            wait_until(lambda: _redis_up(server.url) == 1.0, "the server reconnects to Redis")
            assert httpx.get(server.url + pages[1]).status_code == 200
            assert store.dbsize() == 1
            # Redis dies (SIGKILL): every request is still answered
            process.kill()
            process.wait(10)
            for page in pages[2:20]:
                assert httpx.get(server.url + page).status_code == 200
            wait_until(lambda: _redis_up(server.url) == 0.0, "the server notices Redis is gone")
            # and comes back: the server reconnects by itself
            process = start_redis(port, tmp_path)
            wait_until(lambda: _redis_up(server.url) == 1.0, "the server reconnects again")
            assert httpx.get(server.url + pages[30]).status_code == 200
            wait_until(lambda: store.dbsize() == 1, "an answer shared through the new Redis")
        finally:
            process.kill()
            process.wait(10)
