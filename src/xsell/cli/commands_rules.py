"""``xsell rules``: frequent itemsets and association rules from the store or a basket file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
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
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.mining import (
    KINDS,
    association_rules,
    export_rules,
    frequent_itemsets,
    mining_info,
    save_rules,
)
from xsell.mining.inputs import read_basket_file
from xsell.mining.itemsets import PROGRESS_TOTAL
from xsell.mining.metrics import SORTABLE
from xsell.progress import progress_bar


@app.command()
def rules(
    store: StoreOption = DEFAULT_STORE,
    baskets: Annotated[
        Path | None,
        typer.Option(
            "--baskets", "-b", help="Mine a one-basket-per-line file instead of the store."
        ),
    ] = None,
    preset: Annotated[
        str,
        typer.Option(
            "--preset", "-p", help="Layout of --baskets: baskets (commas) or fimi (spaces)."
        ),
    ] = "baskets",
    min_support: Annotated[
        str | None,
        typer.Option(
            "--min-support", help="Fraction of baskets (0.001) or a whole number of baskets (50)."
        ),
    ] = None,
    max_len: Annotated[int | None, typer.Option("--max-len", help="Longest itemset.")] = None,
    min_confidence: Annotated[
        float, typer.Option("--min-confidence", help="Keep rules at or above.")
    ] = 0.0,
    min_lift: Annotated[
        float | None, typer.Option("--min-lift", help="Keep rules at or above.")
    ] = None,
    max_p: Annotated[
        float | None, typer.Option("--max-p", help="Keep rules with Fisher p-value at or below.")
    ] = None,
    max_q: Annotated[
        float | None,
        typer.Option("--max-q", help="Keep rules with Benjamini-Hochberg q-value at or below."),
    ] = None,
    top: Annotated[
        int | None, typer.Option("--top", "-k", help="Keep the K strongest rules.")
    ] = None,
    sort: Annotated[
        str, typer.Option("--sort", help=f"Rank rules by: {', '.join(SORTABLE)}.")
    ] = "lift",
    min_count: Annotated[
        int,
        typer.Option("--min-count", help="Without --min-support: rules need this many baskets."),
    ] = 10,
    max_consequent_len: Annotated[
        int, typer.Option("--max-consequent", help="Longest consequent.")
    ] = 1,
    itemsets_only: Annotated[
        bool, typer.Option("--itemsets-only", help="List itemsets, no rules.")
    ] = False,
    kind: Annotated[str, typer.Option("--kind", help=f"Itemsets: {', '.join(KINDS)}.")] = "all",
    max_basket_size: Annotated[
        int | None, typer.Option("--max-basket-size", help="Leave baskets with more items out.")
    ] = None,
    memory_budget: Annotated[
        str, typer.Option("--memory-budget", help="Output budget, e.g. 512MB.")
    ] = "1GB",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write all rules/itemsets to .csv or .parquet."),
    ] = None,
    save: Annotated[
        bool | None,
        typer.Option(
            "--save/--no-save",
            help="Save rules as a new version in the store (default: when mining the store).",
        ),
    ] = None,
    show: Annotated[int, typer.Option("--show", help="Rows to print.")] = 20,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Mine frequent itemsets and association rules, with names, metrics and significance."""
    started = time.perf_counter()
    threshold = _parse_support(min_support) if min_support is not None else int(min_count)
    if min_support is None and top is None and not itemsets_only:
        top = 1000
    with progress_bar(
        "reading", total=PROGRESS_TOTAL + 20, quiet=is_quiet(quiet) or json_output
    ) as bar:
        data: Any
        item_ids = None
        if baskets is not None:
            data, item_ids = read_basket_file(baskets, preset)
            source = str(baskets)
        else:
            data = ShopData.from_store(store)
            source = str(store)
        bar.step("mining itemsets", 10)
        itemsets = frequent_itemsets(
            data,
            threshold,
            max_len=max_len,
            kind=kind,  # type: ignore[arg-type]
            max_basket_size=max_basket_size,
            memory_budget=memory_budget,
            item_ids=item_ids,
            reporter=bar,
        )
        info = mining_info(itemsets)
        assert info is not None
        table = itemsets
        if not itemsets_only:
            bar.step("building rules", 5)
            table = association_rules(
                itemsets,
                min_confidence=min_confidence,
                min_lift=min_lift,
                max_p_value=max_p,
                max_q_value=max_q,
                max_consequent_len=max_consequent_len,
                sort_by=sort,
                top_k=top,
                memory_budget=memory_budget,
            )
        elif top is not None:
            table = itemsets.sort_values(["count", "length"], ascending=False, kind="stable").head(
                top
            )
        bar.step("done", 5)
    version = None
    if not itemsets_only and (save if save is not None else baskets is None):
        version = save_rules(
            store,
            table,
            params={
                "source": source,
                "min_support": threshold,
                "max_len": max_len,
                "min_confidence": min_confidence,
                "min_lift": min_lift,
                "max_p": max_p,
                "max_q": max_q,
                "top": top,
                "sort": sort,
                "max_consequent_len": max_consequent_len,
            },
        )
    if out is not None:
        if itemsets_only:
            _export_itemsets(table, out)
        else:
            export_rules(table, out)
    summary = {
        "source": source,
        "baskets": info.n_baskets,
        "min_support": info.min_support,
        "min_count": info.min_count,
        "itemsets": len(itemsets),
        "algorithm": info.algorithm,
        "notes": list(info.notes),
        "seconds": round(time.perf_counter() - started, 3),
        "saved_version": version,
        "out": str(out) if out else None,
    }
    if json_output:
        key = "itemsets_table" if itemsets_only else "rules"
        summary[key] = _records(table)
        if not itemsets_only:
            summary["n_rules"] = len(table)
        print_json(summary)
        return
    _print_summary(summary, len(table), itemsets_only)
    if itemsets_only:
        _print_itemsets(table, info.item_names, show)
    else:
        _print_rules(table, show, sort)


def _parse_support(text: str) -> int | float:
    cleaned = text.strip()
    try:
        if cleaned.isdigit():
            return int(cleaned)
        return float(cleaned)
    except ValueError:
        raise ValidationError(
            f"--min-support {text!r} is not a number; "
            "write a fraction like 0.001 or a basket count like 50"
        ) from None


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    frame = table.drop(columns=[c for c in ("items",) if c in table.columns])
    records: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in frame.to_dict(orient="records")
    ]
    for record in records:
        for key, value in record.items():
            if isinstance(value, tuple):
                record[key] = list(value)
            elif isinstance(value, float) and not np.isfinite(value):
                record[key] = None if np.isnan(value) else "inf"
            elif isinstance(value, np.integer):
                record[key] = int(value)
    return records


def _print_summary(summary: dict[str, Any], n_rows: int, itemsets_only: bool) -> None:
    console.print(
        f"{summary['source']}: {summary['baskets']:,} baskets, "
        f"min_support {summary['min_support']:.6g} "
        f"({summary['min_count']:,} baskets): {summary['itemsets']:,} itemsets"
        + ("" if itemsets_only else f", {n_rows:,} rules")
        + f" in {summary['seconds']:.2f} s ({summary['algorithm']})"
    )
    for note in summary["notes"]:
        console.print(f"[yellow]note:[/] {note}")
    if summary["saved_version"] is not None:
        console.print(f"saved as rules version [bold]{summary['saved_version']}[/] in the store")
    if summary["out"]:
        console.print(f"written to [bold]{summary['out']}[/]")


def _label(ids: tuple[str, ...], names: tuple[str, ...] | None) -> str:
    if names is None:
        return " + ".join(ids)
    return " + ".join(
        n if n == i else f"{n} [dim]({i})[/]" for i, n in zip(ids, names, strict=True)
    )


def _print_rules(table: pd.DataFrame, show: int, sort: str) -> None:
    grid = Table(title=f"strongest rules by {sort}", title_justify="left")
    for column in ("if bought", "then buy", "baskets", "confidence", "lift", "q-value"):
        grid.add_column(
            column,
            justify="left" if column in ("if bought", "then buy") else "right",
            overflow="fold",
        )
    with_names = "antecedent_names" in table.columns
    row: Any
    for row in table.head(show).itertuples(index=False):
        grid.add_row(
            _label(row.antecedent, row.antecedent_names if with_names else None),
            _label(row.consequent, row.consequent_names if with_names else None),
            f"{row.count:,}",
            f"{row.confidence:.3f}",
            f"{row.lift:.2f}",
            f"{row.q_value:.2g}",
        )
    console.print(grid)


def _print_itemsets(table: pd.DataFrame, names: dict[str, str] | None, show: int) -> None:
    grid = Table(title="frequent itemsets", title_justify="left")
    for column in ("itemset", "baskets", "support"):
        grid.add_column(column, justify="left" if column == "itemset" else "right", overflow="fold")
    row: Any
    for row in table.head(show).itertuples(index=False):
        labels = tuple(names.get(i, i) for i in row.itemset) if names else None
        grid.add_row(_label(row.itemset, labels), f"{row.count:,}", f"{row.support:.4f}")
    console.print(grid)


def _export_itemsets(table: pd.DataFrame, path: Path) -> None:
    import json
    import os

    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise ValidationError(
            f"{path}: unknown itemsets file type {path.suffix!r}; use .csv or .parquet"
        )
    frame = table.drop(columns=["items"]).copy()
    temporary = path.with_name(f".{path.name}.writing-{os.getpid()}")
    try:
        if suffix == ".csv":
            frame["itemset"] = [json.dumps(list(t)) for t in frame["itemset"]]
            frame.to_csv(temporary, index=False)
        else:
            frame["itemset"] = [list(t) for t in frame["itemset"]]
            frame.to_parquet(temporary, index=False)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
