"""``xsell propensity``: whom to mail a campaign for a category, an item family or an item."""

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
from xsell.progress import progress_bar


@app.command()
def propensity(
    target: Annotated[
        str,
        typer.Option(
            "--target",
            help="category=NAME, item=ID, or family=WORD (items whose name holds WORD).",
        ),
    ],
    as_of: Annotated[
        str, typer.Option("--as-of", help="Campaign date: nothing on or after it is looked at.")
    ],
    horizon: Annotated[
        int, typer.Option("--horizon", help="Days after the date in which a purchase counts.")
    ] = 30,
    models: Annotated[
        str, typer.Option("--models", help="Comma-separated: logreg, forest, gbdt.")
    ] = "logreg,forest,gbdt",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the ranked customers (CSV)."),
    ] = None,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Write the backtest's gains chart (HTML).")
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Customers shown on screen.")] = 10,
    store: StoreOption = DEFAULT_STORE,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Rank customers by how likely they buy the target soon, after a time-based backtest."""
    import pandas as pd

    from xsell.data.shopdata import ShopData
    from xsell.errors import ValidationError
    from xsell.evaluation.propensity import backtest, campaign
    from xsell.models.propensity import parse_models

    names = parse_models(models)
    try:
        at = pd.Timestamp(as_of)
    except ValueError:
        raise ValidationError(f"--as-of: expected a date like 2011-09-01, got {as_of!r}") from None
    with progress_bar("propensity", total=4, quiet=is_quiet(quiet) or json_output) as bar:
        bar.step("loading the store", 0)
        data = ShopData.from_store(store)
        bar.step("backtest", 1)
        result = backtest(data, target, at, horizon, names)
        bar.step("scoring the customers", 1)
        ranked = campaign(data, target, at, horizon, names, result)
        bar.step("writing", 1)
        if out is not None:
            from xsell.files import atomic_file

            with atomic_file(out) as tmp:
                ranked.to_csv(tmp, index=False)
        if chart is not None:
            from xsell.analytics.campaign import write_gains_chart

            write_gains_chart(result, chart)
        bar.step("done", 1)
    if json_output:
        print_json(
            {
                "target": target,
                "train_as_of": str(result.train_as_of.date()),
                "test_as_of": str(result.test_as_of.date()),
                "horizon_days": horizon,
                "metrics": result.metrics.reset_index().to_dict(orient="records"),
                "best": result.best(),
                "customers": len(ranked),
                "top": ranked.head(top).to_dict(orient="records"),
                "out": str(out) if out else None,
            }
        )
        return
    view = Table(
        title=f"Backtest: {target}, learned as of {result.train_as_of.date()}, tested as of "
        f"{result.test_as_of.date()} ({horizon} days; {result.metrics['buyer_rate'].iloc[0]:.1%} "
        "bought)",
        title_justify="left",
    )
    columns = ["roc_auc", "pr_auc", "lift@10%", "brier", "calibration_error"]
    view.add_column("model")
    for column in columns:
        view.add_column(column, justify="right")
    for name, row in result.metrics.iterrows():
        view.add_row(str(name), *("" if pd.isna(row[c]) else f"{row[c]:.3f}" for c in columns))
    console.print(view)
    listed = Table(title=f"Most likely buyers as of {at.date()} (of {len(ranked):,})")
    for column in ("rank", "user_id", "probability", "reasons"):
        listed.add_column(column, justify="right" if column != "reasons" else "left")
    for record in ranked.head(top).to_dict(orient="records"):
        listed.add_row(
            str(record["rank"]),
            str(record["user_id"]),
            f"{record['probability']:.3f}",
            str(record["reasons"]),
        )
    console.print(listed)
    if out is not None:
        console.print(f"[green]Wrote[/] {len(ranked):,} customers -> {out}")
