"""Ingest: read a file, clean it, write kept and rejected rows to the store in one transaction."""

from __future__ import annotations

import hashlib
import os
import signal
from concurrent.futures import ThreadPoolExecutor
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
    kept_lines_sql,
    lines_sql,
    literal,
    raw_json_sql,
)
from xsell.data.presets import CATALOG_GUESSES, Preset, get_preset
from xsell.data.readers import LINE, RawTable, read_file
from xsell.data.store import Store
from xsell.errors import InputFileError, SchemaError
from xsell.progress import Reporter, SilentReporter

#: Share of unparseable values above which a column is taken to be of the wrong type.
WRONG_TYPE_SHARE = 0.5


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes, the key that makes re-ingesting a file a no-op."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fault(point: str) -> None:
    # A seam for the crash tests: the process kills itself for real at this point.
    if os.environ.get("XSELL_FAULT") == point:
        os.kill(os.getpid(), signal.SIGKILL)


def _already(con: duckdb.DuckDBPyConnection, digest: str, kind: str) -> tuple[int, str] | None:
    rows = con.execute(
        "SELECT ingest_id, CAST(finished_at AS VARCHAR) FROM ingests "
        "WHERE content_hash = ? AND kind = ?",
        [digest, kind],
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


def _check_columns(raw: RawTable, mapping: dict[str, str], required: tuple[str, ...]) -> None:
    existing = raw.columns
    for role in required:
        if role not in mapping:
            guess = guess_preset(existing)
            hint = f"; try --preset {guess}" if guess else ""
            raise SchemaError(
                f"{raw.path}: no column is mapped to {role!r}; map one with --map "
                f"{role.removesuffix('_id')}=COLUMN (columns in the file: {existing}){hint}"
            )
    for role, column in mapping.items():
        if column not in existing:
            guess = guess_preset(existing)
            hint = f"; try --preset {guess}" if guess else ""
            raise SchemaError(
                f"{raw.path}: column {column!r} (for {role}) is not in the file; "
                f"columns are {existing}{hint}"
            )


def _check_types(con: duckdb.DuckDBPyConnection, raw: RawTable, mapping: dict[str, str]) -> None:
    reasons = {
        C.QUANTITY: ("unparseable_quantity", "numbers"),
        C.PRICE: ("unparseable_price", "numbers"),
        C.TIME: ("unparseable_time", "dates/times"),
    }
    total = raw.table.num_rows
    for role, (reason, expected) in reasons.items():
        if role not in mapping:
            continue
        bad = con.execute(
            "SELECT count(*), min(source_line) FROM cleaned WHERE reason = ?", [reason]
        ).fetchone()
        assert bad is not None
        if bad[0] and bad[0] > WRONG_TYPE_SHARE * total:
            line = int(bad[1])
            value = con.execute(
                f'SELECT CAST("{mapping[role]}" AS VARCHAR) FROM raw WHERE "{LINE}" = ?', [line]
            ).fetchone()
            raise SchemaError(
                f"{raw.path}: column {mapping[role]!r} ({role}) should hold {expected} but "
                f"{bad[0]:,} of {total:,} rows do not, e.g. row {line}: "
                f"{value[0] if value else None!r}; check --map or --time-format"
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
    reporter: Reporter | None = None,
) -> IngestReport:
    """Ingest a file of order lines (or events) into ``store``.

    Parameters
    ----------
    store:
        Destination store; created if absent.
    path:
        CSV, Parquet, Excel or basket-per-line file.
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
        encoding (UTF-8 or Latin-1 detected when ``None``).

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
    if options is None:
        options = CleaningOptions(
            cancel_prefix=spec.cancel_prefix,
            non_product_codes=spec.non_product_codes,
            time_format=spec.time_format,
            price_is_line_total=spec.price_is_line_total,
        )
    report = IngestReport(path=str(path), kind="lines", preset=spec.name)
    reporter.step(f"reading {path.name}", 0)
    # hashlib and Arrow both release the GIL: the hash is free while the file is parsed.
    with ThreadPoolExecutor(max_workers=1) as pool:
        hashing = pool.submit(content_hash, path)
        raw = read_file(
            path,
            layout=spec.layout,
            delimiter=delimiter or spec.delimiter,
            quote=quote,
            header=header,
            encoding=encoding,
        )
        digest = hashing.result()
    report.encoding = raw.encoding
    if raw.blank_lines:
        report.flags["blank_lines"] = raw.blank_lines
        report.warnings.append(f"{raw.blank_lines:,} blank lines (no values at all) were skipped")
    column_map = dict(spec.mapping)
    if spec.layout == "baskets":
        column_map = {C.BASKET: "basket", C.ITEM: "item"}
    else:
        column_map = _auto_map(raw.columns, column_map)
    required = (C.ITEM,) if C.EVENT in column_map else (C.ITEM, C.BASKET)
    _check_columns(raw, column_map, required)

    with store.transaction() as con:
        if _skipped(con, report, digest):
            return report
        ingest_id = report.ingest_id = _next_id(con)
        started = datetime.now()
        con.register("raw", raw.table)
        reporter.step("cleaning", 2)
        con.execute(
            f"CREATE TEMP TABLE cleaned AS {lines_sql(raw.table.schema, column_map, options)}"
        )
        _check_types(con, raw, column_map)
        _profile(con, report, spec, column_map, raw)
        if report.rows_kept == 0:
            top = ", ".join(f"{r}: {n:,}" for r, n in report.reasons.items())
            raise InputFileError(
                f"{path}: every one of its {report.rows_in:,} rows was rejected ({top}); "
                "nothing was written; check --preset and --map"
            )
        reporter.step("writing", 1)
        con.execute(
            f"INSERT INTO lines {kept_lines_sql(options, C.QUANTITY in column_map)}", [ingest_id]
        )
        _fault("ingest-after-lines")
        con.execute(
            f"INSERT INTO rejected SELECT ?, ?, c.source_line, c.reason, c.detail, "
            f"{raw_json_sql(raw.table.schema)} FROM cleaned c "
            f'JOIN raw r ON r."{LINE}" = c.source_line '
            "WHERE c.reason IS NOT NULL ORDER BY c.source_line",
            [ingest_id, str(path)],
        )
        _upsert_items_from_lines(con, ingest_id)
        _warn_catalog_gaps(con, report)
        _finish(con, report, digest, started)
        _fault("ingest-before-commit")
    reporter.step("done", 1)
    return report


def _finish(
    con: duckdb.DuckDBPyConnection, report: IngestReport, digest: str, started: datetime
) -> None:
    """Log the ingest and drop its working tables (inside the ingest's transaction)."""
    con.execute(
        "INSERT INTO ingests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            report.ingest_id,
            report.path,
            digest,
            report.kind,
            report.preset,
            report.rows_in,
            report.rows_kept,
            report.rows_rejected,
            started,
            datetime.now(),
            _json(report),
        ],
    )
    con.execute("DROP TABLE cleaned")
    con.unregister("raw")


def _count_reasons(con: duckdb.DuckDBPyConnection, report: IngestReport, rows_in: int) -> None:
    counts = con.execute(
        "SELECT reason, count(*) FROM cleaned WHERE reason IS NOT NULL GROUP BY reason"
    ).fetchall()
    report.rows_in = rows_in
    report.reasons = {str(k): int(v) for k, v in counts}
    report.rows_rejected = sum(report.reasons.values())
    report.rows_kept = rows_in - report.rows_rejected


def _skipped(con: duckdb.DuckDBPyConnection, report: IngestReport, digest: str) -> bool:
    """Mark ``report`` skipped when a file with the same content was ingested before."""
    previous = _already(con, digest, report.kind)
    if previous is None:
        return False
    report.skipped = True
    report.ingest_id = previous[0]
    report.warnings.append(
        f"{report.path} was already ingested (ingest #{previous[0]} at {previous[1]}); "
        "nothing changed"
    )
    return True


def _json(report: IngestReport) -> str:
    import json

    return json.dumps(report.to_dict(), default=str)


def _profile(
    con: duckdb.DuckDBPyConnection,
    report: IngestReport,
    spec: Preset,
    mapping: dict[str, str],
    raw: RawTable,
) -> None:
    """Fill the report: raw figures (as a shop would count them), reasons, flags, kept figures.

    One scan of ``cleaned`` gives the raw and the kept figures together.
    """
    cancelled = (
        f"count(*) FILTER (WHERE starts_with(basket, {literal(spec.cancel_prefix)}))"
        if spec.cancel_prefix and C.BASKET in mapping
        else "NULL"
    )
    row = con.execute(
        "SELECT count(*), count(DISTINCT basket), count(DISTINCT item), count(DISTINCT user_id), "
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
    ).fetchone()
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


def _upsert_items_from_lines(con: duckdb.DuckDBPyConnection, ingest_id: int) -> None:
    """Items seen in lines but not in the catalog get a row from the lines' own names and prices.

    Names seen in lines also fill gaps left by earlier line files without names.
    """
    con.execute(
        """
        CREATE TEMP TABLE seen_items AS
        SELECT item, mode(name) AS name, mode(category) AS category,
               median(price_value) AS price
        FROM cleaned WHERE reason IS NULL GROUP BY item
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
    row = con.execute(
        "SELECT count(*) FILTER (WHERE from_catalog), count(*) FILTER (WHERE NOT from_catalog) "
        "FROM items"
    ).fetchone()
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
        LEFT JOIN read_csv('{aisles}', all_varchar=true) a USING (aisle_id)
        LEFT JOIN read_csv('{departments}', all_varchar=true) d USING (department_id)
        ORDER BY p."{LINE}"
        """
    ).to_arrow_table()
    con.close()
    return table


def ingest_catalog(
    store: Store,
    path: str | Path,
    *,
    preset: str | Preset = "generic",
    mapping: dict[str, str] | None = None,
    reporter: Reporter | None = None,
) -> IngestReport:
    """Ingest a product catalog: item id, name, category, brand, price, in-stock, other attributes.

    Catalog rows replace earlier rows of the same item. Columns that are not mapped
    are kept as JSON ``attributes``.
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
    _check_columns(raw, column_map, (C.ITEM,))
    report = IngestReport(path=str(path), kind="catalog", preset=spec.name, encoding=raw.encoding)
    digest = content_hash(path)
    types = {f.name: f.type for f in raw.table.schema}
    from xsell.data.cleaning import number_expr, quote, text_expr

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
    extra = [c for c in raw.columns if c not in column_map.values()]
    attributes = (
        "to_json({" + ", ".join(f"'{c}': {quote(c)}" for c in extra) + "})" if extra else "NULL"
    )
    price_raw = (
        f"NULLIF(TRIM(CAST({quote(column_map[C.PRICE])} AS VARCHAR)), '')"
        if C.PRICE in column_map
        else "NULL"
    )
    raw_json = "to_json({" + ", ".join(f"'{c}': {quote(c)}" for c in raw.columns) + "})"
    with store.transaction() as con:
        if _skipped(con, report, digest):
            return report
        ingest_id = report.ingest_id = _next_id(con)
        started = datetime.now()
        con.register("raw", raw.table)
        reporter.step("cleaning catalog", 1)
        con.execute(
            f"""
            CREATE TEMP TABLE cleaned AS
            WITH parsed AS (
                SELECT "{LINE}" AS source_line, {text(C.ITEM)} AS item, {text(C.NAME)} AS name,
                       {text(C.CATEGORY)} AS category, {text(C.BRAND)} AS brand,
                       {price} AS price_value, {stock} AS in_stock, {attributes} AS attributes,
                       row_number() OVER (PARTITION BY {text(C.ITEM)} ORDER BY "{LINE}")
                           AS dup_rank,
                       {price_raw} AS price_raw, {raw_json} AS raw
                FROM raw
            )
            SELECT *, CASE WHEN item IS NULL THEN 'missing_item'
                           WHEN price_raw IS NOT NULL AND price_value IS NULL
                           THEN 'unparseable_price'
                           WHEN dup_rank > 1 THEN 'duplicate_item' END AS reason
            FROM parsed
            """
        )
        _count_reasons(con, report, raw.table.num_rows)
        if report.rows_kept == 0:
            raise InputFileError(
                f"{path}: every one of its {report.rows_in:,} catalog rows was rejected "
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
            "INSERT INTO rejected SELECT ?, ?, source_line, reason, reason, raw FROM cleaned "
            "WHERE reason IS NOT NULL",
            [ingest_id, str(path)],
        )
        unsold = con.execute(
            "SELECT count(*) FROM cleaned c WHERE reason IS NULL AND NOT EXISTS "
            "(SELECT 1 FROM lines l WHERE l.item_id = c.item)"
        ).fetchone()[0]  # type: ignore[index]
        has_lines = con.execute("SELECT count(*) FROM lines").fetchone()[0]  # type: ignore[index]
        if has_lines and unsold:
            report.warnings.append(
                f"{unsold:,} catalog items have no order lines yet (kept: content-based models "
                "can still suggest them)"
            )
        _warn_catalog_gaps(con, report)
        report.kept_profile = {"items": report.rows_kept}
        _finish(con, report, digest, started)
    return report


def ingest_customers(
    store: Store,
    path: str | Path,
    *,
    user_column: str | None = None,
    reporter: Reporter | None = None,
) -> IngestReport:
    """Ingest a customers file: one row per customer id, the other columns as attributes."""
    path = Path(path)
    raw = read_file(path)
    guesses = ("user_id", "customer_id", "CustomerID", "Customer ID", "household_id", "id")
    column = user_column or next((c for c in guesses if c in raw.columns), None)
    if column is None or column not in raw.columns:
        raise SchemaError(
            f"{path}: no customer id column (looked for {list(guesses)}); columns are "
            f"{raw.columns}; name it with --customer-column"
        )
    from xsell.data.cleaning import quote, text_expr

    types = {f.name: f.type for f in raw.table.schema}
    extra = [c for c in raw.columns if c != column]
    attributes = (
        "to_json({" + ", ".join(f"'{c}': {quote(c)}" for c in extra) + "})" if extra else "NULL"
    )
    raw_json = "to_json({" + ", ".join(f"'{c}': {quote(c)}" for c in raw.columns) + "})"
    report = IngestReport(path=str(path), kind="customers", preset="generic", encoding=raw.encoding)
    digest = content_hash(path)
    with store.transaction() as con:
        if _skipped(con, report, digest):
            return report
        ingest_id = report.ingest_id = _next_id(con)
        started = datetime.now()
        con.register("raw", raw.table)
        uid = text_expr(column, types[column])
        con.execute(
            f"""CREATE TEMP TABLE cleaned AS SELECT "{LINE}" AS source_line, {uid} AS user_id,
                {attributes} AS attributes, {raw_json} AS raw,
                CASE WHEN {uid} IS NULL THEN 'missing_user'
                     WHEN row_number() OVER (PARTITION BY {uid} ORDER BY "{LINE}") > 1
                     THEN 'duplicate_user' END AS reason
                FROM raw"""
        )
        _count_reasons(con, report, raw.table.num_rows)
        con.execute(
            "INSERT OR REPLACE INTO customers SELECT user_id, attributes FROM cleaned "
            "WHERE reason IS NULL"
        )
        con.execute(
            "INSERT INTO rejected SELECT ?, ?, source_line, reason, reason, raw FROM cleaned "
            "WHERE reason IS NOT NULL",
            [ingest_id, str(path)],
        )
        _finish(con, report, digest, started)
    return report
