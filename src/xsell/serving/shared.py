"""The optional Redis that workers share (answer cache, rate-limit counts), and its outages.

Redis is an optimisation, never a dependency of an answer: when it cannot be
reached, at start-up or later, the link is marked down, a warning is logged
once, and every user of it falls back to its own in-process state (the LRU of
each worker, per-worker rate limits). Requests never wait for a Redis that is
down: only a background probe (:meth:`RedisLink.probe`, run by the service's
follower in a worker thread every ``retry_s``) tries to reconnect.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from xsell.errors import MissingExtraError

log = logging.getLogger("xsell.serving.shared")

T = TypeVar("T")


@dataclass
class RedisLink:
    """One Redis client shared by a worker's cache and rate limiter.

    Parameters
    ----------
    url:
        ``redis://host:port/db``.
    retry_s:
        Seconds between reconnection attempts while Redis is down.
    clock:
        Monotonic seconds (injectable for tests).
    """

    url: str
    retry_s: float = 1.0
    clock: Callable[[], float] = time.monotonic
    up: bool = False
    client: Any = field(default=None, repr=False)
    _next_try: float = 0.0
    _warned: bool = False

    def __post_init__(self) -> None:
        try:
            import redis
        except ImportError as exc:
            raise MissingExtraError("redis", "serve") from exc
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.client = redis.Redis.from_url(self.url, socket_timeout=0.5, socket_connect_timeout=0.5)

    def probe(self) -> bool:
        """Try to reach Redis (blocking: call it off the event loop); returns whether it is up."""
        if self.up or self.clock() < self._next_try:
            return self.up
        try:
            self.client.ping()
        except self._errors as exc:
            self._next_try = self.clock() + self.retry_s
            self._down(f"is unreachable ({exc})")
            return False
        self.up, self._warned = True, False
        log.warning("Redis at %s is reachable: the cache and rate limits are shared", self.url)
        return True

    def call(self, operation: Callable[[Any], T], default: T) -> T:
        """``operation(client)``, or ``default`` while Redis is down (a failure marks it down)."""
        if not self.up:
            return default
        try:
            return operation(self.client)
        except self._errors as exc:
            self.up = False
            self._next_try = self.clock() + self.retry_s
            self._down(f"failed ({exc})")
            return default

    def _down(self, what: str) -> None:
        if not self._warned:
            log.warning(
                "Redis at %s %s: serving without the shared cache and shared rate limits; "
                "retrying every %g s",
                self.url,
                what,
                self.retry_s,
            )
            self._warned = True

    def close(self) -> None:
        self.client.close()
