"""``xsell segments``, ``xsell baskets``, ``xsell report``: analytics a merchandiser reads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from xsell.analytics import SEGMENT_METHODS, compute_segments, save_segments, segment_profiles
from xsell.analytics.baskets import basket_sizes, top_pairs
from xsell.analytics.report import FORMATS, TOTAL_STEPS, build_report
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
from xsell.data.store import Store
from xsell.errors import ValidationError
from xsell.progress import progress_bar

MinCustomersOption = Annotated[
    int,
    typer.Option(
        "--min-customers",
        help="Show only items, pairs, bundles and segments bought by at least this many "
        "distinct customers.",
    ),
]


@app.command()
def segments(
    method: Annotated[
        str, typer.Option("--method", help=f"Segmentation: {', '.join(sorted(SEGMENT_METHODS))}.")
    ] = "rfm",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write every customer's segment (CSV).")
    ] = None,
    store: StoreOption = DEFAULT_STORE,
    min_customers: MinCustomersOption = 5,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Segment customers (RFM or KMeans), store the labels, and profile each segment."""
    if method not in SEGMENT_METHODS:
        raise ValidationError(
            f"unknown --method {method!r}; choose one of {sorted(SEGMENT_METHODS)}"
        )
    with progress_bar("segments", total=4, quiet=is_quiet(quiet) or json_output) as bar:
        bar.step("loading the store", 0)
        data = ShopData.from_store(store)
        bar.step(f"segmenting ({method})", 1)
        table = compute_segments(data, method)
        bar.step("profiling", 1)
        profiles = segment_profiles(data, table, min_customers=min_customers)
        bar.step("saving labels", 1)
        saved = save_segments(Store(store), table, method)
        bar.step("done", 1)
    if out is not None:
        _write_csv(table.reset_index(drop=True), out)
    if json_output:
        print_json(
            {
                "method": method,
                "customers": len(table),
                "saved": saved,
                "out": str(out) if out else None,
                "segments": profiles.to_dict(orient="records"),
            }
        )
        return
    view = Table(title=f"{method} segments: {len(table):,} customers", title_justify="left")
    for column in ("segment", "customers", "share", "orders", "revenue share", "top items"):
        view.add_column(column, justify="left" if column in ("segment", "top items") else "right")
    for row in profiles.itertuples():
        view.add_row(
            str(row.segment),
            f"{row.customers:,}",
            f"{row.customer_share:.1%}",
            f"{row.orders:,}",
            _percent(float(row.revenue_share)),  # type: ignore[arg-type]
            str(row.top_items),
        )
    console.print(view)
    console.print(f"saved {saved:,} labels to [bold]{store}[/] (table segments, method {method})")
    if out is not None:
        console.print(f"wrote [bold]{out}[/]")


@app.command()
def baskets(
    store: StoreOption = DEFAULT_STORE,
    top: Annotated[int, typer.Option("--top", help="How many pairs to list.")] = 10,
    min_count: Annotated[
        int | None, typer.Option("--min-count", help="Baskets a pair needs (default 0.5%).")
    ] = None,
    min_customers: MinCustomersOption = 5,
    json_output: JsonOption = False,
) -> None:
    """Basket sizes and the item pairs bought together most above chance."""
    data = ShopData.from_store(store)
    sizes = basket_sizes(data)
    pairs = top_pairs(data, k=top, min_count=min_count, min_customers=min_customers)
    if json_output:
        print_json(
            {
                "baskets": data.n_baskets,
                "mean_size": float((sizes["size"] * sizes["baskets"]).sum() / data.n_baskets),
                "pairs": pairs.drop(columns=["a", "b"]).to_dict(orient="records"),
            }
        )
        return
    mean = (sizes["size"] * sizes["baskets"]).sum() / data.n_baskets
    console.print(f"{data.n_baskets:,} baskets, {mean:.1f} distinct items on average")
    view = Table(title=f"top {top} pairs by lift", title_justify="left")
    for column in ("item A", "item B", "baskets", "lift", "P(B|A)", "q value"):
        view.add_column(column, justify="left" if column.startswith("item") else "right")
    for row in pairs.itertuples():
        view.add_row(
            str(row.name_a),
            str(row.name_b),
            f"{row.count:,}",
            f"{row.lift:.1f}",
            f"{row.confidence_ab:.0%}",
            f"{row.q_value:.2g}",
        )
    console.print(view)


@app.command()
def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="Report file to write.")] = Path(
        "report.html"
    ),
    fmt: Annotated[
        str, typer.Option("--format", "-f", help=f"Output: {', '.join(FORMATS)}.")
    ] = "html",
    store: StoreOption = DEFAULT_STORE,
    min_customers: MinCustomersOption = 5,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Write one report of segments, baskets, sales, paths, bundles, rules and the leaderboard."""
    with progress_bar("report", total=TOTAL_STEPS, quiet=is_quiet(quiet) or json_output) as bar:
        result = build_report(store, out, fmt, reporter=bar, min_customers=min_customers)
    missing = result.content.missing()
    if json_output:
        print_json(
            {
                "out": str(result.path),
                "format": result.format,
                "charts": result.charts,
                "images": [str(p) for p in result.images],
                "not_computed": [
                    {"section": s, "part": p.title, "why": p.missing} for s, p in missing
                ],
            }
        )
        return
    console.print(f"wrote [bold]{result.path}[/] ({result.charts} charts)")
    for section, part in missing:
        console.print(f"[yellow]not computed[/] {section}: {part.title}: {part.missing}")


def _percent(value: float) -> str:
    return "-" if value != value else f"{value:.1%}"


def _write_csv(frame: object, path: Path) -> None:
    import pandas as pd

    assert isinstance(frame, pd.DataFrame)
    from xsell.files import atomic_file

    with atomic_file(path) as tmp:
        frame.to_csv(tmp, index=False)
