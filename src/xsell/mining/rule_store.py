"""Rules in the store as a versioned table, and rule files (CSV / Parquet).

Each :func:`save_rules` call adds one *version*: a row in ``rule_sets`` (when,
how many, the mining parameters) and its rules in ``rules``, in one transaction.
The rules-based recommender and the API read the latest version with
:func:`load_rules`; older versions stay for comparison until deleted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from xsell.data.store import Store
from xsell.errors import StoreError, ValidationError
from xsell.mining.itemsets import mining_info
from xsell.mining.metrics import METRICS

_SIDES: Final = ("antecedent", "consequent", "antecedent_names", "consequent_names")
_COUNTS: Final = ("antecedent_count", "consequent_count", "count")
_FLOATS: Final = ("antecedent_support", "consequent_support", *METRICS, "p_value", "q_value")

SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS rule_sets (
        version INTEGER PRIMARY KEY, created_at TIMESTAMP, n_rules BIGINT, n_baskets BIGINT,
        min_count BIGINT, min_support DOUBLE, params JSON)""",
    "CREATE TABLE IF NOT EXISTS rules (version INTEGER, rule_id INTEGER, "
    + ", ".join(f"{c} VARCHAR[]" for c in _SIDES)
    + ", "
    + ", ".join(f'"{c}" BIGINT' for c in _COUNTS)
    + ", "
    + ", ".join(f"{c} DOUBLE" for c in _FLOATS)
    + ")",
)


def save_rules(
    store: Store | str | Path, rules: pd.DataFrame, *, params: Mapping[str, Any] | None = None
) -> int:
    """Save a rules table as a new version in the store; returns the version number.

    ``params`` (JSON-serialisable) records how the rules were mined; the
    ``attrs["mining"]`` of the table adds the basket count and threshold.
    """
    _check_rules(rules)
    store = store if isinstance(store, Store) else Store(store)
    info = mining_info(rules)
    arrow = _to_arrow(rules)
    with store.transaction() as con:
        for statement in SCHEMA:
            con.execute(statement)
        next_version = con.execute("SELECT COALESCE(max(version), 0) + 1 FROM rule_sets").fetchone()
        version = int(next_version[0]) if next_version else 1
        con.execute(
            "INSERT INTO rule_sets VALUES (?, now()::TIMESTAMP, ?, ?, ?, ?, ?)",
            [
                version,
                len(rules),
                info.n_baskets if info else None,
                info.min_count if info else None,
                info.min_support if info else None,
                json.dumps(dict(params or {}), default=str),
            ],
        )
        con.register("new_rules", arrow)
        columns = ", ".join(f'"{c}"' for c in (*_SIDES, *_COUNTS, *_FLOATS))
        con.execute(f"INSERT INTO rules SELECT {version}, rule_id, {columns} FROM new_rules")
        con.unregister("new_rules")
    return version


def load_rules(store: Store | str | Path, version: int | None = None) -> pd.DataFrame:
    """The rules of one saved version (default: the latest), best first as saved.

    ``attrs["rules_version"]`` holds the version number.
    """
    store = store if isinstance(store, Store) else Store(store)
    with store.connect() as con:
        versions = _versions(con, store)
        if version is None:
            version = max(versions)
        elif version not in versions:
            raise ValidationError(
                f"no rules version {version} in {store.path}; saved versions: {versions}"
            )
        frame = con.execute(
            "SELECT * EXCLUDE (version, rule_id) FROM rules WHERE version = ? ORDER BY rule_id",
            [version],
        ).df()
    for column in _SIDES:
        frame[column] = pd.Series(
            [None if v is None else tuple(v) for v in frame[column]],
            index=frame.index,
            dtype=object,
        )
    if frame["antecedent_names"].isna().all():
        frame = frame.drop(columns=["antecedent_names", "consequent_names"])
    frame.attrs["rules_version"] = version
    return frame


def rule_versions(store: Store | str | Path) -> pd.DataFrame:
    """One row per saved version.

    Columns: ``version, created_at, n_rules, n_baskets, min_count, min_support, params``.
    """
    store = store if isinstance(store, Store) else Store(store)
    with store.connect() as con:
        _versions(con, store)
        return con.execute("SELECT * FROM rule_sets ORDER BY version").df()


def export_rules(rules: pd.DataFrame, path: str | Path) -> Path:
    """Write rules to ``.csv`` (tuples as JSON lists) or ``.parquet`` (list columns), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise ValidationError(
            f"{path}: unknown rules file type {path.suffix!r}; use .csv or .parquet"
        )
    _check_rules(rules)
    table = _to_arrow(rules).drop_columns(["rule_id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.writing-{os.getpid()}")
    try:
        if suffix == ".csv":
            for column in _SIDES:
                values = [None if v is None else json.dumps(v) for v in table[column].to_pylist()]
                table = table.set_column(
                    table.column_names.index(column), column, pa.array(values, pa.string())
                )
            pacsv.write_csv(table, temporary)
        else:
            pq.write_table(table, temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def _versions(con: Any, store: Store) -> list[int]:
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    versions = (
        [int(r[0]) for r in con.execute("SELECT version FROM rule_sets ORDER BY 1").fetchall()]
        if "rule_sets" in tables
        else []
    )
    if not versions:
        raise StoreError(
            f"{store.path}: no rules saved yet; "
            f"run `xsell rules --store {store.path} --min-support ...`"
        )
    return versions


def _check_rules(rules: pd.DataFrame) -> None:
    missing = [
        c for c in ("antecedent", "consequent", *_COUNTS, *_FLOATS) if c not in rules.columns
    ]
    if missing:
        raise ValidationError(
            f"not a rules table: columns {missing} are missing; "
            "make it with xsell.mining.association_rules"
        )


def _to_arrow(rules: pd.DataFrame) -> pa.Table:
    strings = pa.list_(pa.string())
    columns: dict[str, pa.Array] = {"rule_id": pa.array(np.arange(len(rules), dtype=np.int32))}
    for column in _SIDES:
        if column in rules.columns:
            values = [None if v is None else [str(x) for x in v] for v in rules[column]]
        else:
            values = [None] * len(rules)
        columns[column] = pa.array(values, strings)
    for column in _COUNTS:
        columns[column] = pa.array(rules[column].to_numpy(dtype=np.int64))
    for column in _FLOATS:
        columns[column] = pa.array(rules[column].to_numpy(dtype=np.float64))
    return pa.table(columns)
