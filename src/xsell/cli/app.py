"""The Typer application object and the options every command shares.

Command modules import ``app`` from here and register themselves with
``@app.command()``; ``xsell.cli.main`` imports them all.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

app = typer.Typer(
    name="xsell",
    help="Cross-selling engine: ingest orders, mine rules, train, evaluate and serve recommenders.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DEFAULT_STORE = Path("xsell.duckdb")


@dataclass
class Settings:
    """Options given before the command name, shared by every command."""

    quiet: bool = False
    debug: bool = False


settings = Settings()
console = Console(stderr=False)
err_console = Console(stderr=True)

StoreOption = Annotated[
    Path, typer.Option("--store", "-s", help="DuckDB store file.", envvar="XSELL_STORE")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]


def _print_version(value: bool) -> None:
    if value:
        from xsell import __version__

        sys.stdout.write(f"xsell {__version__}\n")
        raise typer.Exit()


@app.callback()
def main_options(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks for user errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Cross-selling engine for e-commerce."""
    settings.quiet = quiet
    settings.debug = debug


def is_quiet(local_quiet: bool = False) -> bool:
    """Whether progress output is off (``--quiet`` before or after the command)."""
    return settings.quiet or local_quiet


def print_json(payload: Any) -> None:
    """Write JSON to stdout (no Rich markup, so it pipes cleanly)."""
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
