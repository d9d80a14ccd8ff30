"""API keys, per-key rate limits and CORS.

Writes (``/v1/events``) and ``/admin/*`` need a key in the ``X-API-Key`` header;
reads work without one, but a key that is sent must be valid (a typo should not
silently turn into anonymous access). Each key has a token bucket: ``rate_limit``
requests per second on average, bursts of twice that, then ``429``.
"""

from __future__ import annotations

import hmac
import math
import time
from dataclasses import dataclass, field

from fastapi import HTTPException, status
from fastapi.middleware.cors import CORSMiddleware
from fastapi.security import APIKeyHeader
from starlette.types import ASGIApp

from xsell.serving.settings import API_KEY_HEADER, ServeSettings

api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="API key: required for /admin/* and /v1/events, optional for reads.",
)


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
    """Checks keys and limits rates (per worker process)."""

    keys: tuple[str, ...]
    rate_limit: float | None
    buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def _known(self, key: str) -> bool:
        return any(hmac.compare_digest(key.encode(), k.encode()) for k in self.keys)

    def check(self, key: str | None, required: bool) -> str | None:
        """Validate ``key`` and take a token; raises the 401/429 to answer."""
        if key is None:
            if not required:
                return None
            if not self.keys:
                raise HTTPException(
                    status.HTTP_401_UNAUTHORIZED,
                    "this server has no API keys configured; start it with --api-key KEY "
                    "to allow events and admin calls",
                )
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                f"missing API key: send it in the {API_KEY_HEADER} header",
            )
        if not self._known(key):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, f"invalid API key in the {API_KEY_HEADER} header"
            )
        if self.rate_limit is not None:
            now = time.monotonic()
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
        return key


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
