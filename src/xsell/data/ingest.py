"""Ingest order lines: read a source, clean it, write kept and rejected rows in one transaction.

A source is a file (CSV, Parquet, Excel, basket-per-line) or a PostgreSQL table
or query (:mod:`xsell.data.postgres`); both go through the same presets, mapping,
cleaning and reasons. Several sources given together (orders, catalog,
customers, events) are written in one transaction (:func:`ingest_transaction`):
all land or none. Catalogs and customers: :mod:`xsell.data.catalog`,
:mod:`xsell.data.customers`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from xsell.data import columns as C
from xsell.data.catalog import ingest_catalog
from xsell.data.cleaning import (
    CleaningOptions,
    kept_lines_sql,
    lines_sql,
    quote,
    raw_json_sql,
)
from xsell.data.customers import ingest_customers
from xsell.data.ingest_steps import (
    IngestReport,
    Source,
    check_columns,
    check_privacy_mode,
    check_types,
    content_hash,
    fault,
    fill_profile,
    finish_ingest,
    ingest_transaction,
    next_ingest_id,
    own_or_given,
    profile_sql,
    register_source,
    seen_items_sql,
    skip_if_ingested,
    warn_catalog_gaps,
)
from xsell.data.netting import net_cancellations
from xsell.data.presets import Preset, get_preset
from xsell.data.privacy import PrivacyOptions, personal_columns, pseudonymize_column
from xsell.data.readers import (
    LINE,
    appendable,
    bom_encoding,
    check_readable,
    read_file,
)
from xsell.data.sql import fetch_one
from xsell.data.store import Store
from xsell.errors import InputFileError, SchemaError
from xsell.progress import Reporter, SilentReporter

__all__ = [
    "IngestReport",
    "Source",
    "content_hash",
    "ingest_catalog",
    "ingest_customers",
    "ingest_lines",
    "ingest_source",
    "ingest_transaction",
    "options_of",
]

#: Share of unparseable values above which a column is taken to be of the wrong type.
WRONG_TYPE_SHARE = 0.5


def auto_map(columns: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """Roles not mapped take a column named like the role itself (``item_id``, ``price``...)."""
    lowered = {c.lower(): c for c in columns}
    mapped = set(mapping.values())
    auto = dict(mapping)
    for role in C.LINE_ROLES:
        column = lowered.get(role)
        if role not in auto and column is not None and column not in mapped:
            auto[role] = column
    return auto


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
    with own_or_given(store, con) as tx:
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
            else auto_map(raw.columns, dict(spec.mapping))
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
    check_columns(label, source.columns, column_map, required)
    check_types(label, source.schema, column_map)
    if skip_if_ingested(con, report, source.digest, source.identity):
        return
    check_privacy_mode(con, privacy, label, C.USER in column_map)
    ingest_id = report.ingest_id = next_ingest_id(con)
    started = datetime.now()
    register_source(con, source)
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
    fault("ingest-after-lines")
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
    warn_catalog_gaps(con, report)
    if report.dropped_columns:
        report.warnings.append(
            "personal-data columns left out of the store: "
            + ", ".join(f"{c} ({why})" for c, why in report.dropped_columns.items())
            + "; keep one with --keep-column NAME"
        )
    if source.after is not None:
        source.after(con, ingest_id)
    report.incremental = {**source.incremental, **report.incremental}
    finish_ingest(con, report, source, started)
    fault("ingest-before-commit")


def _with_keys(options: CleaningOptions, source: Source) -> CleaningOptions:
    from dataclasses import replace

    return replace(options, key_columns=source.key_columns, ignore_columns=source.ignore_columns)


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


def _profile(
    con: duckdb.DuckDBPyConnection,
    report: IngestReport,
    options: CleaningOptions,
    mapping: dict[str, str],
) -> None:
    """Fill the report: raw figures (as a shop would count them), reasons, flags, kept figures.

    One scan of ``cleaned`` gives the raw and the kept figures together.
    """
    row = fetch_one(con.execute(profile_sql(options, C.BASKET in mapping)))
    assert row is not None
    counts = dict(
        con.execute(
            "SELECT reason, count(*) FROM cleaned WHERE reason IS NOT NULL GROUP BY reason"
        ).fetchall()
    )
    fill_profile(report, row, counts, mapping)


def _upsert_items_from_lines(con: duckdb.DuckDBPyConnection) -> None:
    """Items seen in lines but not in the catalog get a row from the lines' own names and prices.

    Names seen in lines also fill gaps left by earlier line files without names. Of
    several names (or categories), the most frequent wins, ties to the first in
    sort order, so the same file always gives the same names.
    """
    con.execute(f"CREATE OR REPLACE TEMP TABLE seen_items AS {seen_items_sql()}")
    con.execute(
        "INSERT OR IGNORE INTO items "
        "(item_id, name, category, brand, price, in_stock, attributes, from_catalog) "
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
