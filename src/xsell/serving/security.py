"""API keys, per-key rate limits and CORS.

Keys travel in the ``X-API-Key`` header and have roles: an *API key* may post
events (``/v1/events``), an *admin key* may also reload the model (``/admin/*``).
Reads work without a key, but a key that is sent must be valid (a typo should not
silently turn into anonymous access). Each key has a token bucket: ``rate_limit``
requests per second on average, bursts of twice that, then ``429``. The clock is
injectable, so the limiter is tested without waiting.
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from fastapi import HTTPException, status
from fastapi.middleware.cors import CORSMiddleware
from fastapi.security import APIKeyHeader
from starlette.types import ASGIApp

from xsell.serving.settings import API_KEY_HEADER, ServeSettings

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


@dataclass
class Gatekeeper:
    """Checks keys and roles and limits rates (per worker process)."""

    keys: tuple[str, ...]
    rate_limit: float | None
    admin_keys: tuple[str, ...] = ()
    clock: Callable[[], float] = time.monotonic
    buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def _known(self, key: str, keys: tuple[str, ...]) -> bool:
        return any(hmac.compare_digest(key.encode(), k.encode()) for k in keys)

    def check(self, key: str | None, role: str = "read") -> str | None:
        """Validate ``key`` for ``role`` and take a token; raises the 401/403/429 to answer."""
        if key is None:
            if role == "read":
                return None
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, self._missing(role))
        admin = self._known(key, self.admin_keys)
        if not admin and not self._known(key, self.keys):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, f"invalid API key in the {API_KEY_HEADER} header"
            )
        if role == "admin" and not admin:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "this API key may post events but not call /admin/*: send an admin key "
                "(xsell serve --admin-key)",
            )
        self._take(key)
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

    def _take(self, key: str) -> None:
        if self.rate_limit is None:
            return
        now = self.clock()
        bucket = self.buckets.get(key)
        if bucket is None:
            capacity = max(1.0, 2 * self.rate_limit)
            bucket = self.buckets[key] = TokenBucket(self.rate_limit, capacity, capacity, now)
        wait = bucket.take(now)
        if wait > 0:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"rate limit of {self.rate_limit:g} requests/s for this API key exceeded; "
                f"retry in {wait:.2f} s",
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
