"""``xsell bundles``: bundle candidates with a suggested discount above a margin floor."""

from __future__ import annotations

from typing import Annotated

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
from xsell.progress import progress_bar


@app.command()
def bundles(
    k: Annotated[int, typer.Option("--k", help="Bundles of each size.")] = 10,
    margin_floor: Annotated[
        float, typer.Option("--margin-floor", help="Least margin share a bundle keeps (0-1).")
    ] = 0.2,
    elasticity: Annotated[
        float | None,
        typer.Option("--elasticity", help="Price elasticity (default: estimated from the data)."),
    ] = None,
    store: StoreOption = DEFAULT_STORE,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Bundle candidates with the discount that earns the most extra margin above a floor."""
    from xsell.analytics.bundle_prices import check_floor, elasticity_for, price_bundles
    from xsell.analytics.bundles import bundle_candidates
    from xsell.data.shopdata import ShopData

    check_floor(margin_floor)
    with progress_bar("bundles", total=3, quiet=is_quiet(quiet) or json_output) as bar:
        bar.step("loading the store", 0)
        data = ShopData.from_store(store)
        bar.step("finding bundles", 1)
        found = bundle_candidates(data, k=k)
        bar.step("pricing", 1)
        assumed = elasticity_for(data, elasticity)
        priced = price_bundles(found, data, assumed, margin_floor)
        bar.step("done", 1)
    if json_output:
        shown = priced.assign(items=priced["items"].map(list)).astype(object)
        records = shown.where(shown.notna(), None).to_dict(orient="records")
        print_json({"elasticity": assumed.describe(), "bundles": records})
        return
    view = Table(
        title=f"Bundles priced: {assumed.describe()}; margin floor {margin_floor:.0%}",
        title_justify="left",
    )
    for column in ("bundle", "lift", "price", "discount", "bundle price", "margin after", "why"):
        view.add_column(column, justify="left" if column in ("bundle", "why") else "right")
    for row in priced.to_dict(orient="records"):
        known = row["discount"] == row["discount"]
        view.add_row(
            str(row["names"]),
            f"{row['lift']:.1f}",
            f"{row['price']:.2f}",
            f"{row['discount']:.0%}" if known else "",
            f"{row['bundle_price']:.2f}" if known else "",
            f"{row['margin_share_after']:.0%}" if known else "",
            str(row["limited_by"]) if known else "price or margin unknown",
        )
    console.print(view)
