"""Online experiments: sticky arm assignment and attribution of orders to arms.

A *unit* is who is assigned: the customer id, or a session id for guests. Its arm
is a pure function of a hash of the experiment name and the unit, so every
worker, restart and replay assigns it the same arm without shared state.

Attribution reads the events of an experiment in time order: a ``recommendation``
(logged by the server for every answer: unit, arm, suggested items and their
prices), then the client's ``impression``, ``click``, ``cart`` and ``order``
events. An order line is attributed to the unit's arm when its item was
suggested to that unit within ``window_s`` seconds before the order.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from xsell.errors import ValidationError

#: Default attribution window: a suggestion counts for orders within 24 hours.
DEFAULT_WINDOW_S = 24 * 3600.0


@dataclass(frozen=True)
class Arm:
    """One arm of an experiment: its name, the bundle it serves and its share of traffic."""

    name: str
    bundle: str
    weight: float


def parse_arm(text: str) -> Arm:
    """An arm from its command-line form ``NAME=BUNDLE:WEIGHT`` (weight default 1).

    Raises
    ------
    ValidationError
        When the text is not of that form or the weight is not a positive number.
    """
    name, sep, rest = text.partition("=")
    if not sep or not name or not rest:
        raise ValidationError(f"arm {text!r}: expected NAME=BUNDLE:WEIGHT, e.g. a=models/cooc:50")
    bundle, colon, weight_text = rest.rpartition(":")
    if not colon:
        bundle, weight_text = rest, "1"
    try:
        weight = float(weight_text)
    except ValueError:
        raise ValidationError(
            f"arm {text!r}: weight {weight_text!r} is not a number (expected NAME=BUNDLE:WEIGHT)"
        ) from None
    if not weight > 0 or not np.isfinite(weight):
        raise ValidationError(f"arm {text!r}: weight must be a positive number, got {weight_text}")
    return Arm(name, bundle, weight)


def check_arms(arms: Sequence[Arm]) -> None:
    """Raise a :class:`ValidationError` unless there are two or more arms with distinct names."""
    if len(arms) < 2:
        raise ValidationError(f"an experiment needs at least 2 arms, got {len(arms)}")
    names = [a.name for a in arms]
    if len(set(names)) != len(names):
        raise ValidationError(f"arm names must be distinct, got {names}")


def unit_fraction(experiment: str, unit: str) -> float:
    """Where ``unit`` falls in [0, 1) for ``experiment`` (first 8 bytes of a SHA-256)."""
    digest = hashlib.sha256(f"{experiment}\x00{unit}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def assign(experiment: str, unit: str, arms: Sequence[Arm]) -> str:
    """The arm of ``unit``: sticky (the same for every call) and split by the arms' weights."""
    total = sum(a.weight for a in arms)
    point = unit_fraction(experiment, unit) * total
    edge = 0.0
    for arm in arms:
        edge += arm.weight
        if point < edge:
            return arm.name
    return arms[-1].name


@dataclass(frozen=True)
class ExperimentEvent:
    """One event of an experiment as attribution reads it.

    ``type`` is ``recommendation`` (written by the server), ``impression``,
    ``click``, ``cart`` or ``order``; ``time`` is in seconds; ``prices`` go with
    ``items`` where known (recommendations carry the suggested items' prices).
    """

    type: str
    unit: str
    time: float
    items: tuple[str, ...] = ()
    arm: str | None = None
    recommendation_id: str | None = None
    prices: tuple[float | None, ...] = ()


#: The per-unit counts attribution produces, one array each (``UnitTable`` columns).
COUNTS = ("impressions", "clicks", "carts", "orders", "attached_orders", "revenue")


@dataclass
class UnitTable:
    """Per unit of an experiment: its arm and what it did (arrays aligned with ``units``)."""

    units: list[str]
    arms: list[str]
    counts: dict[str, np.ndarray] = field(default_factory=dict)

    def arm_rows(self, arm: str) -> np.ndarray:
        return np.array([a == arm for a in self.arms], dtype=bool)


def attribute(events: Iterable[ExperimentEvent], window_s: float = DEFAULT_WINDOW_S) -> UnitTable:
    """Attribute the events of one experiment to units and arms.

    A unit enters the experiment with its first ``recommendation``; events of
    units never recommended to are ignored. ``clicks`` and ``carts`` count events
    on items suggested to the unit within the window; an order is *attached* when
    one of its lines was, and ``revenue`` sums the prices of those lines (the
    order's own price when given, else the price the suggestion showed).
    """
    # at equal times a suggestion comes before what the unit did with it
    ordered = sorted(events, key=lambda e: (e.time, e.type != "recommendation"))
    arm_of: dict[str, str] = {}
    #: unit -> item -> times it was suggested, and the price shown
    shown: dict[str, dict[str, list[float]]] = {}
    price_of: dict[str, dict[str, float | None]] = {}
    rows: dict[str, dict[str, float]] = {}
    for event in ordered:
        if event.type == "recommendation":
            if event.unit not in arm_of:
                arm_of[event.unit] = event.arm or ""
                rows[event.unit] = dict.fromkeys(COUNTS, 0.0)
            times = shown.setdefault(event.unit, {})
            prices = price_of.setdefault(event.unit, {})
            for n, item in enumerate(event.items):
                times.setdefault(item, []).append(event.time)
                prices[item] = event.prices[n] if n < len(event.prices) else None
            continue
        row = rows.get(event.unit)
        if row is None:
            continue
        if event.type == "impression":
            row["impressions"] += 1
            continue
        times = shown.get(event.unit, {})

        def suggested(item: str, at: float, times: dict[str, list[float]] = times) -> bool:
            seen = times.get(item)
            if not seen:
                return False
            # the latest suggestion at or before ``at``
            i = bisect.bisect_right(seen, at) - 1
            return i >= 0 and at - seen[i] <= window_s

        hits = [n for n, item in enumerate(event.items) if suggested(item, event.time)]
        if event.type == "click":
            row["clicks"] += len(hits)
        elif event.type == "cart":
            row["carts"] += len(hits)
        elif event.type == "order":
            row["orders"] += 1
            if hits:
                row["attached_orders"] += 1
            for n in hits:
                price = event.prices[n] if n < len(event.prices) else None
                if price is None:
                    price = price_of.get(event.unit, {}).get(event.items[n])
                row["revenue"] += float(price or 0.0)
    units = sorted(rows)
    table = UnitTable(units, [arm_of[u] for u in units])
    for name in COUNTS:
        table.counts[name] = np.array([rows[u][name] for u in units], dtype=float)
    return table
