"""Entry point of the ``xsell`` command: imports every command module, maps errors to exit 2."""

from __future__ import annotations

import sys

from xsell.cli import commands_data  # noqa: F401  (registers commands)
from xsell.cli.app import app, err_console, settings
from xsell.errors import XsellError


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
