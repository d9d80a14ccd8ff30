"""The model being served, swapped atomically, and kept up to date from the events log.

Request handlers read :attr:`ModelState.current` once, at their start, and use
that object to the end. A served model is never changed once it is current:
learning from new events (:func:`advance`) and reloading (:func:`load_served`)
build a complete new :class:`ServedModel` aside, in a worker thread, on a
shallow copy of the model (``Recommender.update`` assigns new arrays and never
changes shared ones in place), and the event loop then replaces the reference
in one assignment. Readers therefore always see one consistent model, and
events are learned off the request path.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from xsell.errors import InputFileError
from xsell.models import BusinessRules, Query, Recommender, load_model, read_bundle_meta
from xsell.serving.bundles import BundleFinder
from xsell.serving.events import EventLog, LoggedEvent

log = logging.getLogger("xsell.serving.state")

#: Events applied to a model in one ``update`` call during replay.
REPLAY_CHUNK = 5000


@dataclass
class ServedModel:
    """One loaded bundle plus what live events have taught it (replaced, never changed)."""

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
    #: seconds the first answer and the first live update took at load (compiling, caches)
    warm_up_s: float = 0.0
    #: page item -> log offset of the last event that touched it (part of cache keys)
    touched: dict[str, int] = field(default_factory=dict)

    def _learn(self, events: Sequence[tuple[LoggedEvent, int]]) -> set[str]:
        """Learn ``events`` in place: only for a copy nobody reads yet (see :func:`advance`)."""
        touched: set[str] = set()
        baskets: list[list[str]] = []
        users: list[str | None] = []
        for event, end in events:
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
    """Load a bundle, warm it up and replay the events log into it (blocking; off the loop)."""
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
        warm_up_s=warm_up(model),
    )
    if events is not None:
        _catch_up(served, events, chunk=REPLAY_CHUNK)
    return served


def warm_up(model: Recommender) -> float:
    """Answer once and learn one order on a throw-away copy; returns the seconds it took.

    The first answer and the first ``update`` of a process compile code (numba) and
    fill caches: 0.5-1.5 s that would otherwise delay the first live order.
    """
    started = time.perf_counter()
    table = model.require_fitted()
    order = np.argsort(-table.popularity, kind="stable")[:2]
    ids = [str(table.ids.ids[i]) for i in order]
    try:
        model.answer([Query(tuple(ids[:1]))], 10, BusinessRules())
        copy.copy(model).update([ids])
    except Exception:  # a model that cannot learn live still serves; the log says why
        log.exception("warming up the %s model failed", model.name)
    return time.perf_counter() - started


def advance(
    served: ServedModel, events: EventLog, chunk: int = REPLAY_CHUNK
) -> tuple[ServedModel, set[str]] | None:
    """``served`` with every event after its offset learned, or ``None`` when there is none.

    Copy-on-write: the new :class:`ServedModel` holds a shallow copy of the model
    (updated through its public ``update``) and its own ``touched`` map; ``served``
    is left exactly as it was, so requests can go on reading it meanwhile.
    """
    batch, end = events.read_from(served.applied_offset)
    if end == served.applied_offset:
        return None
    # One batch, up to the end of the log as it is now: while orders keep coming, a
    # loop "until nothing is new" would never swap anything in.
    fresh = replace(served, model=copy.copy(served.model), touched=dict(served.touched))
    touched: set[str] = set()
    for start in range(0, len(batch), chunk):
        touched |= fresh._learn(batch[start : start + chunk])
    fresh.applied_offset = max(fresh.applied_offset, end)
    return fresh, touched


def _catch_up(served: ServedModel, events: EventLog, chunk: int = REPLAY_CHUNK) -> set[str]:
    """Learn, in place, the events after ``served.applied_offset`` up to the log's end as
    it is now (a model nobody reads yet; later events are the applier's)."""
    touched: set[str] = set()
    target = events.size()
    while served.applied_offset < target:
        batch, end = events.read_from(served.applied_offset)
        for start in range(0, len(batch), chunk):
            touched |= served._learn(batch[start : start + chunk])
        if end == served.applied_offset:
            break  # only a partial line is left (being written)
        served.applied_offset = max(served.applied_offset, end)
    return touched


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

    def swap(self, served: ServedModel) -> ServedModel | None:
        """Make ``served`` current (on the event loop); returns the model it replaces."""
        old, self._current = self._current, served
        return old

    # ---------------------------------------------------------- cross-worker reloads
    #
    # The control file holds the bundle every worker serves ("bundle", "token") and,
    # while a reload is under way, the one coming ("next"). Every worker starts
    # loading "next" as soon as it sees it, in parallel with the worker that was
    # asked, and swaps it in when the asked worker commits it (or drops it when
    # the reload fails): the others follow within a poll, not a poll plus a load.

    def _read_control(self) -> dict[str, Any]:
        try:
            payload = orjson.loads(self.control.read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return {}
        return payload if isinstance(payload, dict) else {}

    def _write_control(self, payload: dict[str, Any]) -> None:
        tmp = self.control.with_name(f".{self.control.name}.{os.getpid()}.tmp")
        tmp.write_bytes(orjson.dumps(payload))
        os.replace(tmp, self.control)

    def prepare(self, bundle: Path) -> str:
        """Tell every worker a reload of ``bundle`` is coming; returns its token."""
        token = os.urandom(8).hex()
        payload = self._read_control()
        payload["next"] = {"bundle": str(Path(bundle).resolve()), "token": token}
        self._write_control(payload)
        return token

    def commit(self, bundle: Path, token: str) -> None:
        """Tell every worker to serve ``bundle`` (the reload of ``token`` succeeded)."""
        self._write_control({"bundle": str(Path(bundle).resolve()), "token": token})
        self.control_token = token

    def abort(self, token: str) -> None:
        """Forget the reload of ``token`` (it failed): the workers keep what they serve."""
        payload = self._read_control()
        if payload.get("next", {}).get("token") == token:
            del payload["next"]
            self._write_control(payload)

    def announced(self) -> tuple[Path, str] | None:
        """The bundle every worker should serve, when it is news to this worker."""
        payload = self._read_control()
        token = payload.get("token")
        if token is None or str(token) == self.control_token:
            return None
        return Path(payload["bundle"]), str(token)

    def coming(self) -> tuple[Path, str] | None:
        """The bundle of a reload under way (announced by :meth:`prepare`), if any."""
        coming = self._read_control().get("next")
        if not isinstance(coming, dict) or coming.get("token") is None:
            return None
        return Path(coming["bundle"]), str(coming["token"])
