"""``xsell rules``: frequent itemsets and association rules from the store or a basket file."""

from __future__ import annotations

import time
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
from xsell.errors import ValidationError
from xsell.mining.metrics import SORTABLE

if TYPE_CHECKING:
    import pandas as pd

    from xsell.mining.itemsets import ItemsetLevels

#: Progress steps of one run: reading, mining (as frequent_itemsets reports it), writing.
_STEPS = 120.0
#: Default number of rules when no --min-support is given.
_DEFAULT_TOP = 1000


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
    max_len: Annotated[
        int | None,
        typer.Option(
            "--max-len",
            help="Longest itemset or rule (without --min-support: 4 unless given).",
        ),
    ] = None,
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
    kind: Annotated[str, typer.Option("--kind", help="Itemsets: all, closed, maximal.")] = "all",
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
    threshold = parse_support(min_support) if min_support is not None else int(min_count)
    search_top = min_support is None and not itemsets_only
    if search_top and top is None:
        top = _DEFAULT_TOP
    from xsell.progress import progress_bar

    with progress_bar("reading", total=_STEPS, quiet=is_quiet(quiet) or json_output) as bar:
        if baskets is not None:
            from xsell.mining.inputs import read_baskets

            arrays = read_baskets(baskets, preset)
            indptr, indices, ids, names = arrays.indptr, arrays.indices, arrays.ids, None
            source = str(baskets)
            data: Any = None
        else:
            from xsell.data.shopdata import ShopData
            from xsell.mining.itemsets import basket_matrix

            data = ShopData.from_store(store)
            matrix, ids, item_names, _ = basket_matrix(data, None)
            indptr, indices, names = matrix.indptr, matrix.indices, item_names
            source = str(store)
        bar.step("mining itemsets", 10)
        if itemsets_only:
            from xsell.mining.itemsets import mine_levels

            levels = mine_levels(
                indptr,
                indices,
                len(ids),
                threshold,
                max_len=max_len,
                kind=kind,  # type: ignore[arg-type]
                max_basket_size=max_basket_size,
                memory_budget=memory_budget,
                reporter=bar,
            )
            found = _itemset_rows(levels, ids, top)
            bar.step("done", 5)
            summary = _summary(source, levels.n_baskets, levels.min_count, len(levels))
            summary["algorithm"] = levels.algorithm
            summary["notes"] = list(levels.notes)
            if out is not None:
                _export_itemsets(found, levels.n_baskets, out)
            summary["seconds"] = round(time.perf_counter() - started, 3)
            summary["out"] = str(out) if out else None
            if json_output:
                summary["itemsets_table"] = [
                    {
                        "itemset": list(i),
                        "count": c,
                        "support": c / levels.n_baskets,
                        "length": len(i),
                    }
                    for i, c in found
                ]
                print_json(summary)
                return
            _print_summary(summary, len(found), True)
            label_of = None
            if names is not None:
                label_of = dict(zip(ids.tolist(), (str(n) for n in names), strict=True))
            _print_itemsets(found, label_of, levels.n_baskets, show)
            return
        table = _mine_rules(
            data if data is not None else _csr(indptr, indices, len(ids)),
            None if data is not None else ids,
            threshold,
            search_top,
            top,
            sort=sort,
            min_count=min_count,
            max_len=max_len,
            min_confidence=min_confidence,
            min_lift=min_lift,
            max_p=max_p,
            max_q=max_q,
            max_consequent_len=max_consequent_len,
            max_basket_size=max_basket_size,
            memory_budget=memory_budget,
            reporter=bar,
        )
        bar.step("done", 5)
    from xsell.mining import export_rules, mining_info, save_rules

    info = mining_info(table)
    assert info is not None
    version = None
    if save if save is not None else baskets is None:
        version = save_rules(
            store,
            table,
            params={
                "source": source,
                "min_support": threshold,
                "max_len": info.max_len,
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
        export_rules(table, out)
    summary = _summary(source, info.n_baskets, info.min_count, table.attrs.get("itemsets"))
    summary.update(
        {
            "algorithm": info.algorithm,
            "notes": list(info.notes),
            "seconds": round(time.perf_counter() - started, 3),
            "saved_version": version,
            "out": str(out) if out else None,
        }
    )
    if json_output:
        summary["rules"] = _records(table)
        summary["n_rules"] = len(table)
        print_json(summary)
        return
    _print_summary(summary, len(table), False)
    _print_rules(table, show, sort)


def _mine_rules(
    data: Any,
    item_ids: Any,
    threshold: int | float,
    search_top: bool,
    top: int | None,
    *,
    sort: str,
    min_count: int,
    max_len: int | None,
    min_confidence: float,
    min_lift: float | None,
    max_p: float | None,
    max_q: float | None,
    max_consequent_len: int,
    max_basket_size: int | None,
    memory_budget: str,
    reporter: Any,
) -> pd.DataFrame:
    """The rules table: the ``top`` strongest found by search, or every rule at a support floor."""
    from xsell.mining import association_rules, frequent_itemsets, top_k_rules
    from xsell.mining.rules import DEFAULT_TOP_K_MAX_LEN

    if search_top:
        assert top is not None
        if max_basket_size is not None:
            raise ValidationError(
                "--max-basket-size needs --min-support (the top-k search counts every basket)"
            )
        return top_k_rules(
            data,
            top,
            sort_by=sort,
            min_count=int(min_count),
            min_confidence=min_confidence,
            min_lift=min_lift,
            max_p_value=max_p,
            max_q_value=max_q,
            max_consequent_len=max_consequent_len,
            memory_budget=memory_budget,
            item_ids=item_ids,
            reporter=reporter,
            max_len=DEFAULT_TOP_K_MAX_LEN if max_len is None else max_len,
        )
    from xsell.mining.budget import parse_budget

    itemsets = frequent_itemsets(
        data,
        threshold,
        max_len=max_len,
        max_basket_size=max_basket_size,
        memory_budget=memory_budget,
        item_ids=item_ids,
        reporter=reporter,
        # A suggested --min-support must give rules that fit too.
        rules_limit=(max_consequent_len, parse_budget(memory_budget).max_rules),
    )
    reporter.step("building rules", 5)
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
    table.attrs["itemsets"] = len(itemsets)
    return table


def _csr(indptr: Any, indices: Any, n_items: int) -> Any:
    import numpy as np
    import scipy.sparse as sp

    return sp.csr_matrix(
        (np.ones(len(indices), np.int8), indices, indptr), shape=(len(indptr) - 1, n_items)
    )


def _summary(source: str, n_baskets: int, min_count: int, n_itemsets: int | None) -> dict[str, Any]:
    return {
        "source": source,
        "baskets": n_baskets,
        "min_support": min_count / n_baskets,
        "min_count": min_count,
        "itemsets": n_itemsets,
        "saved_version": None,
    }


def _itemset_rows(
    levels: ItemsetLevels, ids: Any, top: int | None
) -> list[tuple[tuple[str, ...], int]]:
    """Itemsets as ``(ids, count)``: by length, then count descending, then items (or the
    ``top`` most frequent: by count, longer first)."""
    import numpy as np

    rows: list[tuple[tuple[str, ...], int]] = []
    for size in sorted(levels.levels):
        items, counts = levels.levels[size], levels.counts[size]
        order = np.lexsort((*[items[:, j] for j in range(size - 1, -1, -1)], -counts))
        labels = [ids[items[order, j]].tolist() for j in range(size)]
        rows.extend(zip(zip(*labels, strict=True), counts[order].tolist(), strict=True))
    if top is not None:
        rows = sorted(rows, key=lambda r: (-r[1], -len(r[0])))[:top]
    return rows


def parse_support(text: str) -> int | float:
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
    import numpy as np

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
    itemsets = "" if summary["itemsets"] is None else f": {summary['itemsets']:,} itemsets"
    console.print(
        f"{summary['source']}: {summary['baskets']:,} baskets, "
        f"min_support {summary['min_support']:.6g} "
        f"({summary['min_count']:,} baskets){itemsets}"
        + ("" if itemsets_only else f"{',' if itemsets else ':'} {n_rows:,} rules")
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
    import math

    from rich.table import Table

    searched = bool(len(table)) and bool(table["q_value"].isna().all())
    test = "p-value" if searched else "q-value"
    grid = Table(title=f"strongest rules by {sort}", title_justify="left")
    for column in ("if bought", "then buy", "baskets", "confidence", "lift", test):
        grid.add_column(
            column,
            justify="left" if column in ("if bought", "then buy") else "right",
            overflow="fold",
        )
    with_names = "antecedent_names" in table.columns
    row: Any
    for row in table.head(show).itertuples(index=False):
        value = row.p_value if searched else row.q_value
        grid.add_row(
            _label(row.antecedent, row.antecedent_names if with_names else None),
            _label(row.consequent, row.consequent_names if with_names else None),
            f"{row.count:,}",
            f"{row.confidence:.3f}",
            f"{row.lift:.2f}",
            "-" if math.isnan(value) else f"{value:.2g}",
        )
    console.print(grid)


def _print_itemsets(
    rows: list[tuple[tuple[str, ...], int]],
    names: dict[str, str] | None,
    n_baskets: int,
    show: int,
) -> None:
    from rich.table import Table

    grid = Table(title="frequent itemsets", title_justify="left")
    for column in ("itemset", "baskets", "support"):
        grid.add_column(column, justify="left" if column == "itemset" else "right", overflow="fold")
    for itemset, count in rows[:show]:
        labels = tuple(names.get(i, i) for i in itemset) if names else None
        grid.add_row(_label(itemset, labels), f"{count:,}", f"{count / n_baskets:.4f}")
    console.print(grid)


def _export_itemsets(rows: list[tuple[tuple[str, ...], int]], n_baskets: int, path: Path) -> None:
    """Write ``itemset`` (a JSON list of ids), ``count``, ``support``, ``length``; atomically."""
    import csv
    import json
    import os

    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise ValidationError(
            f"{path}: unknown itemsets file type {path.suffix!r}; use .csv or .parquet"
        )
    temporary = path.with_name(f".{path.name}.writing-{os.getpid()}")
    try:
        if suffix == ".csv":
            with temporary.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["itemset", "count", "support", "length"])
                for itemset, count in rows:
                    writer.writerow(
                        [json.dumps(list(itemset)), count, count / n_baskets, len(itemset)]
                    )
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(
                pa.table(
                    {
                        "itemset": [list(i) for i, _ in rows],
                        "count": [c for _, c in rows],
                        "support": [c / n_baskets for _, c in rows],
                        "length": [len(i) for i, _ in rows],
                    }
                ),
                temporary,
            )
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
