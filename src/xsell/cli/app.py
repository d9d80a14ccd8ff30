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


def parse_param(text: str, annotation: Any = None) -> Any:
    """A ``--param`` value for a parameter annotated ``annotation`` (a type or its text).

    Whole numbers become ints and decimals floats (text for a ``str`` parameter),
    ``true``/``false`` booleans, and ``none`` becomes ``None`` only for a parameter
    that takes ``None`` (item-kNN's ``weighting=none`` stays the text ``"none"``);
    lists, tuples and quoted strings are read as Python literals; anything else
    stays text.
    """
    import ast

    kind = "" if annotation is None else str(annotation)
    value = text.strip()
    lowered = value.lower()
    takes_none = not kind or "None" in kind or "Optional" in kind
    only_text = bool(kind) and all(
        part.strip() in ("str", "None", "Path") or part.strip().startswith("Literal")
        for part in kind.replace("Optional[", "").replace("]", "").split("|")
    )
    if lowered in ("none", "null"):
        return None if takes_none else value
    if only_text:
        return value
    if lowered in ("true", "false") and (not kind or "bool" in kind):
        return lowered == "true"
    try:
        number = int(value)
    except ValueError:
        pass
    else:
        return float(number) if "float" in kind and "int" not in kind else number
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def model_param(model: str, name: str, text: str) -> Any:
    """``--param name=text`` for ``model``, parsed by the parameter's own annotation."""
    import inspect

    from xsell.models import REGISTRY, model_class

    annotation = None
    if model in REGISTRY:
        parameter = inspect.signature(model_class(model)).parameters.get(name)
        if parameter is not None and parameter.annotation is not inspect.Parameter.empty:
            annotation = parameter.annotation
    return parse_param(text, annotation)


def print_json(payload: Any) -> None:
    """Write JSON to stdout (no Rich markup, so it pipes cleanly)."""
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
