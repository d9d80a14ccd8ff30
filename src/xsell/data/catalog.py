"""Ingest a product catalog: id, name, category, brand, price, cost or margin, stock, the rest."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from xsell.data import columns as C
from xsell.data.cleaning import number_expr, quote, text_expr
from xsell.data.ingest_steps import (
    IngestReport,
    Source,
    attributes_sql,
    check_columns,
    check_types,
    content_hash,
    count_reasons,
    finish_ingest,
    next_ingest_id,
    own_or_given,
    register_source,
    skip_if_ingested,
    warn_catalog_gaps,
)
from xsell.data.presets import CATALOG_GUESSES, Preset, get_preset
from xsell.data.privacy import PrivacyOptions, personal_columns
from xsell.data.readers import LINE, RawTable, read_file
from xsell.data.store import Store
from xsell.errors import InputFileError
from xsell.progress import Reporter, SilentReporter


def guess_catalog_mapping(columns: list[str]) -> dict[str, str]:
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
        **guess_catalog_mapping(raw.columns),
        **spec.catalog_mapping,
        **joined,
        **(mapping or {}),
    }
    source = Source.of_file(raw, content_hash(path))
    report = IngestReport(path=str(path), kind="catalog", preset=spec.name, encoding=raw.encoding)
    with own_or_given(store, con) as tx:
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
    check_columns(label, source.columns, column_map, (C.ITEM,))
    check_types(label, source.schema, column_map)
    types = {f.name: f.type for f in source.schema}

    def text(role: str) -> str:
        return (
            text_expr(column_map[role], types[column_map[role]]) if role in column_map else "NULL"
        )

    def number(role: str) -> str:
        return (
            number_expr(column_map[role], types[column_map[role]]) if role in column_map else "NULL"
        )

    def raw_text(role: str) -> str:
        return (
            f"NULLIF(TRIM(CAST({quote(column_map[role])} AS VARCHAR)), '')"
            if role in column_map
            else "NULL"
        )

    # Units on hand say whether an item is in stock when no yes/no column does.
    stock = (
        f"CASE WHEN lower({text(C.IN_STOCK)}) IN ('1','true','yes','y','t','in stock') THEN true "
        f"WHEN lower({text(C.IN_STOCK)}) IN ('0','false','no','n','f','out of stock') "
        "THEN false END"
        if C.IN_STOCK in column_map
        else f"{number(C.STOCK)} > 0"
    )
    # Numbers a row must parse when it gives them: (role, column alias, reason when not).
    numbers = [
        (C.PRICE, "price", "unparseable_price"),
        (C.COST, "cost", "unparseable_cost"),
        (C.MARGIN, "margin", "unparseable_margin"),
        (C.STOCK, "stock", "unparseable_stock"),
    ]
    parsed_numbers = ", ".join(
        f"{number(role)} AS {alias}_value, {raw_text(role)} AS {alias}_raw"
        for role, alias, _ in numbers
    )
    unparseable = " ".join(
        f"WHEN {alias}_raw IS NOT NULL AND {alias}_value IS NULL THEN '{reason}' "
        f"WHEN {alias}_value IS NOT NULL AND NOT isfinite({alias}_value) THEN 'not_finite'"
        for _, alias, reason in numbers
    )
    if skip_if_ingested(con, report, source.digest, source.identity):
        return
    ingest_id = report.ingest_id = next_ingest_id(con)
    started = datetime.now()
    register_source(con, source)
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
    raw_json = attributes_sql([c for c in source.columns if c not in report.dropped_columns])
    reporter.step("cleaning catalog", 1)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE cleaned AS
        WITH parsed AS (
            SELECT {quote(LINE)} AS source_line, {text(C.ITEM)} AS item, {text(C.NAME)} AS name,
                   {text(C.CATEGORY)} AS category, {text(C.BRAND)} AS brand,
                   {parsed_numbers}, {stock} AS in_stock,
                   {attributes_sql(extra)} AS attributes,
                   row_number() OVER (PARTITION BY {text(C.ITEM)} ORDER BY {quote(LINE)})
                       AS dup_rank,
                   {raw_json} AS raw
            FROM raw
        )
        SELECT *, CASE WHEN item IS NULL THEN 'missing_item'
                       {unparseable}
                       WHEN stock_value < 0 THEN 'negative_stock'
                       WHEN dup_rank > 1 THEN 'duplicate_item' END AS reason
        FROM parsed
        """
    )
    rows = int(con.execute("SELECT count(*) FROM cleaned").fetchall()[0][0])
    count_reasons(con, report, rows)
    if report.rows_kept == 0:
        raise InputFileError(
            f"{label}: every one of its {report.rows_in:,} catalog rows was rejected "
            f"({report.reasons}); nothing was written"
        )
    con.execute(
        """
        INSERT OR REPLACE INTO items (item_id, name, category, brand, price, in_stock,
                                      attributes, from_catalog, cost, margin, stock)
        SELECT item, name, category, brand, price_value, in_stock, attributes, true,
               cost_value, margin_value, stock_value
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
    warn_catalog_gaps(con, report)
    report.kept_profile = {"items": report.rows_kept}
    finish_ingest(con, report, source, started)
