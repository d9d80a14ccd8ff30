"""Erasure (the right to be forgotten): remove every trace of customers from a store.

:func:`forget` deletes a customer's order lines, browsing events, rejected rows,
customer record, segments and every other row of the store keyed by their id,
writes an audit entry holding only the keyed hash of the id, and rewrites the
store file so that no deleted bytes survive in it (the rewritten file replaces
the old one atomically). It also records which data fingerprints held the
customer, so :func:`bundles_holding` can tell which model bundles were trained
on their data (and the server can warn when it serves one).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from xsell.data.privacy import canonical_id, pseudonymize
from xsell.data.sql import fetch_one, ident
from xsell.data.store import Store, remove_store_files
from xsell.data.versions import record_version
from xsell.errors import StoreError, ValidationError

#: Tables whose rows name a customer in a ``user_id`` column are cleared by :func:`forget`;
#: these others are handled on their own (or hold no customer).
_OWN_TABLES = ("lines", "rejected", "customers", "forgotten", "data_versions", "xsell_meta")


@dataclass
class Forgotten:
    """What :func:`forget` removed for one customer (``user_hash`` is the keyed hash)."""

    user_hash: str
    lines: int = 0
    events: int = 0
    rejected: int = 0
    other_rows: dict[str, int] = field(default_factory=dict)
    fingerprints: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.lines or self.events or self.rejected or any(self.other_rows.values()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_hash": self.user_hash,
            "lines": self.lines,
            "events": self.events,
            "rejected": self.rejected,
            "other_rows": self.other_rows,
            "fingerprints": self.fingerprints,
        }


def _pseudonymized(con: duckdb.DuckDBPyConnection) -> bool:
    row = fetch_one(con.execute("SELECT value FROM xsell_meta WHERE key = 'pseudonym_key_check'"))
    return row is not None


def forget(store: Store | str | Path, customers: Sequence[str], key: bytes) -> list[Forgotten]:
    """Remove every trace of ``customers`` (raw ids) from ``store``.

    Parameters
    ----------
    customers:
        Customer ids as the shop knows them (raw, also for a pseudonymized store).
    key:
        The pseudonym key: the audit entry holds the id's keyed hash only, and a
        pseudonymized store is searched for that hash.

    Returns
    -------
    list of Forgotten
        Per customer, the rows removed and the data fingerprints that held them.
    """
    store = store if isinstance(store, Store) else Store(store)
    if not customers:
        raise ValidationError("name at least one customer id to forget")
    if not store.exists():
        store.connect()  # raises the usual "no store here" error
    results: list[Forgotten] = []
    with store.transaction() as con:
        from xsell.data.ingest_steps import PSEUDONYM_META
        from xsell.data.privacy import key_check

        hashed = _pseudonymized(con)
        if hashed:
            stored = fetch_one(
                con.execute("SELECT value FROM xsell_meta WHERE key = ?", [PSEUDONYM_META])
            )
            if stored is None or stored[0] != key_check(key):
                raise StoreError(
                    f"{store.path}: the pseudonym key differs from the one this store's "
                    "pseudonyms were made with; use the same XSELL_PSEUDONYM_KEY or --key-file"
                )
        others = _user_tables(con)
        for raw in dict.fromkeys(canonical_id(c) for c in customers):
            user_hash = pseudonymize(raw, key)
            target = user_hash if hashed else raw
            results.append(_forget_one(con, target, user_hash, others))
        if any(r.found for r in results):
            record_version(con, changed=True)
    if any(r.found for r in results):
        _rewrite(store)
    return results


def _user_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Tables other than the ingest's own with a ``user_id`` column (segments and the like)."""
    rows = con.execute(
        "SELECT DISTINCT table_name FROM duckdb_columns() "
        "WHERE column_name = 'user_id' AND NOT internal AND schema_name = 'main' "
        "ORDER BY table_name"
    ).fetchall()
    return [str(r[0]) for r in rows if r[0] not in _OWN_TABLES]


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> int:
    row = fetch_one(con.execute(sql, params))
    return int(row[0]) if row else 0


def _forget_one(
    con: duckdb.DuckDBPyConnection, target: str, user_hash: str, others: list[str]
) -> Forgotten:
    result = Forgotten(user_hash)
    first = fetch_one(
        con.execute(
            "SELECT min(i) FROM (SELECT min(ingest_id) AS i FROM lines WHERE user_id = ? "
            "UNION ALL SELECT min(ingest_id) FROM rejected WHERE user_id = ? "
            "UNION ALL SELECT min(ingest_id) FROM customers WHERE user_id = ?)",
            [target, target, target],
        )
    )
    result.lines = _count(
        con, "SELECT count(*) FROM lines WHERE user_id = ? AND event = 'purchase'", [target]
    )
    result.events = _count(
        con, "SELECT count(*) FROM lines WHERE user_id = ? AND event <> 'purchase'", [target]
    )
    con.execute("DELETE FROM lines WHERE user_id = ?", [target])
    # Rejected rows of stores written before rejected.user_id existed: match the raw values.
    legacy = "user_id IS NULL AND list_contains(json_extract_string(raw, '$.*'), ?)"
    try:
        result.rejected = _count(
            con, f"SELECT count(*) FROM rejected WHERE user_id = ? OR ({legacy})", [target, target]
        )
        con.execute(f"DELETE FROM rejected WHERE user_id = ? OR ({legacy})", [target, target])
    except duckdb.Error:
        result.rejected = _count(con, "SELECT count(*) FROM rejected WHERE user_id = ?", [target])
        con.execute("DELETE FROM rejected WHERE user_id = ?", [target])
    customers = _count(con, "SELECT count(*) FROM customers WHERE user_id = ?", [target])
    con.execute("DELETE FROM customers WHERE user_id = ?", [target])
    if customers:
        result.other_rows["customers"] = customers
    for table in others:
        removed = _count(con, f"SELECT count(*) FROM {ident(table)} WHERE user_id = ?", [target])
        if removed:
            con.execute(f"DELETE FROM {ident(table)} WHERE user_id = ?", [target])
            result.other_rows[table] = removed
    if first is not None and first[0] is not None:
        from xsell.data.versions import versions_since

        result.fingerprints = versions_since(con, int(first[0]))
    con.execute(
        "INSERT INTO forgotten VALUES (?, ?, ?, ?, ?, ?)",
        [
            user_hash,
            datetime.now(),
            result.lines + result.events,
            result.rejected,
            sum(result.other_rows.values()),
            result.fingerprints,
        ],
    )
    return result


def _rewrite(store: Store) -> None:
    """Copy the store into a fresh file and put it in place: deleted rows leave no bytes behind."""
    fresh = store.path.with_name(f".{store.path.name}.forget-{os.getpid()}")
    remove_store_files(fresh)
    with store._lock():
        try:
            con = duckdb.connect(":memory:")
            con.execute("ATTACH ? AS old (READ_ONLY)", [str(store.path)])
            con.execute("ATTACH ? AS fresh", [str(fresh)])
            con.execute("COPY FROM DATABASE old TO fresh")
            con.execute("DETACH old")
            con.execute("DETACH fresh")
            con.close()
            os.replace(fresh, store.path)
            store.path.with_name(store.path.name + ".wal").unlink(missing_ok=True)
        finally:
            remove_store_files(fresh)


def forgotten_fingerprints(store: Store | str | Path) -> dict[str, int]:
    """Data fingerprints that held a forgotten customer, with how many such customers."""
    store = store if isinstance(store, Store) else Store(store)
    with store.connect() as con:
        rows = con.execute(
            "SELECT fp, count(DISTINCT user_hash) FROM "
            "(SELECT user_hash, unnest(fingerprints) AS fp FROM forgotten) GROUP BY fp"
        ).fetchall()
    return {str(f): int(n) for f, n in rows}


@dataclass(frozen=True)
class HeldBundle:
    """A model bundle fitted on data that held forgotten customers."""

    path: Path
    fitted_on: str
    customers: int


def bundles_holding(store: Store | str | Path, bundle_dir: str | Path) -> list[HeldBundle]:
    """The bundles under ``bundle_dir`` trained on data that held a customer since forgotten.

    A bundle is a folder with a ``model.json`` whose ``fitted_on`` is the data
    fingerprint it was fitted on; it is listed when that fingerprint is one the
    store recorded while a now-forgotten customer was in its data. Hidden folders
    (``.git``, ``.venv``) are not searched.
    """
    held = forgotten_fingerprints(store)
    root = Path(bundle_dir)
    if not held or not root.exists():
        return []
    found: list[HeldBundle] = []
    candidates = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))  # .venv, .git
        if "model.json" in files:
            candidates.append(Path(folder) / "model.json")
    for meta_file in candidates:
        try:
            meta = json.loads(meta_file.read_text())
        except (OSError, ValueError):
            continue
        fitted_on = meta.get("fitted_on") if isinstance(meta, dict) else None
        if isinstance(fitted_on, str) and fitted_on in held:
            found.append(HeldBundle(meta_file.parent, fitted_on, held[fitted_on]))
    return found
