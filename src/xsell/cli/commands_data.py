"""``xsell ingest``, ``xsell stats`` and ``xsell rejects``: a shop's data in, and a look at it.

Each command imports what it needs when it runs, so ``xsell --help`` stays quick.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from xsell.cli.app import (
    DEFAULT_STORE,
    JsonOption,
    QuietOption,
    StoreOption,
    app,
    console,
    is_quiet,
    print_json,
)

if TYPE_CHECKING:
    from xsell.data.ingest import IngestReport

PresetOption = Annotated[
    str,
    typer.Option(
        "--preset",
        "-p",
        help="Column layout, e.g. online-retail, online-retail-ii, instacart, complete-journey, "
        "events, baskets, fimi (an unknown name lists them all).",
    ),
]
KeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--key-file", help="File holding the pseudonym key (default: $XSELL_PSEUDONYM_KEY)."
    ),
]


@app.command()
def ingest(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Order-line files (CSV, Parquet, Excel, baskets) or a postgresql://USER@HOST:PORT/DB"
            " URL (with --table or --query)."
        ),
    ],
    preset: PresetOption = "generic",
    mapping: Annotated[
        str | None,
        typer.Option(
            "--map",
            "-m",
            help="Column mapping, e.g. user=CustomerID,item=StockCode,basket=InvoiceNo",
        ),
    ] = None,
    catalog: Annotated[
        list[Path] | None, typer.Option("--catalog", "-c", help="Product catalog file.")
    ] = None,
    customers: Annotated[
        Path | None, typer.Option("--customers", help="Customers file (one row per customer).")
    ] = None,
    events: Annotated[
        list[Path] | None,
        typer.Option("--events", help="Browsing events file (user, item, time, event=view|cart)."),
    ] = None,
    table: Annotated[
        str | None, typer.Option("--table", help="Database table of order lines.")
    ] = None,
    query: Annotated[
        str | None, typer.Option("--query", help="SELECT statement giving the order lines.")
    ] = None,
    catalog_table: Annotated[
        str | None, typer.Option("--catalog-table", help="Database table of the catalog.")
    ] = None,
    catalog_query: Annotated[
        str | None, typer.Option("--catalog-query", help="SELECT statement giving the catalog.")
    ] = None,
    customers_table: Annotated[
        str | None, typer.Option("--customers-table", help="Database table of customers.")
    ] = None,
    since_column: Annotated[
        str | None,
        typer.Option(
            "--since-column",
            help="Read only rows above the value this column had at the last read "
            "(an increasing id or timestamp; kept in the store).",
        ),
    ] = None,
    password_file: Annotated[
        Path | None,
        typer.Option("--password-file", help="File holding the database password."),
    ] = None,
    pseudonymize: Annotated[
        bool,
        typer.Option(
            "--pseudonymize",
            help="Replace customer ids by keyed HMAC-SHA256 pseudonyms (key from "
            "$XSELL_PSEUDONYM_KEY or --key-file; never stored).",
        ),
    ] = False,
    key_file: KeyFileOption = None,
    keep_column: Annotated[
        list[str] | None,
        typer.Option(
            "--keep-column", help="Keep this column although it looks like personal data."
        ),
    ] = None,
    time_format: Annotated[
        str | None, typer.Option("--time-format", help="strptime format of the time column.")
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option("--delimiter", help="Field separator (default: sniffed).")
    ] = None,
    quote: Annotated[
        str,
        typer.Option(
            "--quote", help="CSV quote character around values holding the delimiter ('' none)."
        ),
    ] = '"',
    encoding: Annotated[
        str | None,
        typer.Option("--encoding", help="Text encoding (default: from a BOM, else UTF-8/Latin-1)."),
    ] = None,
    no_header: Annotated[
        bool, typer.Option("--no-header", help="CSV has no header row; map columns as f0, f1, ...")
    ] = False,
    keep_duplicates: Annotated[
        bool, typer.Option("--keep-duplicates", help="Do not reject exact duplicate lines.")
    ] = False,
    non_product: Annotated[
        str | None,
        typer.Option("--non-product", help="Comma-separated item codes that are not products."),
    ] = None,
    store: StoreOption = DEFAULT_STORE,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Read order lines (and catalog, customers, events) into the store; report the cleaning.

    Everything given in one command lands in one transaction: if one source fails,
    nothing is written.
    """
    from xsell.data.cleaning import CleaningOptions
    from xsell.data.ingest import (
        ingest_catalog,
        ingest_customers,
        ingest_lines,
        ingest_transaction,
    )
    from xsell.data.postgres import is_database_url
    from xsell.data.presets import get_preset, parse_mapping
    from xsell.data.privacy import PrivacyOptions, read_key
    from xsell.data.store import Store
    from xsell.errors import ValidationError
    from xsell.progress import progress_bar

    spec = get_preset(preset)
    extra = parse_mapping(mapping)
    if extra:
        spec = spec.with_mapping(extra)
    options = CleaningOptions(
        cancel_prefix=spec.cancel_prefix,
        non_product_codes=(
            tuple(c.strip() for c in non_product.split(",") if c.strip())
            if non_product is not None
            else spec.non_product_codes
        ),
        time_format=time_format or spec.time_format,
        price_is_line_total=spec.price_is_line_total,
        drop_duplicates=not keep_duplicates,
    )
    privacy = PrivacyOptions(
        key=read_key(key_file) if pseudonymize else None,
        keep_columns=tuple(keep_column or ()),
    )
    if key_file is not None and not pseudonymize:
        raise ValidationError("--key-file is for --pseudonymize; add --pseudonymize")
    urls = [p for p in paths if is_database_url(p)]
    files = [Path(p) for p in paths if not is_database_url(p)]
    database_options = (table, query, catalog_table, catalog_query, customers_table, since_column)
    if urls and len(paths) > 1:
        raise ValidationError("give one database URL, or files, not both")
    if not urls and any(o is not None for o in database_options):
        raise ValidationError(
            "--table, --query, --catalog-table, --catalog-query, --customers-table and "
            "--since-column read a database: give a postgresql://USER@HOST:PORT/DB URL"
        )
    if (
        urls
        and table is None
        and query is None
        and catalog_table is None
        and (catalog_query is None and customers_table is None)
    ):
        raise ValidationError(f"{_safe(urls[0])}: name what to read with --table or --query")
    target = Store(store)
    reports: list[IngestReport] = []
    jobs = len(files) + len(catalog or []) + len(events or []) + (1 if customers else 0)
    jobs += sum(o is not None for o in database_options[:5])
    with (
        progress_bar(
            "ingesting", total=max(jobs, 1) * 5, quiet=is_quiet(quiet) or json_output
        ) as bar,
        ingest_transaction(target) as con,
    ):
        common: dict[str, Any] = {"privacy": privacy, "reporter": bar, "con": con}
        if urls:
            reports.extend(
                _ingest_database(
                    target,
                    urls[0],
                    spec,
                    options,
                    common,
                    table=table,
                    query=query,
                    catalog_table=catalog_table,
                    catalog_query=catalog_query,
                    customers_table=customers_table,
                    since_column=since_column,
                    password_file=password_file,
                )
            )
        for path in files:
            reports.append(
                ingest_lines(
                    target,
                    path,
                    preset=spec,
                    options=options,
                    delimiter=delimiter,
                    quote=quote,
                    header=not no_header,
                    encoding=encoding,
                    **common,
                )
            )
        for path in events or []:
            reports.append(ingest_lines(target, path, preset="events", **common))
        for path in catalog or []:
            reports.append(ingest_catalog(target, path, preset=spec, **common))
        if customers:
            reports.append(ingest_customers(target, customers, **common))
    if json_output:
        print_json({"store": str(store), "ingests": [r.to_dict() for r in reports]})
        return
    for report in reports:
        _print_report(report)
    console.print(f"store: [bold]{store}[/]")


def _safe(url: str) -> str:
    from xsell.data.postgres import Database

    return Database(url).safe


def _ingest_database(
    target: Any,
    url: str,
    spec: Any,
    options: Any,
    common: dict[str, Any],
    *,
    table: str | None,
    query: str | None,
    catalog_table: str | None,
    catalog_query: str | None,
    customers_table: str | None,
    since_column: str | None,
    password_file: Path | None,
) -> list[IngestReport]:
    from xsell.data.postgres import ingest_database
    from xsell.errors import ValidationError

    if table is not None and query is not None:
        raise ValidationError("give --table or --query, not both")
    if catalog_table is not None and catalog_query is not None:
        raise ValidationError("give --catalog-table or --catalog-query, not both")
    reports = []
    if table is not None or query is not None:
        reports.append(
            ingest_database(
                target,
                url,
                table=table,
                query=query,
                preset=spec,
                options=options,
                since_column=since_column,
                password_file=password_file,
                **common,
            )
        )
    if catalog_table is not None or catalog_query is not None:
        reports.append(
            ingest_database(
                target,
                url,
                table=catalog_table,
                query=catalog_query,
                kind="catalog",
                preset=spec,
                password_file=password_file,
                **common,
            )
        )
    if customers_table is not None:
        reports.append(
            ingest_database(
                target,
                url,
                table=customers_table,
                kind="customers",
                password_file=password_file,
                **common,
            )
        )
    return reports


def _print_report(report: IngestReport) -> None:
    from rich.table import Table

    title = f"{report.path} ({report.kind}, preset {report.preset})"
    if report.skipped:
        console.print(f"[yellow]skipped[/] {title}: {report.warnings[0]}", soft_wrap=True)
        return
    table = Table(title=title, show_header=True, title_justify="left")
    table.add_column("")
    table.add_column("rows", justify="right")
    table.add_row("read", f"{report.rows_in:,}")
    table.add_row("kept", f"[green]{report.rows_kept:,}[/]")
    table.add_row("rejected", f"[red]{report.rows_rejected:,}[/]")
    for reason, count in report.reasons.items():
        table.add_row(f"  {reason}", f"{count:,}", end_section=False)
    for flag, count in report.flags.items():
        if count:
            table.add_row(f"flag: {flag}", f"{count:,}")
    console.print(table)
    raw = report.raw_profile
    if raw.get("baskets") is not None and report.kind == "lines":
        console.print(
            f"in the file: {raw['lines']:,} lines, {raw['baskets']:,} baskets, "
            f"{raw['items']:,} items, {raw['customers']:,} customers"
            + (
                f", {raw['cancellation_lines']:,} cancellation lines"
                if "cancellation_lines" in raw
                else ""
            )
        )
    if report.netting:
        netting = report.netting
        console.print(
            f"cancellations: {netting['netted']:,} netted against the purchases they cancel"
            + (
                f" ({netting['netted_earlier_ingests']:,} of earlier ingests)"
                if netting.get("netted_earlier_ingests")
                else ""
            )
            + f", {netting['unmatched']:,} matched no purchase"
        )
    if report.incremental.get("from_line"):
        console.print(
            f"appended part only: from line {report.incremental['from_line']:,} "
            f"(the file grew since ingest #{report.incremental['after_ingest']})"
        )
    if report.pseudonymized:
        console.print("customer ids replaced by keyed pseudonyms")
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}")


@app.command()
def stats(
    store: StoreOption = DEFAULT_STORE,
    top: Annotated[int, typer.Option("--top", help="How many best sellers to list.")] = 10,
    json_output: JsonOption = False,
) -> None:
    """Lines, baskets, customers, items, date range, basket sizes and best sellers of the store."""
    from rich.table import Table

    from xsell.data.stats import store_stats
    from xsell.data.store import Store

    figures = store_stats(Store(store), top=top)
    if json_output:
        print_json(figures)
        return
    table = Table(title=f"store {store}", show_header=False, title_justify="left")
    for key in ("lines", "baskets", "customers", "items", "anonymous_baskets", "events"):
        table.add_row(key.replace("_", " "), f"{figures[key]:,}")
    table.add_row("first order", str(figures["first_time"]))
    table.add_row("last order", str(figures["last_time"]))
    table.add_row("rejected rows", f"{figures['rejected']:,}")
    console.print(table)
    sizes = figures["basket_size"]
    console.print(
        f"basket size: mean {sizes['mean']:.2f}, median {sizes['median']:g}, "
        f"p90 {sizes['p90']:g}, max {sizes['max']:g}"
    )
    hist = Table(title="basket-size distribution", title_justify="left")
    hist.add_column("items")
    hist.add_column("baskets", justify="right")
    for bucket, count in sizes["histogram"].items():
        hist.add_row(bucket, f"{count:,}")
    console.print(hist)
    best = Table(title=f"top {top} items", title_justify="left")
    for column in ("item", "name", "baskets", "quantity"):
        best.add_column(column, justify="right" if column in ("baskets", "quantity") else "left")
    for row in figures["top_items"]:
        best.add_row(
            row["item_id"], str(row["name"] or ""), f"{row['baskets']:,}", f"{row['quantity']:,.0f}"
        )
    console.print(best)


@app.command()
def rejects(
    store: StoreOption = DEFAULT_STORE,
    reason: Annotated[
        str | None,
        typer.Option("--reason", "-r", help="Only this reason (e.g. cancellation, duplicate)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Rows to show (0: all).")] = 20,
    json_output: JsonOption = False,
) -> None:
    """Rejected rows with their reason, source file and line (or key), and their raw values."""
    import json

    from rich.table import Table

    from xsell.data.cleaning import REASONS
    from xsell.data.store import Store
    from xsell.errors import ValidationError

    known = {*REASONS, "missing_user", "duplicate_user", "duplicate_item"}
    if reason is not None and reason not in known:
        raise ValidationError(f"unknown --reason {reason!r}; choose one of {sorted(known)}")
    if limit < 0:
        raise ValidationError(f"--limit must be 0 (all) or more, got {limit}")
    target = Store(store)
    where, params = ("WHERE reason = ?", [reason]) if reason else ("", [])
    with target.connect() as con:
        summary = con.execute(
            f"SELECT reason, count(*) FROM rejected {where} GROUP BY reason ORDER BY 2 DESC", params
        ).fetchall()
        rows = con.execute(
            "SELECT path, source_line, reason, detail, CAST(raw AS VARCHAR), source_key "
            f"FROM rejected {where} ORDER BY ingest_id, source_line"
            + (" LIMIT ?" if limit else ""),
            [*params, *([limit] if limit else [])],
        ).fetchall()
    payload: dict[str, Any] = {
        "counts": {r: int(n) for r, n in summary},
        "rows": [
            {
                "path": p,
                "line": int(n),
                "key": key,
                "reason": r,
                "detail": d,
                "raw": json.loads(raw) if raw else None,
            }
            for p, n, r, d, raw, key in rows
        ],
    }
    if json_output:
        print_json(payload)
        return
    counts = ", ".join(f"{r}: {n:,}" for r, n in payload["counts"].items()) or "none"
    console.print(f"rejected rows: {counts}")
    table = Table(show_header=True)
    for column in ("source", "line", "reason", "detail", "raw values"):
        table.add_column(column, overflow="fold")
    for row in payload["rows"]:
        where_from = row["path"] if "://" in row["path"] else Path(row["path"]).name
        table.add_row(
            where_from,
            row["key"] or str(row["line"]),
            row["reason"],
            row["detail"] or "",
            json.dumps(row["raw"]),
        )
    console.print(table)
