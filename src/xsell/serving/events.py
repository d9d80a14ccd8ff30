"""The durable, append-only log of live events (orders, carts, views).

An event is answered ``202`` only after its line is written *and* ``fsync``-ed, so
a crash (even ``kill -9``) after the answer cannot lose it. Several worker
processes append to one file: each append is one ``write`` under an exclusive
``flock``, and every worker reads the file from its own offset to learn what the
others accepted. Lines are JSON; a torn tail from a crash mid-write (never
acknowledged) is fenced off by a newline and skipped when read.

An event may carry an idempotency key: a post retried with the same key is
written once. The check runs under the same ``flock`` as the write, against
every key in the file (the log keeps an index of them, read up to the end
before each append), so it holds across workers; reading skips a later line
whose key came earlier, so a replay learns each keyed event once too.
"""

from __future__ import annotations

import fcntl
import logging
import os
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from xsell.errors import InputFileError

log = logging.getLogger("xsell.serving.events")


@dataclass(frozen=True)
class LoggedEvent:
    """One event as stored: id, type, items, customer, client time, receive time, key."""

    id: str
    type: str
    items: tuple[str, ...]
    customer: str | None
    time: str | None
    received: float
    #: idempotency key given by the client (``None``: none)
    key: str | None = None
    #: a guest's session id (experiments assign it when there is no customer)
    session: str | None = None
    #: the answer an event follows up, or that a ``recommendation`` event records
    recommendation_id: str | None = None
    #: experiment and arm of a ``recommendation`` (``experiment``: its arms as ``items``)
    experiment: str | None = None
    arm: str | None = None
    #: prices going with ``items`` (suggested prices, or an order's own)
    prices: tuple[float | None, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "items": list(self.items),
            "customer": self.customer,
            "time": self.time,
            "received": self.received,
        }
        if self.key is not None:
            out["key"] = self.key
        for name in ("session", "recommendation_id", "experiment", "arm"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.prices:
            out["prices"] = list(self.prices)
        return out

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> LoggedEvent:
        return cls(
            id=str(value["id"]),
            type=str(value["type"]),
            items=tuple(str(i) for i in value["items"]),
            customer=None if value.get("customer") is None else str(value["customer"]),
            time=value.get("time"),
            received=float(value.get("received", 0.0)),
            key=None if value.get("key") is None else str(value["key"]),
            session=_text(value.get("session")),
            recommendation_id=_text(value.get("recommendation_id")),
            experiment=_text(value.get("experiment")),
            arm=_text(value.get("arm")),
            prices=tuple(None if p is None else float(p) for p in value.get("prices") or ()),
        )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


#: Ids come from a generator seeded from the OS once per process (and again in a forked
#: child): ``uuid4`` reads the OS for every id, a system call per answer served.
_ids = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(32)))


def new_event_id() -> str:
    """A fresh event id (random, 32 hex digits)."""
    return f"{_ids.getrandbits(128):032x}"


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
        #: idempotency key -> (id of its event, offset where its first line ends)
        self._keys: dict[str, tuple[str, int]] = {}
        self._indexed = 0  # bytes of the file whose keys are in ``_keys``
        self._index_lock = threading.Lock()  # the appender and the applier run in threads

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def append(self, events: Sequence[LoggedEvent]) -> tuple[list[str], int]:
        """Write ``events`` durably (write + fsync), each key once.

        Returns the id of every event (for a key seen before, the id it was first
        logged under) and how many were new.
        """
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            size = os.fstat(self._fd).st_size
            with self._index_lock:
                self._index_to(size)
                ids: list[str] = []
                new: list[LoggedEvent] = []
                batch: dict[str, str] = {}
                for event in events:
                    known = self._keys.get(event.key) if event.key is not None else None
                    if known is not None:
                        ids.append(known[0])
                    elif event.key is not None and event.key in batch:
                        ids.append(batch[event.key])
                    else:
                        ids.append(event.id)
                        new.append(event)
                        if event.key is not None:
                            batch[event.key] = event.id
            if not new:
                return ids, 0
            data = b"".join(orjson.dumps(e.to_json()) + b"\n" for e in new)
            if size and os.pread(self._fd, 1, size - 1) != b"\n":
                # A writer died mid-line (never acknowledged): fence it off.
                data = b"\n" + data
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            os.fsync(self._fd)
            return ids, len(new)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def _lines(self, offset: int, size: int) -> tuple[list[tuple[bytes, int]], int]:
        """Complete lines of ``[offset, size)`` with the offset where each ends; the end."""
        if size <= offset:
            return [], offset
        chunk = os.pread(self._fd, size - offset, offset)
        end = chunk.rfind(b"\n")
        if end < 0:
            return [], offset
        lines: list[tuple[bytes, int]] = []
        position = offset
        for line in chunk[: end + 1].split(b"\n")[:-1]:
            position += len(line) + 1
            if line.strip():
                lines.append((line, position))
        return lines, offset + end + 1

    def _index_to(self, size: int) -> None:
        """Read the keys of the lines up to ``size`` into the index (caller holds the lock)."""
        if size <= self._indexed:
            return
        lines, self._indexed = self._lines(self._indexed, size)
        for line, position in lines:
            if b'"key"' not in line:
                continue
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            key = value.get("key") if isinstance(value, dict) else None
            if key is not None:
                self._keys.setdefault(str(key), (str(value.get("id")), position))

    def read_from(self, offset: int) -> tuple[list[tuple[LoggedEvent, int]], int]:
        """Complete events after byte ``offset``, each with the offset where it ends.

        Returns the events and the offset just after the last complete line; a
        partial last line (being written right now) is left for the next read. A
        line whose idempotency key appeared on an earlier line is skipped.
        """
        lines, end = self._lines(offset, self.size())
        if not lines:
            return [], end
        with self._index_lock:
            self._index_to(end)
            keys = self._keys
            events: list[tuple[LoggedEvent, int]] = []
            for line, position in lines:
                try:
                    event = LoggedEvent.from_json(orjson.loads(line))
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                    self.corrupt_lines += 1
                    log.warning("%s: skipped a torn line ending at byte %d", self.path, position)
                    continue
                if event.key is not None and keys.get(event.key, ("", position))[1] != position:
                    continue  # a repeat of a keyed event written before
                events.append((event, position))
        return events, end

    def read_all(self) -> list[LoggedEvent]:
        """Every complete event in the log, oldest first (keyed repeats once)."""
        return [event for event, _ in self.read_from(0)[0]]
