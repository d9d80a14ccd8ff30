"""PostgreSQL as a source: a table or a query streamed in Arrow chunks into the ingest.

Rows come through ADBC's libpq driver (``adbc-driver-postgresql``), which reads
PostgreSQL's binary COPY format straight into Arrow record batches; psycopg 3
looks the table up first (does it exist, its primary key, a column's type). Both
use libpq, so credentials come from the URL, ``PGPASSWORD``, ``~/.pgpass`` or a
``--password-file``, and are never printed or written: every message and the
store name the source as ``postgresql://user@host:port/db``.

A table read as a whole is a snapshot: it replaces what earlier reads of the same
table wrote. With ``since_column`` a read takes only rows above the watermark the
store kept from the last read, and rows whose primary key was read before replace
their earlier version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote as url_quote
from urllib.parse import unquote, urlsplit, urlunsplit

import duckdb
import pyarrow as pa

from xsell.data.catalog import guess_catalog_mapping, ingest_catalog_source
from xsell.data.cleaning import CleaningOptions
from xsell.data.customers import CUSTOMER_ID_GUESSES, ingest_customers_source
from xsell.data.ingest import auto_map, ingest_source, options_of
from xsell.data.ingest_steps import IngestReport, Source, own_or_given
from xsell.data.presets import Preset, get_preset
from xsell.data.privacy import PrivacyOptions
from xsell.data.readers import LINE
from xsell.data.sql import fetch_one, ident
from xsell.data.store import Store
from xsell.errors import InputFileError, SchemaError, ValidationError, require
from xsell.progress import Reporter, SilentReporter

SCHEMES = ("postgresql", "postgres")
#: Rows per Arrow chunk asked of the driver (it may send bigger or smaller ones).
CHUNK_ROWS = 65_536


def is_database_url(text: str | Path) -> bool:
    """Whether ``text`` names a PostgreSQL database (``postgresql://...``)."""
    return str(text).split("://", 1)[0].lower() in SCHEMES and "://" in str(text)


@dataclass(frozen=True)
class Database:
    """Where to connect: a libpq URL (the password only in memory) and a printable name."""

    url: str
    password: str | None = None

    @classmethod
    def parse(cls, url: str, password_file: str | Path | None = None) -> Database:
        if not is_database_url(url):
            raise ValidationError(
                f"not a PostgreSQL URL: {cls(url).safe!r}; write postgresql://USER@HOST:PORT/DB"
            )
        password = None
        if password_file is not None:
            try:
                password = Path(password_file).read_text().strip("\r\n")
            except OSError as exc:
                raise ValidationError(
                    f"{password_file}: cannot read the password file: {exc.strerror or exc}"
                ) from None
        return cls(url, password)

    @property
    def safe(self) -> str:
        """The URL without its password and query: what messages and the store show."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{unquote(parts.username)}@" if parts.username else ""
        netloc += host + (f":{parts.port}" if _port(parts) else "")
        return urlunsplit(("postgresql", netloc, parts.path, "", ""))

    @property
    def name(self) -> str:
        return urlsplit(self.url).path.lstrip("/") or "(default database)"

    def libpq_url(self) -> str:
        """The URL to connect with (the password file's password put in)."""
        if self.password is None:
            return self.url
        parts = urlsplit(self.url)
        user = url_quote(unquote(parts.username or ""), safe="")
        host = parts.netloc.rsplit("@", 1)[-1]
        netloc = f"{user}:{url_quote(self.password, safe='')}@{host}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def _port(parts: Any) -> int | None:
    try:
        return int(parts.port) if parts.port is not None else None
    except ValueError:
        return None


def _database_error(db: Database, exc: BaseException, what: str = "") -> InputFileError:
    """One clear line for a failed connection or query (never the password)."""
    text = str(exc).replace(db.url, db.safe)
    if db.password:
        text = text.replace(db.password, "***")
    first = next(
        (
            line.strip()
            for line in text.splitlines()
            if line.strip() and not line.strip().startswith(("LINE", "^", "Query was"))
        ),
        type(exc).__name__,
    )
    for prefix in ("IO: [libpq] ", "NOT_FOUND: ", "INVALID_ARGUMENT: ", "INTERNAL: "):
        first = first.removeprefix(prefix)
    lower = text.lower()
    if "connection refused" in lower or "could not connect" in lower:
        return InputFileError(
            f"{db.safe}: cannot connect: connection refused (is the server running and "
            "accepting TCP connections on that host and port?)"
        )
    if "password authentication failed" in lower or "no password supplied" in lower:
        return InputFileError(
            f"{db.safe}: authentication failed; give the password with PGPASSWORD, "
            "~/.pgpass or --password-file"
        )
    if "does not exist" in lower and "database" in lower and "relation" not in lower:
        return InputFileError(f"{db.safe}: the database {db.name!r} does not exist")
    if "could not translate host name" in lower or "name or service not known" in lower:
        return InputFileError(f"{db.safe}: unknown host")
    first = first.split("FATAL:", 1)[-1].split("ERROR:", 1)[-1].strip()
    return InputFileError(f"{db.safe}: {what}{first}".rstrip())


def _psycopg() -> Any:
    return require("psycopg", "postgres")


def _connect(db: Database) -> Any:
    psycopg = _psycopg()
    try:
        return psycopg.connect(db.libpq_url(), connect_timeout=10, autocommit=True)
    except psycopg.Error as exc:
        raise _database_error(db, exc) from None


@dataclass
class Relation:
    """What is read: a table (with its primary key) or a query, and since which value."""

    db: Database
    table: str | None = None
    query: str | None = None
    since_column: str | None = None
    key_columns: tuple[str, ...] = ()
    since_type: str | None = None
    columns: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        if self.table is not None:
            return f"{self.db.safe} table {self.table}"
        digest = hashlib.sha256((self.query or "").encode()).hexdigest()[:12]
        return f"{self.db.safe} query {digest}"

    def from_clause(self) -> str:
        if self.table is not None:
            return _table_ident(self.table)
        return f"({self.query}) AS xsell_query"

    def select(self, watermark: str | None) -> tuple[str, list[Any]]:
        """The statement reading the rows (above ``watermark``) in a stable order."""
        sql = f"SELECT * FROM {self.from_clause()}"
        params: list[Any] = []
        where = []
        if self.since_column is not None and watermark is not None:
            cast = f"::{self.since_type}" if self.since_type else ""
            where.append(f"{ident(self.since_column)} > ${len(params) + 1}{cast}")
            params.append(watermark)
        if where:
            sql += " WHERE " + " AND ".join(where)
        order = [*([self.since_column] if self.since_column else []), *self.key_columns]
        if order:
            sql += " ORDER BY " + ", ".join(ident(c) for c in dict.fromkeys(order))
        return sql, params


def _table_ident(table: str) -> str:
    schema, dot, name = table.partition(".")
    return f"{ident(schema)}.{ident(name)}" if dot else ident(table)


def describe(
    db: Database,
    *,
    table: str | None = None,
    query: str | None = None,
    since_column: str | None = None,
) -> Relation:
    """Check the table (or query) and the since column exist; find the primary key."""
    if (table is None) == (query is None):
        raise ValidationError("give a database table (--table) or a query (--query), not both")
    relation = Relation(db, table=table, query=query, since_column=since_column)
    with _connect(db) as con:
        psycopg = _psycopg()
        try:
            if table is not None:
                schema, dot, name = table.partition(".")
                found = fetch_one(
                    con.execute(
                        "SELECT c.oid FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE c.relname = %s AND c.relkind IN ('r', 'v', 'm', 'p', 'f') AND "
                        "(CASE WHEN %s THEN n.nspname = %s "
                        "ELSE n.nspname = ANY (current_schemas(false)) END) "
                        "ORDER BY array_position(current_schemas(false), n.nspname) LIMIT 1",
                        [name if dot else table, bool(dot), schema],
                    )
                )
                if found is None:
                    tables = [
                        r[0]
                        for r in con.execute(
                            "SELECT table_name FROM information_schema.tables "
                            "WHERE table_schema = ANY (current_schemas(false)) ORDER BY 1"
                        ).fetchall()
                    ]
                    raise InputFileError(
                        f"{db.safe}: no table {table!r} in the database {db.name!r}"
                        + (f" (tables: {tables[:20]})" if tables else " (it has no tables)")
                    )
                oid = found[0]
                relation.key_columns = tuple(
                    r[0]
                    for r in con.execute(
                        "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
                        "ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) "
                        "WHERE i.indrelid = %s AND i.indisprimary "
                        "ORDER BY array_position(i.indkey, a.attnum)",
                        [oid],
                    ).fetchall()
                )
                described = con.execute(
                    "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                    "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                    [oid],
                ).fetchall()
            else:
                cursor = con.execute(f"SELECT * FROM ({query}) AS xsell_query LIMIT 0")
                names = [d.name for d in cursor.description or []]
                types = {
                    int(r[0]): str(r[1])
                    for r in con.execute(
                        "SELECT oid, format_type(oid, NULL) FROM pg_type WHERE oid = ANY (%s)",
                        [[d.type_code for d in cursor.description or []]],
                    ).fetchall()
                }
                described = [
                    (n, types.get(d.type_code))
                    for n, d in zip(names, cursor.description or [], strict=True)
                ]
        except psycopg.Error as exc:
            raise _database_error(db, exc, "the query failed: " if query else "") from None
    relation.columns = [str(r[0]) for r in described]
    if since_column is not None:
        kinds = {str(r[0]): r[1] for r in described}
        if since_column not in kinds:
            raise SchemaError(
                f"{relation.label}: the --since-column {since_column!r} is not a column; "
                f"columns are {relation.columns}"
            )
        relation.since_type = kinds[since_column]
    return relation


def _stream(relation: Relation, watermark: str | None) -> Iterator[pa.RecordBatch]:
    """Arrow batches of the rows in order, opaque PostgreSQL types given as their text."""
    dbapi = require("adbc_driver_postgresql.dbapi", "postgres")
    manager = require("adbc_driver_manager", "postgres")
    db = relation.db
    sql, params = relation.select(watermark)
    try:
        connection = dbapi.connect(db.libpq_url())  # type: ignore[attr-defined]
    except manager.Error as exc:  # type: ignore[attr-defined]
        raise _database_error(db, exc) from None
    try:
        with connection.cursor() as cursor:
            cursor.adbc_statement.set_options(
                **{"adbc.postgresql.batch_size_hint_bytes": str(16 << 20)}
            )
            cursor.execute(sql, params or None)
            reader = cursor.fetch_record_batch()
            for batch in reader:
                yield _plain(batch)
    except manager.Error as exc:  # type: ignore[attr-defined]
        raise _database_error(db, exc, "reading failed: ") from None
    finally:
        connection.close()


def _plain(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Extension types (PostgreSQL numeric, json) as their storage: text DuckDB can read."""
    arrays, fields = [], []
    for column, field_ in zip(batch.columns, batch.schema, strict=True):
        if isinstance(field_.type, pa.BaseExtensionType):
            column = column.storage
            field_ = pa.field(field_.name, column.type, metadata=field_.metadata)
        arrays.append(column)
        fields.append(field_)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


#: Bytes of read rows held in memory before they move into a temp table of the store.
MEMORY_ROWS_BYTES = 512 << 20


def _append(con: duckdb.DuckDBPyConnection, batches: list[pa.RecordBatch], exists: bool) -> None:
    con.register("batch", pa.Table.from_batches(batches))
    if exists:
        con.execute("INSERT INTO raw SELECT * FROM batch")
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE raw AS SELECT * FROM batch")
    con.unregister("batch")


def _watermark(con: duckdb.DuckDBPyConnection, source: str) -> str | None:
    row = fetch_one(con.execute("SELECT value FROM watermarks WHERE source = ?", [source]))
    return None if row is None else row[0]


def load_relation(
    con: duckdb.DuckDBPyConnection,
    relation: Relation,
    identity: str,
    reporter: Reporter,
) -> Source:
    """Stream the relation into the temp table ``raw`` of ``con``; a :class:`Source` of it."""
    watermark = _watermark(con, identity) if relation.since_column else None
    counted = 0
    schema: pa.Schema | None = None
    held: list[pa.RecordBatch] = []
    held_bytes = 0
    in_store = False
    for batch in _stream(relation, watermark):
        numbered = batch.append_column(
            LINE, pa.array(range(counted + 1, counted + 1 + batch.num_rows), pa.int64())
        )
        counted += batch.num_rows
        schema = schema or numbered.schema
        held.append(numbered)
        held_bytes += numbered.nbytes
        # Chunks stay in memory (DuckDB scans them in place) up to a limit; past it they
        # go into a temp table of the store, which DuckDB can spill to disk.
        if held_bytes > MEMORY_ROWS_BYTES:
            _append(con, held, in_store)
            in_store, held, held_bytes = True, [], 0
        reporter.step(f"read {counted:,} rows", 0)
    if schema is None:
        schema = pa.schema([pa.field(c, pa.string()) for c in relation.columns]).append(
            pa.field(LINE, pa.int64())
        )
    table: pa.Table | None = None
    if in_store:
        if held:
            _append(con, held, True)
    else:
        table = pa.Table.from_batches(held, schema=schema)
    if table is not None:
        con.register("raw", table)
    # What the rows hold, order included: the same read twice gives the same value.
    columns = ", ".join(ident(f.name) for f in schema)
    summed = fetch_one(
        con.execute(f"SELECT count(*), CAST(sum(hash({columns})::HUGEINT) AS VARCHAR) FROM raw")
    )
    digest = hashlib.sha256(f"{relation.label}\x1f{summed}".encode())
    incremental: dict[str, Any] = {}
    if relation.since_column:
        incremental = {"since_column": relation.since_column, "after": watermark}
    if table is not None:
        con.unregister("raw")
    source = Source(
        label=relation.label,
        identity=identity,
        schema=schema,
        table=table,
        digest=digest.hexdigest(),
        key_columns=relation.key_columns,
        ignore_columns=(relation.since_column,) if relation.since_column else (),
        replace="keys" if relation.since_column else "all",
        incremental=incremental,
    )
    source.rows_read = counted

    if relation.since_column:
        column = relation.since_column

        def keep_watermark(tx: duckdb.DuckDBPyConnection, ingest_id: int) -> None:
            row = fetch_one(tx.execute(f"SELECT CAST(max({ident(column)}) AS VARCHAR) FROM raw"))
            value = row[0] if row else None
            if value is None:
                return
            tx.execute(
                "INSERT OR REPLACE INTO watermarks VALUES (?, ?, ?, ?)",
                [identity, column, value, ingest_id],
            )
            source.incremental["watermark"] = value

        source.after = keep_watermark
    return source


def ingest_database(
    store: Store,
    url: str,
    *,
    table: str | None = None,
    query: str | None = None,
    kind: str = "lines",
    preset: str | Preset = "generic",
    mapping: dict[str, str] | None = None,
    options: CleaningOptions | None = None,
    since_column: str | None = None,
    password_file: str | Path | None = None,
    user_column: str | None = None,
    privacy: PrivacyOptions | None = None,
    reporter: Reporter | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> IngestReport:
    """Ingest a PostgreSQL table or query as order lines, a catalog or customers.

    Parameters
    ----------
    url:
        ``postgresql://USER@HOST:PORT/DB``; the password from the URL, ``PGPASSWORD``,
        ``~/.pgpass`` or ``password_file``.
    table, query:
        A table (``name`` or ``schema.name``) or a ``SELECT`` statement.
    kind:
        ``"lines"``, ``"catalog"`` or ``"customers"``.
    since_column:
        Read only rows whose value in this column is above the one kept from the
        last read (an increasing id or timestamp); rows of a primary key read
        before replace their earlier version.

    The rest is as for :func:`~xsell.data.ingest.ingest_lines`. A rejected row
    records the table and its primary key (``source_key``) where a file records
    its path and line.
    """
    if kind not in ("lines", "catalog", "customers"):
        raise ValidationError(f"kind must be lines, catalog or customers, got {kind!r}")
    reporter = reporter or SilentReporter()
    db = Database.parse(url, password_file)
    spec = get_preset(preset) if isinstance(preset, str) else preset
    if mapping:
        spec = spec.with_mapping(mapping)
    privacy = privacy or PrivacyOptions()
    reporter.step(f"looking up {table or 'the query'}", 0)
    relation = describe(db, table=table, query=query, since_column=since_column)
    identity = f"{relation.label} ({kind})"
    report = IngestReport(path=relation.label, kind=kind, preset=spec.name)
    with own_or_given(store, con) as tx:
        source = load_relation(tx, relation, identity, reporter)
        if since_column is not None and source.rows_read == 0:
            tx.execute("DROP TABLE IF EXISTS raw")
            report.skipped = True
            report.incremental = source.incremental
            report.warnings.append(
                f"{relation.label}: no rows with {since_column} above "
                f"{source.incremental.get('after')!r}; nothing changed"
            )
            return report
        if kind == "lines":
            column_map = auto_map(relation.columns, dict(spec.mapping))
            ingest_source(
                tx,
                source,
                report,
                column_map,
                options or options_of(spec),
                privacy,
                reporter,
                require_kept=since_column is None,
            )
        elif kind == "catalog":
            column_map = {
                **guess_catalog_mapping(relation.columns),
                **spec.catalog_mapping,
                **(mapping or {}),
            }
            ingest_catalog_source(tx, source, report, column_map, privacy, reporter)
        else:
            column = user_column or next(
                (c for c in CUSTOMER_ID_GUESSES if c in relation.columns), None
            )
            ingest_customers_source(tx, source, report, column, privacy)
        if report.skipped:
            tx.execute("DROP TABLE IF EXISTS raw")
    reporter.step("done", 1)
    return report


__all__ = [
    "SCHEMES",
    "Database",
    "Relation",
    "describe",
    "ingest_database",
    "is_database_url",
]
