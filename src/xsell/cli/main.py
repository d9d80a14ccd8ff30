"""Entry point of the ``xsell`` command: imports every command module, maps errors to exit 2."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import xsell.cli
from xsell.cli.app import app, err_console, settings
from xsell.errors import XsellError


def _register_commands() -> None:
    # Every ``commands_*`` module registers its commands on ``app`` when imported.
    for module in pkgutil.iter_modules(xsell.cli.__path__):
        if module.name.startswith("commands_"):
            importlib.import_module(f"xsell.cli.{module.name}")


_register_commands()


def run() -> None:
    """Run the CLI; a user error prints one line and exits with code 2."""
    try:
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except XsellError as exc:
        if settings.debug:
            raise
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors arrive here under standalone_mode=False
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(2)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise


if __name__ == "__main__":
    run()
