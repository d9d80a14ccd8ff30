"""The one family of errors xsell raises for things a user can fix.

Every message names what was wrong (parameter, file, row, column, value) and what
was expected, so the CLI can print it as one line and exit with code 2.
"""

from __future__ import annotations


class XsellError(Exception):
    """Base of every error caused by user input or configuration."""


class InputFileError(XsellError):
    """A file is missing, unreadable, empty or of an unknown format."""


class SchemaError(XsellError):
    """A required column is missing or has values of the wrong type."""


class ValidationError(XsellError):
    """A parameter value is outside what is allowed."""


class StoreError(XsellError):
    """The store file is missing, locked or not an xsell store."""


class NotFittedError(XsellError):
    """A model was used before ``fit`` was called."""


class MissingExtraError(XsellError):
    """An optional dependency is not installed."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"this feature needs the Python package {module!r}, which is not installed; "
            f"run: pip install 'xsell[{extra}]'"
        )
        self.module = module
        self.extra = extra


class MemoryBudgetError(XsellError):
    """A computation would exceed the configured memory budget."""


def require(module: str, extra: str) -> object:
    """Import an optional module or raise a :class:`MissingExtraError` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(module, extra) from exc
