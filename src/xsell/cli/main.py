"""Entry point of the ``xsell`` command: loads only the command it runs, maps errors to exit 2.

Start-up stays quick because nothing heavy is imported before a command runs:
the command named on the line is looked up in :data:`COMMANDS` and only its
module is imported (it registers itself on ``app``). The other commands are
listed with their one-line help, so ``xsell --help`` and "did you mean" work
without importing any of them.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Final, NoReturn

from xsell.errors import XsellError

#: Options given before the command name (``xsell --quiet rules ...``).
GLOBAL_FLAGS: Final = frozenset({"--quiet", "-q", "--debug", "--version", "--help"})

#: Command name -> (module under xsell.cli, one-line help shown by ``xsell --help``).
COMMANDS: Final = {
    "ingest": (
        "commands_data",
        "Read order lines (and catalog, customers, events) into the store; report the cleaning.",
    ),
    "stats": (
        "commands_data",
        "Lines, baskets, customers, items, date range, basket sizes and best sellers of the store.",
    ),
    "rejects": (
        "commands_data",
        "Rejected rows with their reason, source file and line (or key), and their raw values.",
    ),
    "rules": (
        "commands_rules",
        "Mine frequent itemsets and association rules, with names, metrics and significance.",
    ),
    "train": ("commands_models", "Fit MODEL on the orders of the store and save it as a bundle."),
    "recommend": (
        "commands_models",
        "Suggestions from a saved model for a cart, a customer or one item, under business rules.",
    ),
    "evaluate": (
        "commands_evaluate",
        "Fit models on the training side of a split and rank them on held-out baskets.",
    ),
    "tune": (
        "commands_evaluate",
        "Tune a model with Optuna on a validation split carved from the training data only.",
    ),
    "propensity": (
        "commands_propensity",
        "Rank customers by how likely they buy the target soon, after a time-based backtest.",
    ),
    "margin-sweep": (
        "commands_margin",
        "Rank held-out baskets at several margin sensitivities: margin@k against recall@k.",
    ),
    "segments": (
        "commands_analytics",
        "Segment customers (RFM or KMeans), store the labels, and profile each segment.",
    ),
    "baskets": (
        "commands_analytics",
        "Basket sizes and the item pairs bought together most above chance.",
    ),
    "bundles": (
        "commands_bundles",
        "Bundle candidates with the discount that earns the most extra margin above a floor.",
    ),
    "report": (
        "commands_analytics",
        "Write one report of segments, baskets, sales, paths, bundles, rules and the leaderboard.",
    ),
    "demo": (
        "commands_demo",
        "Ingest, inspect, mine rules, compare models, suggest and report, end to end.",
    ),
    "serve": (
        "commands_serve",
        "Serve recommendations over HTTP (OpenAPI docs at /docs, dashboard at /dashboard).",
    ),
    "experiment": (
        "commands_experiment",
        "Online A/B experiments run by `xsell serve --experiment`.",
    ),
    "simulate": (
        "commands_simulate",
        "Replay synthetic-shop customers who click and buy by the shop's planted complements.",
    ),
    "forget": (
        "commands_privacy",
        "Remove every trace of the customers from the store; list bundles trained on their data.",
    ),
    "export": (
        "commands_export",
        "Batch answers for every item or customer, to CSV, Parquet or JSON lines.",
    ),
    "spark": (
        "commands_spark",
        "Ingest, co-occurrence, rules, exports and ALS on Apache Spark (local or a cluster).",
    ),
}


#: How each command spells a mining parameter, for the advice of a budget stop.
_RULES_OPTIONS: Final = {
    "min_support": "--min-support",
    "min_count": "--min-count",
    "max_len": "--max-len",
    "memory_budget": "--memory-budget",
    "max_basket_size": "--max-basket-size",
}
#: Commands that set the rules model's parameters with --param (evaluate and tune name
#: the model first).
_PARAM_PREFIX: Final = {"train": "", "evaluate": "rules.", "tune": "rules."}


def budget_advice(exc: XsellError, command: str | None) -> str:
    """A budget stop's advice in the options of ``command`` (Python names elsewhere)."""
    from xsell.mining.budget import BudgetStop

    if not isinstance(exc, BudgetStop):
        return str(exc)
    if command == "rules":
        return exc.for_options(_RULES_OPTIONS)
    if command in _PARAM_PREFIX:
        prefix = _PARAM_PREFIX[command]

        def spell(name: str, value: str | None) -> str:
            return f"--param {prefix}{name}" + ("" if value is None else f"={value}")

        return exc.advice(spell)
    return str(exc)


def command_name(argv: list[str]) -> str | None:
    """The command a command line runs: its first word after the global options."""
    for word in argv:
        if word == "--":
            return None
        if word.startswith("-"):
            if word in GLOBAL_FLAGS:
                continue
            return None  # an unknown global option: let the parser say so
        return word
    return None


def load_commands(name: str | None) -> None:
    """Import the module of command ``name`` (if it is one); list the others by name and help."""
    from xsell.cli.app import app

    wanted = COMMANDS.get(name) if name is not None else None
    if wanted is not None:
        importlib.import_module(f"xsell.cli.{wanted[0]}")
    elif name is not None:
        # Not in the table (a typo, or a command added without an entry): load them all,
        # so a new command still runs and a typo still gets "did you mean".
        import_all_commands()
    registered = {
        info.name or (info.callback.__name__ if info.callback else "")
        for info in app.registered_commands
    } | {group.name for group in app.registered_groups if group.name}
    for command, (_, help_text) in COMMANDS.items():
        if command not in registered:
            _placeholder(command, help_text)


def import_all_commands() -> None:
    """Import every ``commands_*`` module of :mod:`xsell.cli` (each registers its commands)."""
    import pkgutil

    import xsell.cli

    for module in pkgutil.iter_modules(xsell.cli.__path__):
        if module.name.startswith("commands_"):
            importlib.import_module(f"xsell.cli.{module.name}")


def _placeholder(name: str, help_text: str) -> None:
    from xsell.cli.app import app

    # Listed in `xsell --help` and in "did you mean"; never run (its module is loaded instead).
    @app.command(
        name=name,
        help=help_text,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
    def _unloaded() -> None:  # pragma: no cover - run() imports the real command first
        raise XsellError(f"command {name!r} did not load")


def _usage_error_types() -> tuple[type[BaseException], ...]:
    # typer >= 0.29 raises its own vendored click's exceptions; older ones raise click's.
    found: list[type[BaseException]] = []
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            found.append(importlib.import_module(module).ClickException)
        except ImportError:
            continue
    return tuple(found)


def _abort_types() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = []
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            found.append(importlib.import_module(module).Abort)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def _fail(message: str, code: int = 2) -> NoReturn:
    from xsell.cli.app import err_console

    err_console.print(
        f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True, markup=True
    )
    sys.exit(code)


def _usage_message(exc: Any) -> str:
    """One line for a usage error: what was wrong, and where to read the usage."""
    text = " ".join(str(exc.format_message()).split())
    ctx = getattr(exc, "ctx", None)
    where = ctx.command_path if ctx is not None else "xsell"
    return f"{text} (see '{where} --help')"


def run(argv: list[str] | None = None) -> None:
    """Run the CLI; a user error prints one line and exits with code 2."""
    args = sys.argv[1:] if argv is None else argv
    name = command_name(args)
    if name is None and "--version" in args and "--help" not in args:
        # Answered before Typer and Rich are even imported.
        from xsell import __version__

        sys.stdout.write(f"xsell {__version__}\n")
        return
    load_commands(name)
    from xsell.cli.app import app, settings

    usage_errors = _usage_error_types()
    aborts = _abort_types()
    try:
        code = app(args=args, prog_name="xsell", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except XsellError as exc:
        if settings.debug:
            raise
        _fail(budget_advice(exc, name))
    except KeyboardInterrupt:
        from xsell.cli.app import err_console

        err_console.print("interrupted")
        sys.exit(130)
    except SystemExit:
        raise
    except usage_errors as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()  # type: ignore[attr-defined]
            sys.exit(0)
        _fail(_usage_message(exc), int(getattr(exc, "exit_code", 2)) or 2)
    except aborts:
        sys.exit(1)
    except OSError as exc:
        if settings.debug:
            raise
        # A file that cannot be read or written: name it, say why, no traceback.
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        _fail(f"{where}{exc.strerror or exc}")


def __getattr__(name: str) -> Any:
    # ``from xsell.cli.main import app`` (tests, embedding): the app with every command.
    if name == "app":
        import_all_commands()
        from xsell.cli.app import app

        return app
    raise AttributeError(f"module 'xsell.cli.main' has no attribute {name!r}")


if __name__ == "__main__":
    run()
