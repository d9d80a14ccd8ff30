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


#: Columns of the store's ``experiment_events`` table (one row per item of an event).
EVENT_COLUMNS = ("experiment", "type", "unit", "arm", "recommendation_id", "item_id", "price",
                 "received")  # fmt: skip


def load_into_store(log: Path, name: str, store: Path) -> int:
    """Replace experiment ``name``'s rows of the store's ``experiment_events`` table with its
    events in the log (one row per item; follow-ups of its units only); returns the rows.

    One transaction: a failure leaves the table as it was.
    """
    import pyarrow as pa

    from xsell.data.store import Store

    events = EventLog(log)
    try:
        _, found = experiment_events(events.read_all(), name)
    finally:
        events.close()
    units = {e.unit for e in found if e.type == "recommendation"}
    arm_of: dict[str, str | None] = {}
    rows: dict[str, list[Any]] = {c: [] for c in EVENT_COLUMNS}
    for event in found:
        if event.unit not in units:
            continue
        if event.type == "recommendation":
            arm_of.setdefault(event.unit, event.arm)
        for n, item in enumerate(event.items or ("",)):
            price = event.prices[n] if n < len(event.prices) else None
            values = (name, event.type, event.unit, arm_of.get(event.unit),
                      event.recommendation_id, item or None, price, event.time)  # fmt: skip
            for column, value in zip(EVENT_COLUMNS, values, strict=True):
                rows[column].append(value)
    table = pa.table(
        rows,
        schema=pa.schema(
            [(c, pa.string()) for c in EVENT_COLUMNS[:6]]
            + [("price", pa.float64()), ("received", pa.float64())]
        ),
    )
    with Store(store).transaction() as con:
        con.execute(
            "CREATE TABLE IF NOT EXISTS experiment_events (experiment VARCHAR, type VARCHAR, "
            "unit VARCHAR, arm VARCHAR, recommendation_id VARCHAR, item_id VARCHAR, "
            "price DOUBLE, received DOUBLE)"
        )
        con.execute("DELETE FROM experiment_events WHERE experiment = ?", [name])
        con.register("incoming", table)
        con.execute("INSERT INTO experiment_events SELECT * FROM incoming")
        con.unregister("incoming")
    return table.num_rows


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
