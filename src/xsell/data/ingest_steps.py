"""What every ingest does, whatever it reads: the report, the source, the log and the checks.

Order lines (:mod:`xsell.data.ingest`), catalogs (:mod:`xsell.data.catalog`) and
customers (:mod:`xsell.data.customers`), from files or from PostgreSQL
(:mod:`xsell.data.postgres`), share these steps inside one store transaction.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from xsell.data import columns as C
from xsell.data.cleaning import REASONS, CleaningOptions, guess_preset, is_numeric, literal, quote
from xsell.data.dialect import DUCKDB, Dialect
from xsell.data.privacy import PrivacyOptions, key_check
from xsell.data.readers import LINE, RawTable
from xsell.data.sql import fetch_one
from xsell.data.store import Store
from xsell.data.versions import record_version
from xsell.errors import SchemaError, StoreError

#: Meta key holding the pseudonym key's check value in a pseudonymized store.
PSEUDONYM_META = "pseudonym_key_check"


@dataclass
class IngestReport:
    """What one ingest read, kept and rejected, and why."""

    path: str
    kind: str
    preset: str
    rows_in: int = 0
    rows_kept: int = 0
    rows_rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)
    raw_profile: dict[str, int] = field(default_factory=dict)
    kept_profile: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    encoding: str | None = None
    skipped: bool = False
    ingest_id: int | None = None
    #: Personal-data columns left out of the store, with why each counts as personal.
    dropped_columns: dict[str, str] = field(default_factory=dict)
    #: Customer ids were replaced by keyed pseudonyms.
    pseudonymized: bool = False
    #: Cancellations netted against purchases of this source / earlier ingests, or unmatched.
    netting: dict[str, int] = field(default_factory=dict)
    #: For a file that grew or an incremental database read: where this read started.
    incremental: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Source:
    """Raw rows to ingest, from a file or a database, and how to tell them apart later.

    Attributes
    ----------
    label:
        What reports and rejected rows name: the file path, or the database source
        (``postgresql://user@host:port/db table orders``; never a password).
    identity:
        The source for incremental loads and replacement (resolved path or label).
    schema:
        Arrow schema of the raw rows, with the ``__line`` column.
    table:
        The rows of a file; ``None`` when :attr:`load` writes them into the store's
        connection itself (a database read, streamed in chunks).
    key_columns:
        Columns identifying a row at its source (a table's primary key).
    replace:
        ``"none"`` (append), ``"all"`` (the read replaces every row of earlier
        reads of the same source: a snapshot) or ``"keys"`` (rows replace earlier
        rows with the same key: an incremental read).
    """

    label: str
    identity: str
    schema: pa.Schema
    digest: str
    table: pa.Table | None = None
    encoding: str | None = None
    blank_lines: int = 0
    last_line: int = 0
    size: int | None = None
    key_columns: tuple[str, ...] = ()
    ignore_columns: tuple[str, ...] = ()
    replace: str = "none"
    load: Callable[[duckdb.DuckDBPyConnection], None] | None = None
    after: Callable[[duckdb.DuckDBPyConnection, int], None] | None = None
    incremental: dict[str, Any] = field(default_factory=dict)
    #: Rows a database read streamed (-1 for a file).
    rows_read: int = -1

    @property
    def columns(self) -> list[str]:
        return [c for c in self.schema.names if c != LINE]

    @property
    def rows(self) -> int:
        return self.table.num_rows if self.table is not None else -1

    @classmethod
    def of_file(cls, raw: RawTable, digest: str, size: int | None = None) -> Source:
        return cls(
            label=str(raw.path),
            identity=str(raw.path.resolve()),
            schema=raw.table.schema,
            digest=digest,
            table=raw.table,
            encoding=raw.encoding,
            blank_lines=raw.blank_lines,
            last_line=raw.last_line,
            size=size,
        )


def content_hash(path: Path, limit: int | None = None) -> str:
    """SHA-256 of the file's bytes (the first ``limit`` of them): re-ingesting a file is a no-op."""
    digest = hashlib.sha256()
    left = limit
    with path.open("rb") as handle:
        while left is None or left > 0:
            chunk = handle.read(1 << 20 if left is None else min(1 << 20, left))
            if not chunk:
                break
            digest.update(chunk)
            if left is not None:
                left -= len(chunk)
    return digest.hexdigest()


def fault(point: str) -> None:
    # A seam for the crash tests: the process kills itself for real at this point.
    if os.environ.get("XSELL_FAULT") == point:
        os.kill(os.getpid(), signal.SIGKILL)


@contextmanager
def ingest_transaction(store: Store) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction for several ingests: every source lands, or none does.

    Pass the connection as ``con=`` to :func:`ingest_lines`, :func:`ingest_catalog`,
    :func:`ingest_customers` or :func:`~xsell.data.postgres.ingest_database`.
    """
    with store.transaction() as con:
        yield con
        record_version(con)


@contextmanager
def own_or_given(
    store: Store, con: duckdb.DuckDBPyConnection | None
) -> Iterator[duckdb.DuckDBPyConnection]:
    if con is not None:
        yield con
        return
    with ingest_transaction(store) as own:
        yield own


def already_ingested(
    con: duckdb.DuckDBPyConnection, digest: str, kind: str, identity: str | None
) -> tuple[int, str] | None:
    rows = con.execute(
        "SELECT ingest_id, CAST(finished_at AS VARCHAR) FROM ingests "
        "WHERE content_hash = ? AND kind = ? AND (? IS NULL OR source = ?) "
        "ORDER BY ingest_id DESC LIMIT 1",
        [digest, kind, identity, identity],
    ).fetchall()
    return (int(rows[0][0]), str(rows[0][1])) if rows else None


def next_ingest_id(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT COALESCE(max(ingest_id), 0) + 1 FROM ingests").fetchall()[0][0])


def check_columns(
    label: str, existing: list[str], mapping: dict[str, str], required: tuple[str, ...]
) -> None:
    for role in required:
        if role not in mapping:
            guess = guess_preset(existing)
            hint = f"; try --preset {guess}" if guess else ""
            raise SchemaError(
                f"{label}: no column is mapped to {role!r}; map one with --map "
                f"{role.removesuffix('_id')}=COLUMN (columns in the file: {existing}){hint}"
            )
    for role, column in mapping.items():
        if column not in existing:
            guess = guess_preset(existing)
            hint = f"; try --preset {guess}" if guess else ""
            where = "the file" if "://" not in label else "the " + label.split(" ")[1]
            raise SchemaError(
                f"{label}: column {column!r} (for {role}) is not in {where}; "
                f"columns are {existing}{hint}"
            )


_NUMBER_ROLES = (C.QUANTITY, C.PRICE, C.COST, C.MARGIN, C.STOCK)


def check_types(label: str, schema: pa.Schema, mapping: dict[str, str]) -> None:
    """Refuse a mapped column whose type cannot hold its role (a Parquet or database type)."""
    types = {f.name: f for f in schema}
    for role, column in mapping.items():
        if column not in types:
            continue
        found = types[column].type
        text = pa.types.is_string(found) or pa.types.is_large_string(found)
        if pa.types.is_null(found) or text:
            continue
        if role in _NUMBER_ROLES:
            ok, expected = is_numeric(found), "numbers"
        elif role == C.TIME:
            ok, expected = (
                pa.types.is_timestamp(found) or pa.types.is_date(found),
                "dates/times",
            )
        elif role == C.IN_STOCK:
            ok, expected = pa.types.is_boolean(found) or is_numeric(found), "yes/no values"
        else:
            ok, expected = is_numeric(found) or pa.types.is_boolean(found), "ids or text"
        if not ok:
            meta = types[column].metadata or {}
            native = meta.get(b"POSTGRESQL:type")
            shown = f"{native.decode()} ({found})" if native else str(found)
            raise SchemaError(
                f"{label}: column {column!r} ({role}) has type {shown}, which cannot hold "
                f"{expected}; map another column or convert it"
            )


def check_privacy_mode(
    con: duckdb.DuckDBPyConnection, privacy: PrivacyOptions, label: str, has_users: bool
) -> None:
    """Keep a store all-pseudonymized (one key) or all raw ids, never a mix."""
    if not has_users:
        return
    row = fetch_one(con.execute("SELECT value FROM xsell_meta WHERE key = ?", [PSEUDONYM_META]))
    stored = row[0] if row else None
    if privacy.key is None:
        if stored is not None:
            raise StoreError(
                f"{label}: the store holds pseudonymized customer ids; ingest with "
                "--pseudonymize and the same key"
            )
        return
    check = key_check(privacy.key)
    if stored is None:
        held = fetch_one(
            con.execute(
                "SELECT (SELECT count(*) FROM lines WHERE user_id IS NOT NULL) + "
                "(SELECT count(*) FROM customers)"
            )
        )
        if held and held[0]:
            raise StoreError(
                f"{label}: the store already holds customer ids that are not pseudonymized; "
                "ingest with --pseudonymize into a new store"
            )
        con.execute("INSERT OR REPLACE INTO xsell_meta VALUES (?, ?)", [PSEUDONYM_META, check])
    elif stored != check:
        raise StoreError(
            f"{label}: the pseudonym key differs from the one this store's pseudonyms were "
            "made with; use the same XSELL_PSEUDONYM_KEY or --key-file"
        )


def register_source(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    if source.table is not None:
        con.register("raw", source.table)
    elif source.load is not None:
        source.load(con)


def unregister_source(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    if source.table is not None:
        con.unregister("raw")
    else:
        con.execute("DROP TABLE IF EXISTS raw")


def finish_ingest(
    con: duckdb.DuckDBPyConnection, report: IngestReport, source: Source, started: datetime
) -> None:
    """Log the ingest and drop its working tables (inside the ingest's transaction)."""
    con.execute(
        "INSERT INTO ingests (ingest_id, path, content_hash, kind, preset, rows_in, rows_kept, "
        "rows_rejected, started_at, finished_at, report, source, size, last_line) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            report.ingest_id,
            report.path,
            source.digest,
            report.kind,
            report.preset,
            report.rows_in,
            report.rows_kept,
            report.rows_rejected,
            started,
            datetime.now(),
            json.dumps(report.to_dict(), default=str),
            source.identity,
            source.size,
            source.last_line,
        ],
    )
    con.execute("DROP TABLE IF EXISTS cleaned")
    unregister_source(con, source)


def count_reasons(con: duckdb.DuckDBPyConnection, report: IngestReport, rows_in: int) -> None:
    counts = con.execute(
        "SELECT reason, count(*) FROM cleaned WHERE reason IS NOT NULL GROUP BY reason"
    ).fetchall()
    report.rows_in = rows_in
    report.reasons = {str(k): int(v) for k, v in counts}
    report.rows_rejected = sum(report.reasons.values())
    report.rows_kept = rows_in - report.rows_rejected


def skip_if_ingested(
    con: duckdb.DuckDBPyConnection, report: IngestReport, digest: str, identity: str | None
) -> bool:
    """Mark ``report`` skipped when a source with the same content was ingested before.

    A file counts as the same wherever it lies; a database read only for its own source.
    """
    scope = identity if identity and "://" in identity else None
    previous = already_ingested(con, digest, report.kind, scope)
    if previous is None:
        return False
    report.skipped = True
    report.ingest_id = previous[0]
    report.warnings.append(
        f"{report.path} was already ingested (ingest #{previous[0]} at {previous[1]}); "
        "nothing changed"
    )
    return True


def warn_catalog_gaps(con: duckdb.DuckDBPyConnection, report: IngestReport) -> None:
    row = fetch_one(
        con.execute(
            "SELECT count(*) FILTER (WHERE from_catalog), count(*) FILTER (WHERE NOT from_catalog) "
            "FROM items"
        )
    )
    assert row is not None
    if row[0] and row[1]:
        report.warnings.append(
            f"{row[1]:,} items sold are not in the catalog (they get names and prices from "
            "the order lines, no category)"
        )


def profile_sql(
    options: CleaningOptions, has_basket: bool, dialect: Dialect = DUCKDB, cleaned: str = "cleaned"
) -> str:
    """One scan of ``cleaned``: the raw figures (as a shop counts them) and the kept figures.

    The row it gives is what :func:`fill_profile` reads (DuckDB and Spark alike).
    """
    cancelled = (
        f"count(*) FILTER (WHERE {dialect.starts_with('basket', options.cancel_prefix)})"
        if options.cancel_prefix and has_basket
        else "NULL"
    )
    return (
        "SELECT count(*), count(DISTINCT basket), count(DISTINCT item), "
        "count(DISTINCT user_id), "
        f"count(user_id), {cancelled}, "
        "count(*) FILTER (WHERE reason IS NULL), "
        "count(DISTINCT basket) FILTER (WHERE reason IS NULL), "
        "count(DISTINCT item) FILTER (WHERE reason IS NULL), "
        "count(DISTINCT user_id) FILTER (WHERE reason IS NULL), "
        "count(*) FILTER (WHERE reason IS NULL AND user_id IS NULL), "
        "count(*) FILTER (WHERE reason IS NULL AND time_value IS NULL), "
        f"CAST(min(time_value) FILTER (WHERE reason IS NULL) AS {dialect.text}), "
        f"CAST(max(time_value) FILTER (WHERE reason IS NULL) AS {dialect.text}) "
        f"FROM {cleaned}"
    )


def fill_profile(
    report: IngestReport,
    row: Sequence[Any],
    reason_counts: dict[str, int],
    mapping: dict[str, str],
) -> None:
    """Fill ``report`` from the :func:`profile_sql` row and the count of each reason."""
    report.rows_in = int(row[0])
    report.raw_profile = {
        "lines": int(row[0]),
        "baskets": int(row[1]),
        "items": int(row[2]),
        "customers": int(row[3]),
        "lines_with_customer": int(row[4]),
    }
    if row[5] is not None:
        report.raw_profile["cancellation_lines"] = int(row[5])
    report.reasons = {r: int(reason_counts[r]) for r in REASONS if r in reason_counts}
    report.rows_rejected = sum(report.reasons.values())
    kept = row[6:]
    report.rows_kept = int(kept[0])
    report.kept_profile = {
        "lines": int(kept[0]),
        "baskets": int(kept[1]),
        "items": int(kept[2]),
        "customers": int(kept[3]),
        "first_time": kept[6],
        "last_time": kept[7],
    }
    if C.USER in mapping:
        report.flags["anonymous_lines"] = int(kept[4])
    if C.TIME in mapping:
        report.flags["missing_time"] = int(kept[5])
    assert report.rows_kept + report.rows_rejected == report.rows_in


def seen_items_sql(cleaned: str = "cleaned") -> str:
    """Items of the kept rows of ``cleaned``: the most frequent name and category, the median
    price paid (ties of names and categories go to the first in sort order)."""
    return f"""
        WITH kept AS (SELECT item, name, category, price_value FROM {cleaned}
                      WHERE reason IS NULL),
        names AS (SELECT item, name, row_number() OVER (
                      PARTITION BY item ORDER BY count(*) DESC, name) AS r
                  FROM kept WHERE name IS NOT NULL GROUP BY item, name),
        cats AS (SELECT item, category, row_number() OVER (
                     PARTITION BY item ORDER BY count(*) DESC, category) AS r
                 FROM kept WHERE category IS NOT NULL GROUP BY item, category),
        prices AS (SELECT item, median(price_value) AS price FROM kept GROUP BY item)
        SELECT p.item, n.name, c.category, p.price
        FROM prices p LEFT JOIN names n ON n.item = p.item AND n.r = 1
        LEFT JOIN cats c ON c.item = p.item AND c.r = 1
    """


def attributes_sql(columns: list[str]) -> str:
    if not columns:
        return "NULL"
    return "to_json({" + ", ".join(f"{literal(c)}: {quote(c)}" for c in columns) + "})"
