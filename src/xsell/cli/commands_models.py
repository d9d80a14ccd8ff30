"""``xsell train`` and ``xsell recommend``: fit a model on the store, save a bundle, ask it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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
    model_param,
    print_json,
)
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.models import load_model, make_model
from xsell.progress import progress_bar


def parse_params(pairs: list[str], model: str = "") -> dict[str, Any]:
    """``name=value`` strings as keyword arguments, each parsed by the model's own parameter."""
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise ValidationError(f"--param expects name=value, got {pair!r}")
        out[name.strip()] = model_param(model, name.strip(), text)
    return out


@app.command()
def train(
    model: Annotated[str, typer.Argument(help="Model name, e.g. cooccurrence, itemknn, personal.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Bundle directory to write.")],
    store: StoreOption = DEFAULT_STORE,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Hyper-parameter name=value.")
    ] = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Fit MODEL on the orders of the store and save it as a bundle."""
    recommender = make_model(model, **parse_params(param or [], model))
    with progress_bar(f"Training {model}", 3, is_quiet(quiet)) as bar:
        bar.step("loading orders", 1)
        data = ShopData.from_store(store)
        bar.step(f"fitting on {data.n_baskets:,} baskets", 1)
        recommender.fit(data)
        bar.step("saving the bundle", 1)
        recommender.save(out)
    summary = {
        "model": model,
        "params": recommender.params(),
        "bundle": str(out),
        "baskets": data.n_baskets,
        "items": data.n_items,
        "fit_seconds": round(recommender.fit_seconds_, 3),
    }
    if json_output:
        print_json(summary)
        return
    console.print(
        f"[green]Trained[/] {model} on {data.n_baskets:,} baskets and {data.n_items:,} items "
        f"in {recommender.fit_seconds_:.2f} s -> {out}"
    )


@app.command()
def recommend(
    bundle: Annotated[Path, typer.Option("--bundle", "-b", help="Bundle written by xsell train.")],
    basket: Annotated[
        str | None, typer.Option("--basket", help="Comma-separated item ids in the cart.")
    ] = None,
    customer: Annotated[str | None, typer.Option("--customer", help="Customer id.")] = None,
    item: Annotated[
        str | None, typer.Option("--item", help="Item id: frequently bought with.")
    ] = None,
    k: Annotated[int, typer.Option("--k", help="How many suggestions.")] = 10,
    json_output: JsonOption = False,
) -> None:
    """Suggestions from a saved model for a cart, a customer or one item."""
    given = [
        f"{name} {value}"
        for name, value in (("cart", basket), ("customer", customer), ("item", item))
        if value
    ]
    if basket is None and item is None and customer is None:
        raise ValidationError("give one of --basket ID,ID, --customer ID or --item ID")
    if basket is not None and item is not None:
        raise ValidationError(f"give --basket or --item, not both (got {'; '.join(given)})")
    model = load_model(bundle)
    if basket is not None:
        items = [i.strip() for i in basket.split(",") if i.strip()]
        frame = model.recommend_for_basket(items, k=k, user=customer)
    elif item is not None:
        frame = model.complements(item, k=k)
    else:
        assert customer is not None
        frame = model.recommend([customer], k=k, exclude_seen=False)
    if json_output:
        print_json(frame.drop(columns=["query"]).to_dict(orient="records"))
        return
    _print(frame, f"{model.name} suggestions for {'; '.join(given)}")


def _print(frame: pd.DataFrame, title: str) -> None:
    table = Table(title=title)
    for column in ("rank", "item_id", "name", "category", "score", "reason"):
        table.add_column(column, justify="right" if column in ("rank", "score") else "left")
    for row in frame.itertuples(index=False):
        table.add_row(
            str(row.rank),
            str(row.item_id),
            _text(row.name),
            _text(row.category),
            f"{row.score:.3g}",
            str(row.reason),
        )
    console.print(table)


def _text(value: object) -> str:
    """A catalog cell for display; missing (None / NaN) shows as empty."""
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)
