"""An experiment's events in the durable events log, and its report.

The server writes one ``experiment`` event when it starts one (its arms as
``NAME=BUNDLE:WEIGHT`` in ``items``) and one ``recommendation`` event per answer
of an assigned unit; clients post ``impression``, ``click``, ``cart`` and
``order`` events. Times are the server's receive times.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from xsell.errors import InputFileError, ValidationError
from xsell.evaluation.experiment import (
    DEFAULT_WINDOW_S,
    Arm,
    ExperimentEvent,
    attribute,
    parse_arm,
)
from xsell.evaluation.uplift import summarize
from xsell.serving.events import EventLog, LoggedEvent

#: Types of client events that attribution reads.
FOLLOW_UPS = ("impression", "click", "cart", "order")


def arm_spec(arm: Arm) -> str:
    """An arm as ``NAME=BUNDLE:WEIGHT`` (what :func:`parse_arm` reads back)."""
    return f"{arm.name}={arm.bundle}:{arm.weight:g}"


def start_event(event_id: str, name: str, arms: Iterable[Arm], now: float) -> LoggedEvent:
    """The event that records an experiment's arms when a server starts it."""
    specs = tuple(arm_spec(a) for a in arms)
    return LoggedEvent(event_id, "experiment", specs, None, None, now, experiment=name)


def experiment_events(
    events: Iterable[LoggedEvent], name: str
) -> tuple[list[Arm], list[ExperimentEvent]]:
    """The arms of experiment ``name`` (as last started) and its events, for attribution.

    Raises
    ------
    ValidationError
        When the log never started an experiment of that name.
    """
    arms: list[Arm] | None = None
    started: set[str] = set()
    out: list[ExperimentEvent] = []
    for event in events:
        unit = event.customer or event.session
        if event.type == "experiment":
            if event.experiment is not None:
                started.add(event.experiment)
            if event.experiment == name:
                arms = [parse_arm(spec) for spec in event.items]
        elif event.type == "recommendation":
            if event.experiment == name and unit is not None:
                out.append(
                    ExperimentEvent(
                        "recommendation",
                        unit,
                        event.received,
                        event.items,
                        event.arm,
                        event.recommendation_id,
                        event.prices,
                    )
                )
        elif event.type in FOLLOW_UPS and unit is not None:
            out.append(
                ExperimentEvent(
                    event.type,
                    unit,
                    event.received,
                    event.items,
                    recommendation_id=event.recommendation_id,
                    prices=event.prices,
                )
            )
    if arms is None:
        known = f"; it holds {sorted(started)}" if started else "; it holds none"
        raise ValidationError(f"the events log never started an experiment {name!r}{known}")
    return arms, out


def experiment_report(
    log: Path, name: str, window_s: float = DEFAULT_WINDOW_S, control: str | None = None
) -> dict[str, Any]:
    """The report of experiment ``name`` from the events log at ``log``."""
    if not Path(log).is_file():
        raise InputFileError(f"{log}: no events log there (xsell serve --events-log)")
    events = EventLog(log)
    try:
        arms, found = experiment_events(events.read_all(), name)
    finally:
        events.close()
    report = summarize(name, attribute(found, window_s), arms, control)
    report["window_s"] = window_s
    report["events_log"] = str(log)
    return report
