"""Ingest customers: one row per customer id, the other columns as attributes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from xsell.data import columns as C
from xsell.data.cleaning import literal, quote, text_expr
from xsell.data.ingest_steps import (
    IngestReport,
    Source,
    attributes_sql,
    check_privacy_mode,
    check_types,
    content_hash,
    count_reasons,
    finish_ingest,
    next_ingest_id,
    own_or_given,
    register_source,
    skip_if_ingested,
)
from xsell.data.privacy import PrivacyOptions, personal_columns, pseudonymize_column
from xsell.data.readers import LINE, read_file
from xsell.data.store import Store
from xsell.errors import SchemaError
from xsell.progress import Reporter

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
    with own_or_given(store, con) as tx:
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
    if skip_if_ingested(con, report, source.digest, source.identity):
        return
    check_privacy_mode(con, privacy, label, True)
    ingest_id = report.ingest_id = next_ingest_id(con)
    started = datetime.now()
    register_source(con, source)
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
            {uid} AS user_id, {attributes_sql(extra)} AS attributes,
            {attributes_sql([c for c in shown if c != column])} AS raw_rest,
            CASE WHEN {uid} IS NULL THEN 'missing_user'
                 WHEN row_number() OVER (PARTITION BY {uid} ORDER BY {quote(LINE)}) > 1
                 THEN 'duplicate_user' END AS reason
            FROM raw"""
    )
    if privacy.key is not None:
        pseudonymize_column(con, "cleaned", "user_id", privacy.key)
        report.pseudonymized = True
    rows = int(con.execute("SELECT count(*) FROM cleaned").fetchall()[0][0])
    count_reasons(con, report, rows)
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
    finish_ingest(con, report, source, started)
