"""API keys, rate limits and CORS.

Keys travel in the ``X-API-Key`` header and have roles: an *API key* may post
events (``/v1/events``), an *admin key* may also reload the model (``/admin/*``).
Reads work without a key, but a key that is sent must be valid (a typo should not
silently turn into anonymous access).

Rate limits are token buckets: ``rate_limit`` requests per second on average,
bursts of twice that, then ``429``. Each key has one; requests without a key
share one per client address; wrong keys count against a stricter bucket of
their address (``failed_key_rate``), so guessing keys is slow. With Redis the
buckets live there and every worker draws from the same ones (``N`` workers do
not allow ``N`` times the limit); while Redis is down each worker counts alone.
The clock is injectable, so the limiter is tested without waiting.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from fastapi import HTTPException, status
from fastapi.middleware.cors import CORSMiddleware
from fastapi.security import APIKeyHeader
from starlette.types import ASGIApp

from xsell.serving.settings import API_KEY_HEADER, ServeSettings
from xsell.serving.shared import RedisLink

api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="API key: required for /v1/events, an admin key for /admin/*; optional for reads.",
)

#: What a request needs: nothing (reads), a key that may post events, an admin key.
ROLES: Final = ("read", "write", "admin")


@dataclass
class TokenBucket:
    rate: float
    capacity: float
    tokens: float
    stamp: float

    def take(self, now: float) -> float:
        """Take one token; returns 0 when allowed, else seconds until one is free."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


#: A token bucket in Redis: refill, take ``cost`` or say how long to wait (atomic).
BUCKET_SCRIPT = """
local rate, capacity, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local held = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(held[1]) or capacity
local stamp = tonumber(held[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 60)
return tostring(wait)
"""


@dataclass
class Gatekeeper:
    """Checks keys and roles and limits rates (per worker, or shared through Redis)."""

    keys: tuple[str, ...]
    rate_limit: float | None
    admin_keys: tuple[str, ...] = ()
    failed_key_rate: float = 5.0
    shared: RedisLink | None = None
    #: wall-clock seconds: shared buckets compare the clocks of several workers (or hosts)
    clock: Callable[[], float] = time.time
    buckets: dict[str, TokenBucket] = field(default_factory=dict)
    _script: Any = None

    def knows(self, key: str) -> bool:
        """Whether ``key`` is one of this server's keys (compared in constant time)."""
        return self._known(key, self.admin_keys) or self._known(key, self.keys)

    def _known(self, key: str, keys: tuple[str, ...]) -> bool:
        return any(hmac.compare_digest(key.encode(), k.encode()) for k in keys)

    def check(self, key: str | None, role: str = "read", client: str = "unknown") -> str | None:
        """Validate ``key`` for ``role`` and take a token; raises the 401/403/429 to answer.

        ``client`` is the caller's address: requests without a key, and wrong keys,
        are limited per address.
        """
        if key is None:
            if role != "read":
                raise HTTPException(status.HTTP_401_UNAUTHORIZED, self._missing(role))
            self._take(f"addr:{client}", self.rate_limit, "requests without an API key from "
                       "this address")  # fmt: skip
            return None
        admin = self._known(key, self.admin_keys)
        if not admin and not self._known(key, self.keys):
            self._take(f"bad:{client}", self.failed_key_rate, "invalid API keys from this address")
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, f"invalid API key in the {API_KEY_HEADER} header"
            )
        if role == "admin" and not admin:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "this API key may post events but not call /admin/*: send an admin key "
                "(xsell serve --admin-key)",
            )
        if self.rate_limit is not None:
            # Bucket names never hold a key itself (Redis may be shared with other programs).
            self._take("key:" + hashlib.sha256(key.encode()).hexdigest()[:24], self.rate_limit,
                       "this API key")  # fmt: skip
        return key

    def _missing(self, role: str) -> str:
        if role == "admin":
            if not self.admin_keys:
                return (
                    "this server has no admin key configured; start it with --admin-key KEY "
                    "(or --admin-key-file) to allow /admin/* calls"
                )
            return f"missing admin key: send it in the {API_KEY_HEADER} header"
        if not self.keys and not self.admin_keys:
            return (
                "this server has no API keys configured; start it with --api-key KEY "
                "to allow events"
            )
        return f"missing API key: send it in the {API_KEY_HEADER} header"

    def _take(self, name: str, rate: float | None, who: str) -> None:
        if rate is None:
            return
        now = self.clock()
        capacity = max(1.0, 2 * rate)
        wait = -1.0
        if self.shared is not None:
            wait = self.shared.call(
                lambda r: float(
                    r.eval(BUCKET_SCRIPT, 1, f"xsell:rate:{name}", rate, capacity, now)
                ),
                -1.0,
            )
        if wait < 0:  # no Redis, or it is down: this worker counts alone
            bucket = self.buckets.get(name)
            if bucket is None:
                bucket = self.buckets[name] = TokenBucket(rate, capacity, capacity, now)
            wait = bucket.take(now)
        if wait > 0:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"rate limit of {rate:g} requests/s for {who} exceeded; retry in {wait:.2f} s",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )


def add_cors(app: ASGIApp, settings: ServeSettings) -> None:
    """Let browsers on ``settings.cors_origins`` call the API."""
    if not settings.cors_origins:
        return
    app.add_middleware(  # type: ignore[attr-defined]
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=[API_KEY_HEADER, "Content-Type"],
        max_age=600,
    )
