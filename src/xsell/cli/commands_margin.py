"""``xsell margin-sweep``: what ranking by expected margin costs in relevance."""

from __future__ import annotations

from pathlib import Path
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


@app.command(name="margin-sweep")
def margin_sweep_command(
    model: Annotated[
        str, typer.Option("--model", "-m", help="The model to sweep.")
    ] = "cooccurrence",
    split: Annotated[
        str, typer.Option("--split", help="A date (time split there), last-basket or random.")
    ] = "last-basket",
    protocol: Annotated[
        str, typer.Option("--protocol", help="basket-completion or next-basket.")
    ] = "basket-completion",
    sensitivities: Annotated[
        str, typer.Option("--sensitivities", help="Comma-separated, each in [0, 1].")
    ] = "0,0.25,0.5,0.75,1",
    k: Annotated[int, typer.Option("--k", help="The cut-off of every metric.")] = 10,
    overstock_boost: Annotated[
        float, typer.Option("--overstock-boost", help="Also boost overstocked items (>= 0).")
    ] = 0.0,
    max_queries: Annotated[
        int, typer.Option("--max-queries", help="Seeded sample of test queries (0 = all).")
    ] = 10_000,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Folder for sweep.json, sweep.md and the sweep.html chart."
        ),
    ] = None,
    store: StoreOption = DEFAULT_STORE,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Rank held-out baskets at several margin sensitivities: margin@k against recall@k."""
    from xsell.data.shopdata import ShopData
    from xsell.data.splits import make_split
    from xsell.errors import ValidationError
    from xsell.evaluation.margin import margin_sweep
    from xsell.models import make_model

    try:
        values = [float(s) for s in sensitivities.split(",") if s.strip()]
    except ValueError:
        raise ValidationError(
            f"--sensitivities: expected numbers in [0, 1] like 0,0.5,1, got {sensitivities!r}"
        ) from None
    recommender = make_model(model)
    silent = is_quiet(quiet) or json_output
    data = ShopData.from_store(store)
    sweep = margin_sweep(
        recommender,
        make_split(data, split),
        protocol,
        values,
        k,
        overstock_boost=overstock_boost,
        split_name=split,
        max_queries=max_queries or None,
        quiet=silent,
    )
    written = sweep.write(out) if out is not None else {}
    if json_output:
        print_json({**sweep.to_dict(), "written": {n: str(p) for n, p in written.items()}})
        return
    view = Table(title=sweep.title(), title_justify="left")
    columns = [f"recall@{k}", "recall_change", f"margin@{k}", "margin_change", f"revenue@{k}"]
    view.add_column("sensitivity", justify="right")
    for column in columns:
        view.add_column(column, justify="right")
    for row in sweep.table.to_dict(orient="records"):
        view.add_row(
            f"{row['sensitivity']:g}",
            *(f"{row[c]:+.1%}" if c.endswith("change") else f"{row[c]:.4f}" for c in columns),
        )
    console.print(view)
    for name, path in written.items():
        console.print(f"[green]Wrote[/] {name}: {path}")
