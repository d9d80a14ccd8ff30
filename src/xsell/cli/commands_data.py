"""``xsell ingest``, ``xsell stats`` and ``xsell rejects``: a shop's data in, and a look at it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

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
from xsell.data.cleaning import REASONS, CleaningOptions
from xsell.data.ingest import IngestReport, ingest_catalog, ingest_customers, ingest_lines
from xsell.data.presets import PRESETS, get_preset, parse_mapping
from xsell.data.stats import store_stats
from xsell.data.store import Store
from xsell.progress import progress_bar

PresetOption = Annotated[
    str,
    typer.Option("--preset", "-p", help=f"Column layout: {', '.join(sorted(PRESETS))}."),
]


@app.command()
def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help="Order-line files (CSV, Parquet, Excel, baskets).")
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
    """Read order lines (and catalog, customers, events) into the store; report the cleaning."""
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
    target = Store(store)
    reports: list[IngestReport] = []
    jobs = len(paths) + len(catalog or []) + len(events or []) + (1 if customers else 0)
    with progress_bar("ingesting", total=jobs * 5, quiet=is_quiet(quiet) or json_output) as bar:
        for path in paths:
            reports.append(
                ingest_lines(
                    target,
                    path,
                    preset=spec,
                    options=options,
                    delimiter=delimiter,
                    quote=quote,
                    header=not no_header,
                    reporter=bar,
                )
            )
        for path in events or []:
            reports.append(ingest_lines(target, path, preset="events", reporter=bar))
        for path in catalog or []:
            reports.append(ingest_catalog(target, path, preset=spec, reporter=bar))
        if customers:
            reports.append(ingest_customers(target, customers, reporter=bar))
    if json_output:
        print_json({"store": str(store), "ingests": [r.to_dict() for r in reports]})
        return
    for report in reports:
        _print_report(report)
    console.print(f"store: [bold]{store}[/]")


def _print_report(report: IngestReport) -> None:
    title = f"{report.path} ({report.kind}, preset {report.preset})"
    if report.skipped:
        console.print(f"[yellow]skipped[/] {title}: {report.warnings[0]}")
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
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}")


@app.command()
def stats(
    store: StoreOption = DEFAULT_STORE,
    top: Annotated[int, typer.Option("--top", help="How many best sellers to list.")] = 10,
    json_output: JsonOption = False,
) -> None:
    """Lines, baskets, customers, items, date range, basket sizes and best sellers of the store."""
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
        str | None, typer.Option("--reason", "-r", help=f"Only this reason ({', '.join(REASONS)}).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Rows to show (0: all).")] = 20,
    json_output: JsonOption = False,
) -> None:
    """Rejected rows with their reason, source file and line, and their raw values."""
    target = Store(store)
    where, params = ("WHERE reason = ?", [reason]) if reason else ("", [])
    with target.connect() as con:
        summary = con.execute(
            f"SELECT reason, count(*) FROM rejected {where} GROUP BY reason ORDER BY 2 DESC", params
        ).fetchall()
        rows = con.execute(
            f"SELECT path, source_line, reason, detail, CAST(raw AS VARCHAR) FROM rejected {where} "
            f"ORDER BY ingest_id, source_line {'LIMIT ' + str(limit) if limit else ''}",
            params,
        ).fetchall()
    payload: dict[str, Any] = {
        "counts": {r: int(n) for r, n in summary},
        "rows": [
            {"path": p, "line": int(n), "reason": r, "detail": d, "raw": raw}
            for p, n, r, d, raw in rows
        ],
    }
    if json_output:
        print_json(payload)
        return
    counts = ", ".join(f"{r}: {n:,}" for r, n in payload["counts"].items()) or "none"
    console.print(f"rejected rows: {counts}")
    table = Table(show_header=True)
    for column in ("file", "line", "reason", "detail", "raw values"):
        table.add_column(column, overflow="fold")
    for row in payload["rows"]:
        table.add_row(
            Path(row["path"]).name, str(row["line"]), row["reason"], row["detail"] or "", row["raw"]
        )
    console.print(table)
