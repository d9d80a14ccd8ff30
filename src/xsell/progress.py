"""Progress reporting shared by long jobs: Rich bars on a terminal, nothing when quiet."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class Reporter(Protocol):
    """What a long job calls to say how far it is."""

    def step(self, description: str, advance: float = 1.0) -> None: ...


class SilentReporter:
    """Says nothing (``--quiet``, tests, library use)."""

    def step(self, description: str, advance: float = 1.0) -> None:
        return None


class RichReporter:
    """A Rich progress bar over a known number of steps."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress = progress
        self._task = task

    def step(self, description: str, advance: float = 1.0) -> None:
        self._progress.update(self._task, description=description, advance=advance)


@contextmanager
def progress_bar(title: str, total: float, quiet: bool = False) -> Iterator[Reporter]:
    """A reporter showing a bar of ``total`` steps on stderr, or a silent one when quiet.

    Off a terminal (a pipe, a log file, CI) the bar is silent too: Rich would draw
    nothing there yet end with a blank line on stderr.
    """
    console = Console(stderr=True)
    if quiet or not console.is_interactive:
        yield SilentReporter()
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with progress:
        task = progress.add_task(title, total=total)
        yield RichReporter(progress, task)
