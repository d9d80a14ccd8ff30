"""The model being served, swapped atomically, and kept up to date from the events log.

Request handlers read :attr:`ModelState.current` once, at their start, and use
that object to the end: a reload builds a complete new :class:`ServedModel` aside
(in a worker thread) and replaces the reference in one assignment, so requests
in flight finish on the old model and later ones see the new one. Handlers and
event application run on the event loop, one at a time, so a model is never
read while an update changes it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from xsell.errors import InputFileError
from xsell.models import Recommender, load_model, read_bundle_meta
from xsell.serving.bundles import BundleFinder
from xsell.serving.events import EventLog, LoggedEvent

log = logging.getLogger("xsell.serving.state")

#: Events applied to a model in one ``update`` call during replay.
REPLAY_CHUNK = 5000


@dataclass
class ServedModel:
    """One loaded bundle plus what live events have taught it."""

    model: Recommender
    meta: dict[str, Any]
    bundle: Path
    version: str
    loaded_at: float
    bundles: BundleFinder
    live_updates: bool = True
    events_applied: int = 0
    orders_learned: int = 0
    applied_offset: int = 0
    #: page item -> log offset of the last event that touched it (part of cache keys)
    touched: dict[str, int] = field(default_factory=dict)

    def apply(self, events: Sequence[tuple[LoggedEvent, int]]) -> set[str]:
        """Learn from ``events`` (orders feed ``model.update``); returns the items touched."""
        touched: set[str] = set()
        baskets: list[list[str]] = []
        users: list[str | None] = []
        for event, end in events:
            self.applied_offset = max(self.applied_offset, end)
            self.events_applied += 1
            if event.type != "order":
                continue
            baskets.append(list(event.items))
            users.append(event.customer)
            for item in event.items:
                self.touched[item] = end
                touched.add(item)
        if baskets and self.live_updates:
            self.model.update(baskets, users)
            self.orders_learned += len(baskets)
        if events:
            self.applied_offset = max(self.applied_offset, events[-1][1])
        return touched


def bundle_version(bundle: Path) -> str:
    """A short id of a bundle's content and place, the same in every worker."""
    digest = hashlib.sha1(str(bundle.resolve()).encode())
    digest.update((bundle / "model.json").read_bytes())
    return digest.hexdigest()[:12]


def load_served(bundle: Path, events: EventLog | None, rules_store: Path | None) -> ServedModel:
    """Load a bundle and replay the events log into it (blocking; run it off the loop)."""
    bundle = Path(bundle)
    meta = read_bundle_meta(bundle)
    model = load_model(bundle)
    model.require_fitted()
    served = ServedModel(
        model=model,
        meta=meta,
        bundle=bundle,
        version=bundle_version(bundle),
        loaded_at=time.time(),
        bundles=BundleFinder.for_bundle(bundle, rules_store),
    )
    if events is not None:
        catch_up(served, events, chunk=REPLAY_CHUNK)
    return served


def catch_up(served: ServedModel, events: EventLog, chunk: int = REPLAY_CHUNK) -> set[str]:
    """Apply every event after ``served.applied_offset``; returns the items touched."""
    touched: set[str] = set()
    while True:
        batch, end = events.read_from(served.applied_offset)
        if not batch:
            served.applied_offset = max(served.applied_offset, end)
            return touched
        for start in range(0, len(batch), chunk):
            touched |= served.apply(batch[start : start + chunk])


class ModelState:
    """Holder of the current :class:`ServedModel`; see the module docstring."""

    def __init__(self, events: EventLog, control: Path, rules_store: Path | None) -> None:
        self.events = events
        self.control = control
        self.rules_store = rules_store
        self._current: ServedModel | None = None
        self.reloads = 0
        self.control_token: str | None = None

    @property
    def current(self) -> ServedModel:
        served = self._current
        if served is None:
            raise InputFileError("no model is loaded yet")
        return served

    @property
    def ready(self) -> bool:
        return self._current is not None

    def load(self, bundle: Path) -> ServedModel:
        """Build a new served model from ``bundle`` (blocking)."""
        return load_served(bundle, self.events, self.rules_store)

    def swap(self, served: ServedModel) -> tuple[ServedModel | None, set[str]]:
        """Make ``served`` current after applying events that arrived while it loaded."""
        touched = catch_up(served, self.events)
        old, self._current = self._current, served
        if old is not None:
            self.reloads += 1
        return old, touched

    def sync(self) -> set[str]:
        """Apply events other workers (or this one) wrote since the last sync."""
        if self._current is None:
            return set()
        return catch_up(self._current, self.events)

    # ---------------------------------------------------------- cross-worker reloads

    def announce(self, bundle: Path) -> str:
        """Tell every worker to serve ``bundle`` (atomic write of the control file)."""
        token = os.urandom(8).hex()
        payload = orjson.dumps({"bundle": str(Path(bundle).resolve()), "token": token})
        tmp = self.control.with_name(f".{self.control.name}.{os.getpid()}.tmp")
        tmp.write_bytes(payload)
        os.replace(tmp, self.control)
        self.control_token = token
        return token

    def announced(self) -> tuple[Path, str] | None:
        """The bundle another worker asked for, when it is news to this worker."""
        try:
            payload = orjson.loads(self.control.read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return None
        token = str(payload.get("token"))
        if token == self.control_token:
            return None
        return Path(payload["bundle"]), token

    def read_control_token(self) -> None:
        """Remember the control file's current token (at start: old news)."""
        try:
            self.control_token = str(orjson.loads(self.control.read_bytes()).get("token"))
        except (FileNotFoundError, orjson.JSONDecodeError):
            self.control_token = None
