"""The item-page cache, in front of the app: a repeated page request never reaches routing.

``GET /v1/items/{item}/complements`` is the request shops send most, and most of
its cost on a hit was the framework's (routing, parameter validation, the key
dependency), not the lookup. So the cache is a pure ASGI layer:

* a miss goes through the app as usual; a ``200`` answer is kept under the page
  item, the served model's version, the item's last live touch and the raw query
  string (a hit is always the replay of a request the app validated and answered);
* a hit checks the API key and the rate limit as the route would, and answers
  the kept body with a fresh ``recommendation_id`` (its ``arm`` is null: answers
  of an experiment's arms are not kept).

Not cached: ``explain`` requests, and requests naming a customer or a session
while an experiment runs (their answer depends on the arm and is logged).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xsell.serving.events import new_event_id
from xsell.serving.settings import API_KEY_HEADER

if TYPE_CHECKING:
    from xsell.serving.app import Service

PAGE = re.compile(r"^/v1/items/([^/]+)/complements$")
_KEY_HEADER = API_KEY_HEADER.lower().encode()


#: Where a kept answer's ``recommendation_id`` starts (it is 32 hex digits, made fresh per hit).
_ID = b'"recommendation_id":"'


def with_id(body: bytes) -> bytes:
    """A kept answer with a fresh ``recommendation_id`` in place of the one it was sent with."""
    at = body.find(_ID) + len(_ID)
    return body[:at] + new_event_id().encode() + body[at + 32 :]


class PageCache:
    """Answer repeated item-page requests from ``service.cache`` (see the module doc)."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service
        #: the complements route, as the app matched it on a miss: hits are counted under it
        self.route: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        service = self.service
        cache = service.cache
        keeps = cache is not None and (cache.size > 0 or cache.redis is not None)
        page = PAGE.match(scope["path"]) if keeps and scope["type"] == "http" else None
        if cache is None or page is None or scope["method"] != "GET" or service.state is None:
            await self.app(scope, receive, send)
            return
        query = scope["query_string"].decode("latin-1")
        asked = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
        personal = service.settings.experiment is not None and bool(asked & {"customer", "session"})
        if "explain" in asked or personal:
            await self.app(scope, receive, send)
            return
        item = page.group(1)
        served = service.model_state.current
        key = f"{served.version}|{served.touched.get(item, 0)}|{query}|{item}"
        body = cache.get(item, key)
        if body is not None and self._allowed(scope):
            service.metrics.cache_hits.inc()
            if self.route is not None:
                scope["route"] = self.route
            await _send_json(send, with_id(body))
            return
        service.metrics.cache_misses.inc()
        await self.app(scope, receive, self._keeper(send, item, key))
        self.route = scope.get("route", self.route)

    def _allowed(self, scope: Scope) -> bool:
        """Whether the key (or its absence) may read now; else the app answers the refusal
        (and counts a wrong key once)."""
        gate = self.service.gate
        raw = dict(scope["headers"]).get(_KEY_HEADER)
        key = None if raw is None else raw.decode("latin-1")
        if key is not None and not gate.knows(key):
            return False
        client = scope.get("client")
        try:
            gate.check(key, "read", client[0] if client else "unknown")
        except HTTPException:  # no token left: refused without taking one, so the app can say so
            return False
        return True

    def _keeper(self, send: Send, item: str, key: str) -> Send:
        """``send``, keeping a ``200`` answer's body for ``key``."""
        status = 0
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and status == 200:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and self.service.cache is not None:
                    body = b"".join(chunks)
                    if _ID in body:
                        self.service.cache.put(item, key, body)
            await send(message)

        return keep


async def _send_json(send: Send, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
