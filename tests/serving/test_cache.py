"""The answer cache: LRU order and per-item invalidation, and a real Redis shared by two apps."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import need_program
from tests.serving.conftest import KEY
from tests.serving.server import free_port
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.serving.cache import AnswerCache


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


def test_a_missing_redis_is_a_clear_error() -> None:
    port = free_port()
    with pytest.raises(ValidationError, match=f"cannot reach Redis at redis://127.0.0.1:{port}/0"):
        AnswerCache(redis_url=f"redis://127.0.0.1:{port}/0")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = need_program("redis-server")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            AnswerCache(redis_url=url).close()
            break
        except ValidationError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.05)
    yield url
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
    assert shared.content == answer.content
    # an order for the item, accepted by the first worker
    order = {"events": [{"type": "order", "items": [item, "RED-NEW"]}] * 50}
    assert first.post("/v1/events", json=order, headers={"X-API-Key": KEY}).status_code == 202
    fresh = first.get(url, params={"k": 4}).json()
    assert fresh["items"][0]["item_id"] == "RED-NEW"
    # the second worker has not read the log yet: it serves its own (old) state from Redis
    assert second.get(url, params={"k": 4}).content == answer.content
    second.app.state.service.apply_new_events()  # type: ignore[attr-defined]
    # once it has learned the order, the Redis entry it finds is the new one
    hits = cache2.stats.redis_hits
    assert second.get(url, params={"k": 4}).json() == fresh
    assert cache2.stats.redis_hits == hits + 1
