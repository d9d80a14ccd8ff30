"""Ingest: read a source, clean it, write kept and rejected rows to the store in one transaction.

A source is a file (CSV, Parquet, Excel, basket-per-line) or a PostgreSQL table
or query (:mod:`xsell.data.postgres`); both go through the same presets, mapping,
cleaning and reasons. Several sources given together (orders, catalog,
customers, events) are written in one transaction: all land or none.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from xsell.data import columns as C
from xsell.data.cleaning import (
    REASONS,
    CleaningOptions,
    guess_preset,
    is_numeric,
    kept_lines_sql,
    lines_sql,
    literal,
    number_expr,
    quote,
    raw_json_sql,
    text_expr,
)
from xsell.data.netting import net_cancellations
from xsell.data.presets import CATALOG_GUESSES, Preset, get_preset
from xsell.data.privacy import (
    PrivacyOptions,
    key_check,
    personal_columns,
    pseudonymize_column,
)
from xsell.data.readers import (
    LINE,
    RawTable,
    appendable,
    bom_encoding,
    check_readable,
    read_file,
)
from xsell.data.sql import fetch_one
from xsell.data.store import Store
from xsell.data.versions import record_version
from xsell.errors import InputFileError, SchemaError, StoreError
from xsell.progress import Reporter, SilentReporter

#: Share of unparseable values above which a column is taken to be of the wrong type.
WRONG_TYPE_SHARE = 0.5
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


def _fault(point: str) -> None:
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
def _own_or_given(
    store: Store, con: duckdb.DuckDBPyConnection | None
) -> Iterator[duckdb.DuckDBPyConnection]:
    if con is not None:
        yield con
        return
    with ingest_transaction(store) as own:
        yield own


def _already(
    con: duckdb.DuckDBPyConnection, digest: str, kind: str, identity: str | None
) -> tuple[int, str] | None:
    rows = con.execute(
        "SELECT ingest_id, CAST(finished_at AS VARCHAR) FROM ingests "
        "WHERE content_hash = ? AND kind = ? AND (? IS NULL OR source = ?) "
        "ORDER BY ingest_id DESC LIMIT 1",
        [digest, kind, identity, identity],
    ).fetchall()
    return (int(rows[0][0]), str(rows[0][1])) if rows else None


def _next_id(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT COALESCE(max(ingest_id), 0) + 1 FROM ingests").fetchall()[0][0])


def _auto_map(columns: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """Roles not mapped take a column named like the role itself (``item_id``, ``price``...)."""
    lowered = {c.lower(): c for c in columns}
    mapped = set(mapping.values())
    auto = dict(mapping)
    for role in C.LINE_ROLES:
        column = lowered.get(role)
        if role not in auto and column is not None and column not in mapped:
            auto[role] = column
    return auto


def _check_columns(
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


_NUMBER_ROLES = (C.QUANTITY, C.PRICE)


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


def _check_parsed(con: duckdb.DuckDBPyConnection, label: str, mapping: dict[str, str]) -> None:
    reasons = {
        C.QUANTITY: ("unparseable_quantity", "numbers"),
        C.PRICE: ("unparseable_price", "numbers"),
        C.TIME: ("unparseable_time", "dates/times"),
    }
    total = int(con.execute("SELECT count(*) FROM cleaned").fetchall()[0][0])
    for role, (reason, expected) in reasons.items():
        if role not in mapping:
            continue
        bad = fetch_one(
            con.execute("SELECT count(*), min(source_line) FROM cleaned WHERE reason = ?", [reason])
        )
        assert bad is not None
        if bad[0] and bad[0] > WRONG_TYPE_SHARE * total:
            line = int(bad[1])
            value = fetch_one(
                con.execute(
                    f"SELECT CAST({quote(mapping[role])} AS VARCHAR) FROM raw "
                    f"WHERE {quote(LINE)} = ?",
                    [line],
                )
            )
            raise SchemaError(
                f"{label}: column {mapping[role]!r} ({role}) should hold {expected} but "
                f"{bad[0]:,} of {total:,} rows do not, e.g. row {line}: "
                f"{value[0] if value else None!r}; check --map or --time-format"
            )


def _privacy_mode(
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


def _previous_read(
    con: duckdb.DuckDBPyConnection, identity: str
) -> tuple[int, str, int, int] | None:
    row = fetch_one(
        con.execute(
            "SELECT ingest_id, content_hash, size, last_line FROM ingests "
            "WHERE source = ? AND kind = 'lines' AND size IS NOT NULL "
            "ORDER BY ingest_id DESC LIMIT 1",
            [identity],
        )
    )
    return (int(row[0]), str(row[1]), int(row[2]), int(row[3] or 0)) if row else None


def _appended_part(
    con: duckdb.DuckDBPyConnection, path: Path, layout: str
) -> tuple[tuple[int, int], int] | None:
    """``((bytes, lines), ingest_id)`` already read when ``path`` grew since an earlier ingest."""
    if not appendable(path, layout):
        return None
    previous = _previous_read(con, str(path.resolve()))
    if previous is None:
        return None
    ingest_id, digest, size, last_line = previous
    if path.stat().st_size <= size or content_hash(path, size) != digest:
        return None
    with path.open("rb") as handle:
        if bom_encoding(handle.read(4)) in ("utf-16", "utf-32"):
            return None
        handle.seek(max(size - 1, 0))
        around = handle.read(3)
    if around[:1] in (b"\n", b"\r") or size == 0:
        return (size, last_line), ingest_id
    # The earlier read ended without a line break: the line must end here, unchanged.
    if around[1:2] == b"\n":
        return (size + 1, last_line), ingest_id
    if around[1:3] == b"\r\n":
        return (size + 2, last_line), ingest_id
    raise InputFileError(
        f"{path}: grew since ingest #{ingest_id}, but its last line then (line {last_line}) "
        "had no line break and was continued; ingest the file into a new store, or append "
        "only whole lines"
    )


def ingest_lines(
    store: Store,
    path: str | Path,
    *,
    preset: str | Preset = "generic",
    mapping: dict[str, str] | None = None,
    options: CleaningOptions | None = None,
    delimiter: str | None = None,
    quote: str = '"',
    header: bool = True,
    encoding: str | None = None,
    privacy: PrivacyOptions | None = None,
    reporter: Reporter | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> IngestReport:
    """Ingest a file of order lines (or events) into ``store``.

    Parameters
    ----------
    store:
        Destination store; created if absent.
    path:
        CSV, Parquet, Excel or basket-per-line file. A text file that grew by
        lines appended since it was last ingested loads only the new lines.
    preset:
        Name of a :data:`~xsell.data.presets.PRESETS` entry or a :class:`Preset`.
    mapping:
        Role -> column, overriding the preset's mapping.
    options:
        Cleaning options; the preset's when ``None``.
    delimiter, quote, header, encoding:
        How a CSV file is written: field separator (sniffed when ``None``), the
        character quoting values that hold it (``''``: none; a quoted value may
        not span lines), whether the first line names the columns, and the text
        encoding (a BOM's, else UTF-8 or Latin-1 detected when ``None``).
    privacy:
        Pseudonym key and columns to keep although they look personal.
    con:
        A connection from :func:`ingest_transaction`, to write several sources
        in one transaction.

    Returns
    -------
    IngestReport
        Counts read, kept and rejected per reason. When the same file was ingested
        before, nothing is written and ``skipped`` is true.
    """
    reporter = reporter or SilentReporter()
    path = Path(path)
    spec = get_preset(preset) if isinstance(preset, str) else preset
    if mapping:
        spec = spec.with_mapping(mapping)
    options = options or options_of(spec)
    report = IngestReport(path=str(path), kind="lines", preset=spec.name)
    check_readable(path)  # before anything opens it: a FIFO or /dev/zero would never end
    with _own_or_given(store, con) as tx:
        reporter.step(f"reading {path.name}", 0)
        skip = None
        try:
            appended = _appended_part(tx, path, spec.layout)
        except OSError:
            appended = None
        if appended is not None:
            skip, since = appended
            report.incremental = {"after_ingest": since, "from_line": skip[1] + 1}
        # hashlib and Arrow both release the GIL: the hash is free while the file is parsed.
        with ThreadPoolExecutor(max_workers=1) as pool:
            hashing = pool.submit(content_hash, path)
            try:
                raw = read_file(
                    path,
                    layout=spec.layout,
                    delimiter=delimiter or spec.delimiter,
                    quote=quote,
                    header=header,
                    encoding=encoding,
                    skip=skip,
                )
            finally:
                try:
                    digest = hashing.result()
                except OSError:
                    digest = ""
        source = Source.of_file(raw, digest, size=path.stat().st_size)
        if skip is not None and raw.table.num_rows == 0:
            report.skipped = True
            report.warnings.append(f"{path}: no new lines since ingest #{since}; nothing changed")
            return report
        column_map = (
            {C.BASKET: "basket", C.ITEM: "item"}
            if spec.layout == "baskets"
            else _auto_map(raw.columns, dict(spec.mapping))
        )
        ingest_source(
            tx,
            source,
            report,
            column_map,
            options,
            privacy or PrivacyOptions(),
            reporter,
            require_kept=skip is None,
        )
    reporter.step("done", 1)
    return report


def options_of(spec: Preset) -> CleaningOptions:
    """The cleaning options a preset implies."""
    return CleaningOptions(
        cancel_prefix=spec.cancel_prefix,
        non_product_codes=spec.non_product_codes,
        time_format=spec.time_format,
        price_is_line_total=spec.price_is_line_total,
    )


def ingest_source(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    report: IngestReport,
    column_map: dict[str, str],
    options: CleaningOptions,
    privacy: PrivacyOptions,
    reporter: Reporter,
    require_kept: bool = True,
) -> None:
    """Clean ``source`` as order lines and write it (inside the caller's transaction)."""
    label = source.label
    report.encoding = source.encoding
    if source.blank_lines:
        report.flags["blank_lines"] = source.blank_lines
        report.warnings.append(
            f"{source.blank_lines:,} blank lines (no values at all) were skipped"
        )
    required = (C.ITEM,) if C.EVENT in column_map else (C.ITEM, C.BASKET)
    _check_columns(label, source.columns, column_map, required)
    check_types(label, source.schema, column_map)
    if _skipped(con, report, source.digest, source.identity):
        return
    _privacy_mode(con, privacy, label, C.USER in column_map)
    ingest_id = report.ingest_id = _next_id(con)
    started = datetime.now()
    _register(con, source)
    options = _with_keys(options, source)
    mapped = set(column_map.values()) | set(source.key_columns)
    report.dropped_columns = personal_columns(
        con,
        "raw",
        source.schema,
        [c for c in source.columns if c not in mapped],
        privacy.keep_columns,
    )
    reporter.step("cleaning", 2)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE cleaned AS {lines_sql(source.schema, column_map, options)}"
    )
    _check_parsed(con, label, column_map)
    if privacy.key is not None and C.USER in column_map:
        pseudonymize_column(con, "cleaned", "user_id", privacy.key)
        report.pseudonymized = True
    _replace_earlier(con, source, report)
    if options.cancel_prefix and C.BASKET in column_map:
        netting = net_cancellations(con, ingest_id, options.price_is_line_total)
        report.netting = {
            "netted": netting.netted,
            "netted_earlier_ingests": netting.netted_earlier,
            "unmatched": netting.unmatched,
        }
    _profile(con, report, options, column_map)
    if report.rows_kept == 0 and require_kept and report.rows_in:
        top = ", ".join(f"{r}: {n:,}" for r, n in report.reasons.items())
        raise InputFileError(
            f"{label}: every one of its {report.rows_in:,} rows was rejected ({top}); "
            "nothing was written; check --preset and --map"
        )
    reporter.step("writing", 1)
    con.execute(
        f"INSERT INTO lines (ingest_id, source_line, basket_id, user_id, item_id, time, "
        f"quantity, price, event, source_key) "
        f"{kept_lines_sql(options, C.QUANTITY in column_map, source.replace == 'keys')}",
        [ingest_id],
    )
    _fault("ingest-after-lines")
    replace = (
        {column_map[C.USER]: "c.user_id"} if report.pseudonymized and C.USER in column_map else {}
    )
    raw_json = raw_json_sql(source.schema, list(report.dropped_columns), replace)
    con.execute(
        "INSERT INTO rejected (ingest_id, path, source_line, reason, detail, raw, source_key, "
        f"user_id) SELECT ?, ?, c.source_line, c.reason, c.detail, {raw_json}, c.source_key, "
        f"c.user_id FROM cleaned c JOIN raw r ON r.{quote(LINE)} = c.source_line "
        "WHERE c.reason IS NOT NULL ORDER BY c.source_line",
        [ingest_id, label],
    )
    _upsert_items_from_lines(con)
    _warn_catalog_gaps(con, report)
    if report.dropped_columns:
        report.warnings.append(
            "personal-data columns left out of the store: "
            + ", ".join(f"{c} ({why})" for c, why in report.dropped_columns.items())
            + "; keep one with --keep-column NAME"
        )
    if source.after is not None:
        source.after(con, ingest_id)
    report.incremental = {**source.incremental, **report.incremental}
    _finish(con, report, source, started)
    _fault("ingest-before-commit")


def _with_keys(options: CleaningOptions, source: Source) -> CleaningOptions:
    from dataclasses import replace

    return replace(options, key_columns=source.key_columns, ignore_columns=source.ignore_columns)


def _register(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    if source.table is not None:
        con.register("raw", source.table)
    elif source.load is not None:
        source.load(con)


def _unregister(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    if source.table is not None:
        con.unregister("raw")
    else:
        con.execute("DROP TABLE IF EXISTS raw")


def _replace_earlier(con: duckdb.DuckDBPyConnection, source: Source, report: IngestReport) -> None:
    """A snapshot read replaces earlier reads of its source; a keyed read, their rows' keys."""
    if source.replace == "none":
        return
    earlier = "ingest_id IN (SELECT ingest_id FROM ingests WHERE source = ? AND kind = ?)"
    params: list[Any] = [source.identity, report.kind]
    if source.replace == "keys":
        where = f"{earlier} AND source_key IN (SELECT source_key FROM cleaned)"
    else:
        where = earlier
    removed = 0
    for table in ("lines", "rejected"):
        row = fetch_one(con.execute(f"SELECT count(*) FROM {table} WHERE {where}", params))
        removed += int(row[0]) if row else 0
        con.execute(f"DELETE FROM {table} WHERE {where}", params)
    if removed:
        report.flags["replaced_rows"] = removed
        report.warnings.append(
            f"{removed:,} rows read earlier from this source were replaced by this read"
        )


def _finish(
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
    _unregister(con, source)


def _count_reasons(con: duckdb.DuckDBPyConnection, report: IngestReport, rows_in: int) -> None:
    counts = con.execute(
        "SELECT reason, count(*) FROM cleaned WHERE reason IS NOT NULL GROUP BY reason"
    ).fetchall()
    report.rows_in = rows_in
    report.reasons = {str(k): int(v) for k, v in counts}
    report.rows_rejected = sum(report.reasons.values())
    report.rows_kept = rows_in - report.rows_rejected


def _skipped(
    con: duckdb.DuckDBPyConnection, report: IngestReport, digest: str, identity: str | None
) -> bool:
    """Mark ``report`` skipped when a source with the same content was ingested before.

    A file counts as the same wherever it lies; a database read only for its own source.
    """
    scope = identity if identity and "://" in identity else None
    previous = _already(con, digest, report.kind, scope)
    if previous is None:
        return False
    report.skipped = True
    report.ingest_id = previous[0]
    report.warnings.append(
        f"{report.path} was already ingested (ingest #{previous[0]} at {previous[1]}); "
        "nothing changed"
    )
    return True


def _profile(
    con: duckdb.DuckDBPyConnection,
    report: IngestReport,
    options: CleaningOptions,
    mapping: dict[str, str],
) -> None:
    """Fill the report: raw figures (as a shop would count them), reasons, flags, kept figures.

    One scan of ``cleaned`` gives the raw and the kept figures together.
    """
    cancelled = (
        f"count(*) FILTER (WHERE starts_with(basket, {literal(options.cancel_prefix)}))"
        if options.cancel_prefix and C.BASKET in mapping
        else "NULL"
    )
    row = fetch_one(
        con.execute(
            "SELECT count(*), count(DISTINCT basket), count(DISTINCT item), "
            "count(DISTINCT user_id), "
            f"count(user_id), {cancelled}, "
            "count(*) FILTER (WHERE reason IS NULL), "
            "count(DISTINCT basket) FILTER (WHERE reason IS NULL), "
            "count(DISTINCT item) FILTER (WHERE reason IS NULL), "
            "count(DISTINCT user_id) FILTER (WHERE reason IS NULL), "
            "count(*) FILTER (WHERE reason IS NULL AND user_id IS NULL), "
            "count(*) FILTER (WHERE reason IS NULL AND time_value IS NULL), "
            "CAST(min(time_value) FILTER (WHERE reason IS NULL) AS VARCHAR), "
            "CAST(max(time_value) FILTER (WHERE reason IS NULL) AS VARCHAR) "
            "FROM cleaned"
        )
    )
    assert row is not None
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
    counts = dict(
        con.execute(
            "SELECT reason, count(*) FROM cleaned WHERE reason IS NOT NULL GROUP BY reason"
        ).fetchall()
    )
    report.reasons = {r: int(counts[r]) for r in REASONS if r in counts}
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


def _upsert_items_from_lines(con: duckdb.DuckDBPyConnection) -> None:
    """Items seen in lines but not in the catalog get a row from the lines' own names and prices.

    Names seen in lines also fill gaps left by earlier line files without names. Of
    several names (or categories), the most frequent wins, ties to the first in
    sort order, so the same file always gives the same names.
    """
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE seen_items AS
        WITH kept AS (SELECT item, name, category, price_value FROM cleaned
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
    )
    con.execute(
        "INSERT OR IGNORE INTO items "
        "SELECT item, name, category, NULL, price, NULL, NULL, false FROM seen_items"
    )
    con.execute(
        """
        UPDATE items SET name = src.name FROM seen_items AS src
        WHERE items.item_id = src.item AND items.name IS NULL AND src.name IS NOT NULL
              AND NOT items.from_catalog
        """
    )
    con.execute("DROP TABLE seen_items")


def _warn_catalog_gaps(con: duckdb.DuckDBPyConnection, report: IngestReport) -> None:
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


def _guess_catalog_mapping(columns: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    lowered = {c.lower(): c for c in columns}
    for role, names in CATALOG_GUESSES.items():
        for name in names:
            if name.lower() in lowered:
                mapping[role] = lowered[name.lower()]
                break
    return mapping


def _instacart_categories(raw: RawTable) -> pa.Table:
    """Instacart products name aisle and department by id; join the sibling files when present."""
    folder = raw.path.parent
    aisles, departments = folder / "aisles.csv", folder / "departments.csv"
    if not (aisles.exists() and departments.exists()):
        return raw.table
    con = duckdb.connect()
    con.register("products", raw.table)
    table = con.sql(
        f"""
        SELECT p.*, d.department, a.aisle
        FROM products p
        LEFT JOIN read_csv(?, all_varchar=true) a USING (aisle_id)
        LEFT JOIN read_csv(?, all_varchar=true) d USING (department_id)
        ORDER BY p.{quote(LINE)}
        """,
        params=[str(aisles), str(departments)],
    ).to_arrow_table()
    con.close()
    return table


def _attributes_sql(columns: list[str]) -> str:
    if not columns:
        return "NULL"
    return "to_json({" + ", ".join(f"{literal(c)}: {quote(c)}" for c in columns) + "})"


def ingest_catalog(
    store: Store,
    path: str | Path,
    *,
    preset: str | Preset = "generic",
    mapping: dict[str, str] | None = None,
    privacy: PrivacyOptions | None = None,
    reporter: Reporter | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> IngestReport:
    """Ingest a product catalog: item id, name, category, brand, price, in-stock, other attributes.

    Catalog rows replace earlier rows of the same item. Columns that are not mapped
    are kept as JSON ``attributes`` (personal-data columns left out).
    """
    reporter = reporter or SilentReporter()
    path = Path(path)
    spec = get_preset(preset) if isinstance(preset, str) else preset
    raw = read_file(path)
    if spec.name == "instacart":
        raw = RawTable(raw.path, _instacart_categories(raw), raw.encoding)
    # Instacart's department (joined above) is its category unless ``--map`` names another.
    joined = (
        {C.CATEGORY: "department"}
        if spec.name == "instacart" and "department" in raw.columns
        else {}
    )
    column_map = {
        **_guess_catalog_mapping(raw.columns),
        **spec.catalog_mapping,
        **joined,
        **(mapping or {}),
    }
    source = Source.of_file(raw, content_hash(path))
    report = IngestReport(path=str(path), kind="catalog", preset=spec.name, encoding=raw.encoding)
    with _own_or_given(store, con) as tx:
        ingest_catalog_source(tx, source, report, column_map, privacy or PrivacyOptions(), reporter)
    return report


def ingest_catalog_source(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    report: IngestReport,
    column_map: dict[str, str],
    privacy: PrivacyOptions,
    reporter: Reporter,
) -> None:
    """Clean ``source`` as a catalog and write it (inside the caller's transaction)."""
    label = source.label
    _check_columns(label, source.columns, column_map, (C.ITEM,))
    check_types(label, source.schema, column_map)
    types = {f.name: f.type for f in source.schema}

    def text(role: str) -> str:
        return (
            text_expr(column_map[role], types[column_map[role]]) if role in column_map else "NULL"
        )

    price = (
        number_expr(column_map[C.PRICE], types[column_map[C.PRICE]])
        if C.PRICE in column_map
        else "NULL"
    )
    stock = (
        f"CASE WHEN lower({text(C.IN_STOCK)}) IN ('1','true','yes','y','t','in stock') THEN true "
        f"WHEN lower({text(C.IN_STOCK)}) IN ('0','false','no','n','f','out of stock') "
        "THEN false END"
        if C.IN_STOCK in column_map
        else "NULL"
    )
    price_raw = (
        f"NULLIF(TRIM(CAST({quote(column_map[C.PRICE])} AS VARCHAR)), '')"
        if C.PRICE in column_map
        else "NULL"
    )
    if _skipped(con, report, source.digest, source.identity):
        return
    ingest_id = report.ingest_id = _next_id(con)
    started = datetime.now()
    _register(con, source)
    mapped = set(column_map.values()) | set(source.key_columns)
    report.dropped_columns = personal_columns(
        con,
        "raw",
        source.schema,
        [c for c in source.columns if c not in mapped],
        privacy.keep_columns,
    )
    extra = [
        c
        for c in source.columns
        if c not in column_map.values() and c not in report.dropped_columns
    ]
    raw_json = _attributes_sql([c for c in source.columns if c not in report.dropped_columns])
    reporter.step("cleaning catalog", 1)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE cleaned AS
        WITH parsed AS (
            SELECT {quote(LINE)} AS source_line, {text(C.ITEM)} AS item, {text(C.NAME)} AS name,
                   {text(C.CATEGORY)} AS category, {text(C.BRAND)} AS brand,
                   {price} AS price_value, {stock} AS in_stock,
                   {_attributes_sql(extra)} AS attributes,
                   row_number() OVER (PARTITION BY {text(C.ITEM)} ORDER BY {quote(LINE)})
                       AS dup_rank,
                   {price_raw} AS price_raw, {raw_json} AS raw
            FROM raw
        )
        SELECT *, CASE WHEN item IS NULL THEN 'missing_item'
                       WHEN price_raw IS NOT NULL AND price_value IS NULL
                       THEN 'unparseable_price'
                       WHEN price_value IS NOT NULL AND NOT isfinite(price_value)
                       THEN 'not_finite'
                       WHEN dup_rank > 1 THEN 'duplicate_item' END AS reason
        FROM parsed
        """
    )
    rows = int(con.execute("SELECT count(*) FROM cleaned").fetchall()[0][0])
    _count_reasons(con, report, rows)
    if report.rows_kept == 0:
        raise InputFileError(
            f"{label}: every one of its {report.rows_in:,} catalog rows was rejected "
            f"({report.reasons}); nothing was written"
        )
    con.execute(
        """
        INSERT OR REPLACE INTO items
        SELECT item, name, category, brand, price_value, in_stock, attributes, true
        FROM cleaned WHERE reason IS NULL
        """
    )
    con.execute(
        "INSERT INTO rejected (ingest_id, path, source_line, reason, detail, raw) "
        "SELECT ?, ?, source_line, reason, reason, raw FROM cleaned WHERE reason IS NOT NULL",
        [ingest_id, label],
    )
    unsold = con.execute(
        "SELECT count(*) FROM cleaned c WHERE reason IS NULL AND NOT EXISTS "
        "(SELECT 1 FROM lines l WHERE l.item_id = c.item)"
    ).fetchall()[0][0]
    has_lines = con.execute("SELECT count(*) FROM lines").fetchall()[0][0]
    if has_lines and unsold:
        report.warnings.append(
            f"{unsold:,} catalog items have no order lines yet (kept: content-based models "
            "can still suggest them)"
        )
    _warn_catalog_gaps(con, report)
    report.kept_profile = {"items": report.rows_kept}
    _finish(con, report, source, started)


#: Column names taken as the customer id of a customers file, in this order.
CUSTOMER_ID_GUESSES = ("user_id", "customer_id", "CustomerID", "Customer ID", "household_id", "id")


def ingest_customers(
    store: Store,
    path: str | Path,
    *,
    user_column: str | None = None,
    privacy: PrivacyOptions | None = None,
    reporter: Reporter | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> IngestReport:
    """Ingest a customers file: one row per customer id, the other columns as attributes.

    Personal-data columns (names, e-mails, phones, addresses) are left out unless
    kept with ``privacy.keep_columns``.
    """
    path = Path(path)
    raw = read_file(path)
    source = Source.of_file(raw, content_hash(path))
    report = IngestReport(path=str(path), kind="customers", preset="generic", encoding=raw.encoding)
    with _own_or_given(store, con) as tx:
        ingest_customers_source(tx, source, report, user_column, privacy or PrivacyOptions())
    return report


def ingest_customers_source(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    report: IngestReport,
    user_column: str | None,
    privacy: PrivacyOptions,
) -> None:
    """Write the customers of ``source`` (inside the caller's transaction)."""
    label = source.label
    column = user_column or next((c for c in CUSTOMER_ID_GUESSES if c in source.columns), None)
    if column is None or column not in source.columns:
        raise SchemaError(
            f"{label}: no customer id column (looked for {list(CUSTOMER_ID_GUESSES)}); "
            f"columns are {source.columns}; name it with --customer-column"
        )
    check_types(label, source.schema, {C.USER: column})
    types = {f.name: f.type for f in source.schema}
    if _skipped(con, report, source.digest, source.identity):
        return
    _privacy_mode(con, privacy, label, True)
    ingest_id = report.ingest_id = _next_id(con)
    started = datetime.now()
    _register(con, source)
    report.dropped_columns = personal_columns(
        con,
        "raw",
        source.schema,
        [c for c in source.columns if c != column and c not in source.key_columns],
        privacy.keep_columns,
    )
    extra = [c for c in source.columns if c != column and c not in report.dropped_columns]
    shown = [c for c in source.columns if c not in report.dropped_columns]
    uid = text_expr(column, types[column], is_id=True)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE cleaned AS SELECT {quote(LINE)} AS source_line,
            {uid} AS user_id, {_attributes_sql(extra)} AS attributes,
            {_attributes_sql([c for c in shown if c != column])} AS raw_rest,
            CASE WHEN {uid} IS NULL THEN 'missing_user'
                 WHEN row_number() OVER (PARTITION BY {uid} ORDER BY {quote(LINE)}) > 1
                 THEN 'duplicate_user' END AS reason
            FROM raw"""
    )
    if privacy.key is not None:
        pseudonymize_column(con, "cleaned", "user_id", privacy.key)
        report.pseudonymized = True
    rows = int(con.execute("SELECT count(*) FROM cleaned").fetchall()[0][0])
    _count_reasons(con, report, rows)
    con.execute(
        "INSERT OR REPLACE INTO customers (user_id, attributes, ingest_id) "
        "SELECT user_id, attributes, ? FROM cleaned WHERE reason IS NULL",
        [ingest_id],
    )
    con.execute(
        "INSERT INTO rejected (ingest_id, path, source_line, reason, detail, raw, user_id) "
        f"SELECT ?, ?, source_line, reason, reason, json_merge_patch("
        f"COALESCE(raw_rest, '{{}}'::JSON), to_json({{{literal(column)}: user_id}})), user_id "
        "FROM cleaned WHERE reason IS NOT NULL",
        [ingest_id, label],
    )
    if report.dropped_columns:
        report.warnings.append(
            "personal-data columns left out of the store: "
            + ", ".join(f"{c} ({why})" for c, why in report.dropped_columns.items())
            + "; keep one with --keep-column NAME"
        )
    _finish(con, report, source, started)
