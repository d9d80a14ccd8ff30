"""Quoting for SQL written by xsell: identifiers and literals that hold any character.

Values a user gives (paths, ids, dates) go into statements as parameters; only
names that cannot be parameters (columns, tables) and constants built into a
statement go through these two functions.
"""

from __future__ import annotations

from typing import Any


def ident(name: str) -> str:
    """Quote an identifier (a column or table name) for DuckDB or PostgreSQL."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """Quote a string literal for DuckDB."""
    return "'" + value.replace("'", "''") + "'"


def fetch_one(result: Any) -> tuple[Any, ...] | None:
    """The first row of a query's result, reading it to the end (DuckDB wants each result
    finished before the connection does other work)."""
    rows = result.fetchall()
    return tuple(rows[0]) if rows else None
