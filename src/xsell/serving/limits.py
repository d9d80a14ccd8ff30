"""Limits that keep one client from exhausting the server: body size, header size,
idle connections and how many connections are open at once.

* :class:`BodyLimit` (ASGI middleware) answers ``413`` as soon as a body is known
  to be too large: at once from its ``Content-Length``, or while a chunked body
  streams in, never after reading all of it.
* :class:`LimitedHttpTools` (uvicorn's httptools protocol, for ``xsell serve``)
  answers ``431`` and closes a connection whose request head (request line and
  headers) outgrows ``h11_max_incomplete_event_size`` (uvicorn's own limit on
  a head, used here with httptools too, which has none); closes a connection that
  sends no complete head within ``timeout_keep_alive`` seconds of being opened or
  of its last answer (uvicorn arms that timer only after an answer, so
  connections that never send a request, or send it byte by byte, stayed open);
  and closes new connections beyond ``limit_concurrency - 1`` at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _TooLarge(StarletteHTTPException):
    """Raised while a body streams in: FastAPI lets HTTP exceptions through its body parsing."""


def _error(status: int, reason: str, detail: str) -> bytes:
    body = orjson.dumps({"detail": detail})
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with ``413`` (and close the connection)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    def _detail(self) -> str:
        return (
            f"the request body is larger than this server's limit of {self.limit:,} bytes "
            "(xsell serve --max-body)"
        )

    async def _refuse(self, send: Send) -> None:
        body = orjson.dumps({"detail": self._detail()})
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        bounded = True  # no body, or one whose declared length the server reads no further
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    bounded = False
                    break
                if declared > self.limit:
                    await self._refuse(send)
                    return
            elif name == b"transfer-encoding":
                bounded = False
        if bounded:
            await self.app(scope, receive, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge(413, self._detail(), headers={"Connection": "close"})
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if started:
                raise
            await self._refuse(send)


class LimitedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with head size, idle time and connection limits."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_head = self.config.h11_max_incomplete_event_size or 16 * 1024
        self.head_bytes = 0
        self.in_head = True
        self.idle_timer: asyncio.TimerHandle | None = None
        self.refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        limit = self.limit_concurrency
        if limit is not None and len(self.connections) >= limit - 1:
            # Full: close before reading anything (uvicorn's own 503 needs a request head
            # and keeps the connection; with this cap it never fires, see the module doc).
            self.refused = True
            transport.close()
            return
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self.idle_timer = self.loop.call_later(self.timeout_keep_alive, self._idle)

    def _disarm(self) -> None:
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None

    def _idle(self) -> None:
        if self.in_head and not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.in_head:
            # Only the bytes before the blank line that ends the head count; a body
            # arriving in the same read is limited by BodyLimit.
            end = data.find(b"\r\n\r\n")
            self.head_bytes += len(data) if end < 0 else end
            if self.head_bytes > self.max_head:
                self.transport.write(
                    _error(
                        431,
                        "Request Header Fields Too Large",
                        f"the request line and headers are larger than this server's limit "
                        f"of {self.max_head:,} bytes (xsell serve --max-header)",
                    )
                )
                self.transport.close()
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self.in_head = False
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.in_head, self.head_bytes = True, 0
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.in_head:
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if not self.refused:
            super().connection_lost(exc)
