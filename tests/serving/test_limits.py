"""Limits of the real server (uvicorn): body size while it streams, header size, idle and
slow connections, and how many connections are open at once."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_until
from tests.serving.conftest import AUTH, KEY
from tests.serving.server import Server


def _start(bundle: Path, folder: Path, keep_alive: str) -> Server:
    args = ("--api-key", KEY, "--events-log", str(folder / "e.jsonl"), "--rate-limit", "0")
    args += ("--max-body", "10000", "--max-header", "4096", "--keep-alive", keep_alive)
    args += ("--max-connections", "4")
    return Server(bundle, *args).start()


@pytest.fixture
def server(popularity_bundle: Path, tmp_path: Path) -> Iterator[Server]:
    """Limits: 10,000 bytes of body, 4,096 of head, 1 s idle, 4 connections."""
    running = _start(popularity_bundle, tmp_path, "1")
    yield running
    running.stop()


@pytest.fixture
def patient_server(popularity_bundle: Path, tmp_path: Path) -> Iterator[Server]:
    """The same with 60 s idle: connections stay open while the test holds them."""
    running = _start(popularity_bundle, tmp_path, "60")
    yield running
    running.stop()


def _connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    return sock


def _response(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _one_response(sock: socket.socket) -> bytes:
    """One answer on a kept-alive connection: its head and ``Content-Length`` bytes of body."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def _status_and_body(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def _events(n: int) -> bytes:
    return json.dumps({"events": [{"type": "view", "items": ["x" * 100]}] * n}).encode()


def test_a_body_over_the_limit_is_refused_before_it_is_sent(server: Server) -> None:
    with _connect(server) as sock:
        # announce 100 MB, send only the head: the answer comes without the body
        sock.sendall(
            b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"X-API-Key: " + KEY.encode() + b"\r\nContent-Length: 100000000\r\n\r\n"
        )
        status, body = _status_and_body(_response(sock))
    assert status == 413
    assert body["detail"] == (
        "the request body is larger than this server's limit of 10,000 bytes "
        "(xsell serve --max-body)"
    )
    info = httpx.get(server.url + "/v1/model").json()
    assert info["events_applied"] == 0


def test_a_chunked_body_is_cut_off_while_it_streams(server: Server) -> None:
    with _connect(server) as sock:
        sock.sendall(
            b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"X-API-Key: " + KEY.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        piece = b"x" * 4000
        for _ in range(3):  # 12,000 bytes: over the limit, and the stream never ends
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        status, body = _status_and_body(_response(sock))
    assert status == 413 and "10,000 bytes" in body["detail"]


def test_a_body_within_the_limit_is_served(server: Server) -> None:
    small = _events(20)
    assert len(small) < 10_000
    got = httpx.post(
        server.url + "/v1/events",
        content=small,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert got.status_code == 202 and got.json()["accepted"] == 20
    big = _events(100)
    assert len(big) > 10_000
    refused = httpx.post(
        server.url + "/v1/events", content=big, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert refused.status_code == 413


def test_headers_over_the_limit_get_431_and_the_connection_closes(server: Server) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        for n in range(6):  # 6 KB of headers, never ending the head
            sock.sendall(b"X-Filler-%d: %s\r\n" % (n, b"y" * 1000))
        status, body = _status_and_body(_response(sock))
    assert status == 431
    assert body["detail"] == (
        "the request line and headers are larger than this server's limit of 4,096 bytes "
        "(xsell serve --max-header)"
    )
    ok = httpx.get(server.url + "/healthz", headers={"X-Small": "y" * 1000})
    assert ok.status_code == 200


def test_idle_and_slow_connections_are_closed(server: Server) -> None:
    with _connect(server) as idle, _connect(server) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\n")  # a head that never ends
        # the server closes both (after --keep-alive 1 s): recv returns the end of stream
        assert _response(idle) == b""
        assert _response(slow) == b""
    # a kept-alive connection is closed once idle too, after its answer
    with _connect(server) as kept:
        kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        raw = _response(kept)
    assert raw.startswith(b"HTTP/1.1 200") and raw.endswith(b'{"status":"ok"}')


def test_connections_beyond_the_limit_are_closed_and_the_others_served(
    patient_server: Server,
) -> None:
    server = patient_server
    held = [_connect(server) for _ in range(4)]  # the limit: 4 open at once
    for sock in held:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _one_response(sock).startswith(b"HTTP/1.1 200")
    with _connect(server) as extra:  # a 5th: closed without an answer
        try:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _response(extra) == b""
        except ConnectionResetError:
            pass  # closed while the request was on its way
    for sock in held:  # the open ones are still served
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _one_response(sock).startswith(b"HTTP/1.1 200")
    held.pop().close()

    def served() -> bool:
        with _connect(server) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return _response(sock).startswith(b"HTTP/1.1 200")

    wait_until(served, "a new connection served once another closed")
    for sock in held:
        sock.close()
