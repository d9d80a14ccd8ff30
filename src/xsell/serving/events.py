"""The durable, append-only log of live events (orders, add-to-cart, views).

An event is answered ``202`` only after its line is written *and* ``fsync``-ed, so
a crash (even ``kill -9``) after the answer cannot lose it. Several worker
processes append to one file: each append is one ``write`` under an exclusive
``flock``, and every worker reads the file from its own offset to learn what the
others accepted. Lines are JSON; a torn tail from a crash mid-write (never
acknowledged) is fenced off by a newline and skipped when read.
"""

from __future__ import annotations

import fcntl
import logging
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from xsell.errors import InputFileError

log = logging.getLogger("xsell.serving.events")


@dataclass(frozen=True)
class LoggedEvent:
    """One event as stored: id, type, items, customer, client time, receive time."""

    id: str
    type: str
    items: tuple[str, ...]
    customer: str | None
    time: str | None
    received: float

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "items": list(self.items),
            "customer": self.customer,
            "time": self.time,
            "received": self.received,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> LoggedEvent:
        return cls(
            id=str(value["id"]),
            type=str(value["type"]),
            items=tuple(str(i) for i in value["items"]),
            customer=None if value.get("customer") is None else str(value["customer"]),
            time=value.get("time"),
            received=float(value.get("received", 0.0)),
        )


def new_event_id() -> str:
    """A fresh event id (random, 32 hex digits)."""
    return uuid.uuid4().hex


class EventLog:
    """Append-only JSON-lines file, safe for several writer processes.

    Parameters
    ----------
    path:
        The log file; created (with its folder) when missing.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise InputFileError(f"{self.path}: cannot open the events log: {exc}") from exc
        self.corrupt_lines = 0

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def append(self, events: Sequence[LoggedEvent]) -> int:
        """Write ``events`` durably (write + fsync); returns the file size after them."""
        data = b"".join(orjson.dumps(e.to_json()) + b"\n" for e in events)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            size = os.fstat(self._fd).st_size
            if size and os.pread(self._fd, 1, size - 1) != b"\n":
                # A writer died mid-line (never acknowledged): fence it off.
                data = b"\n" + data
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            os.fsync(self._fd)
            return os.fstat(self._fd).st_size
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def read_from(self, offset: int) -> tuple[list[tuple[LoggedEvent, int]], int]:
        """Complete events after byte ``offset``, each with the offset where it ends.

        Returns the events and the offset just after the last complete line; a
        partial last line (being written right now) is left for the next read.
        """
        size = self.size()
        if size <= offset:
            return [], offset
        chunk = os.pread(self._fd, size - offset, offset)
        end = chunk.rfind(b"\n")
        if end < 0:
            return [], offset
        events: list[tuple[LoggedEvent, int]] = []
        position = offset
        for line in chunk[: end + 1].split(b"\n")[:-1]:
            position += len(line) + 1
            if not line.strip():
                continue
            try:
                events.append((LoggedEvent.from_json(orjson.loads(line)), position))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                self.corrupt_lines += 1
                log.warning("%s: skipped a torn line ending at byte %d", self.path, position)
        return events, offset + end + 1

    def read_all(self) -> list[LoggedEvent]:
        """Every complete event in the log, oldest first."""
        return [event for event, _ in self.read_from(0)[0]]
