"""Cache of item-page answers (encoded JSON): an in-process LRU, optionally backed by Redis.

Keys carry the model version and, per page item, the log offset of the last live
event that touched it. A reload or a new order with the item therefore moves
the item to a new key: a stale answer can never be read, even from a Redis
shared by workers that apply events a few milliseconds apart. The LRU also
drops the touched items' entries at once to free their memory.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from xsell.serving.shared import RedisLink

log = logging.getLogger("xsell.serving.cache")


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    redis_hits: int = 0
    invalidations: int = 0


@dataclass
class AnswerCache:
    """LRU of ``key -> bytes`` grouped by page item, plus an optional Redis layer.

    Parameters
    ----------
    size:
        Most entries kept in process; 0 turns the LRU off.
    redis:
        The shared Redis of the workers, or ``None``; while it is down the cache
        is this worker's LRU alone.
    ttl_s:
        Lifetime of Redis entries (old versions expire by themselves).
    """

    size: int = 10_000
    redis: RedisLink | None = None
    ttl_s: int = 3600
    stats: CacheStats = field(default_factory=CacheStats)
    _entries: OrderedDict[str, tuple[str, bytes]] = field(default_factory=OrderedDict)
    _by_item: dict[str, set[str]] = field(default_factory=dict)

    def get(self, item: str, key: str) -> bytes | None:
        """The cached answer for ``key`` (of page ``item``), or ``None``."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            self.stats.hits += 1
            return entry[1]
        if self.redis is not None:
            value = self.redis.call(lambda r: r.get("xsell:" + key), None)
            if value is not None:
                self.stats.redis_hits += 1
                self._store_local(item, key, value)
                return bytes(value)
        self.stats.misses += 1
        return None

    def put(self, item: str, key: str, value: bytes) -> None:
        """Remember ``value`` for ``key`` here and in Redis."""
        self._store_local(item, key, value)
        if self.redis is not None:
            self.redis.call(lambda r: r.set("xsell:" + key, value, ex=self.ttl_s), None)

    def _store_local(self, item: str, key: str, value: bytes) -> None:
        if self.size <= 0:
            return
        self._entries[key] = (item, value)
        self._entries.move_to_end(key)
        self._by_item.setdefault(item, set()).add(key)
        while len(self._entries) > self.size:
            old_key, (old_item, _) = self._entries.popitem(last=False)
            keys = self._by_item.get(old_item)
            if keys is not None:
                keys.discard(old_key)
                if not keys:
                    del self._by_item[old_item]

    def invalidate(self, items: Iterable[str]) -> int:
        """Drop the in-process answers of these page items; returns how many went."""
        dropped = 0
        for item in items:
            for key in self._by_item.pop(item, ()):
                if self._entries.pop(key, None) is not None:
                    dropped += 1
        self.stats.invalidations += dropped
        return dropped

    def clear(self) -> None:
        """Forget every in-process answer (after a reload)."""
        self.stats.invalidations += len(self._entries)
        self._entries.clear()
        self._by_item.clear()

    def __len__(self) -> int:
        return len(self._entries)
