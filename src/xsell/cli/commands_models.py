"""``xsell train`` and ``xsell recommend``: fit a model on the store, save a bundle, ask it."""

from __future__ import annotations

import math
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
from xsell.models import BusinessRules, load_model, make_model
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
    slots: Annotated[
        bool,
        typer.Option(
            "--slots/--no-slots",
            help="Also learn the share of new items in mixed lists per customer group.",
        ),
    ] = False,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Fit MODEL on the orders of the store and save it as a bundle."""
    from xsell.models import model_parameters

    params = parse_params(param or [], model)
    silent = is_quiet(quiet) or json_output
    if silent and "quiet" in model_parameters(model):
        # Models with their own progress (the deep models' epochs) are told --quiet too.
        params.setdefault("quiet", True)
    recommender = make_model(model, **params)
    with progress_bar(f"Training {model}", 4 if slots else 3, silent) as bar:
        bar.step("loading orders", 1)
        data = ShopData.from_store(store)
        bar.step(f"fitting on {data.n_baskets:,} baskets", 1)
        recommender.fit(data)
        if slots:
            bar.step("learning the share of new items in mixed lists", 1)
            recommender.learn_slots(data)
        bar.step("saving the bundle", 1)
        recommender.save(out)
    summary = {
        "model": model,
        "params": recommender.params(),
        "bundle": str(out),
        "baskets": data.n_baskets,
        "items": data.n_items,
        "fit_seconds": round(recommender.fit_seconds_, 3),
        "slots": recommender.slots_.to_dict() if recommender.slots_ is not None else None,
    }
    if json_output:
        print_json(summary)
        return
    console.print(
        f"[green]Trained[/] {model} on {data.n_baskets:,} baskets and {data.n_items:,} items "
        f"in {recommender.fit_seconds_:.2f} s -> {out}"
    )


def _ids(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(i.strip() for i in text.split(",") if i.strip())


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
    exclude_seen: Annotated[
        bool,
        typer.Option(
            "--exclude-seen/--include-seen",
            help="Leave out what the customer bought before (--customer alone, or a cart with "
            "--customer).",
        ),
    ] = True,
    in_stock_only: Annotated[
        bool, typer.Option("--in-stock-only", help="Leave out items marked out of stock.")
    ] = False,
    complements_only: Annotated[
        bool,
        typer.Option("--complements-only", help="Never items of the categories in the cart."),
    ] = False,
    category: Annotated[
        list[str] | None, typer.Option("--category", help="Only items of this category.")
    ] = None,
    exclude_category: Annotated[
        list[str] | None, typer.Option("--exclude-category", help="Never items of this category.")
    ] = None,
    min_price: Annotated[float | None, typer.Option("--min-price", help="Lowest price.")] = None,
    max_price: Annotated[float | None, typer.Option("--max-price", help="Highest price.")] = None,
    max_per_category: Annotated[
        int | None,
        typer.Option("--max-per-category", min=1, help="At most this many of one category."),
    ] = None,
    allow: Annotated[str | None, typer.Option("--allow", help="Only these item ids.")] = None,
    deny: Annotated[str | None, typer.Option("--deny", help="Never these item ids.")] = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Show which business rule removed which items and, for learned rankers, "
            "each suggestion's feature contributions.",
        ),
    ] = False,
    objective: Annotated[
        str, typer.Option("--objective", help="relevance, or margin (expected margin).")
    ] = "relevance",
    margin_sensitivity: Annotated[
        float,
        typer.Option("--margin-sensitivity", help="With --objective margin: 0 relevance .. 1."),
    ] = 0.5,
    overstock_boost: Annotated[
        float, typer.Option("--overstock-boost", help="Up to this much more for overstock.")
    ] = 0.0,
    mode: Annotated[
        str,
        typer.Option(
            "--mode",
            help="For a customer: mixed, explore (only items they never bought) or repeat "
            "(only items they bought; --exclude-seen then does not apply).",
        ),
    ] = "mixed",
    json_output: JsonOption = False,
) -> None:
    """Suggestions from a saved model for a cart, a customer or one item, under business rules."""
    from xsell.models import check_mode

    check_mode(mode)
    given = [
        f"{name} {value}"
        for name, value in (("cart", basket), ("customer", customer), ("item", item))
        if value
    ]
    if basket is None and item is None and customer is None:
        raise ValidationError("give one of --basket ID,ID, --customer ID or --item ID")
    if basket is not None and item is not None:
        raise ValidationError(f"give --basket or --item, not both (got {'; '.join(given)})")
    for name, price in (("--min-price", min_price), ("--max-price", max_price)):
        if price is not None and not math.isfinite(price):
            raise ValidationError(f"{name} must be a finite number, got {price}")
    rules = BusinessRules(
        # --exclude-seen is the mixed mode's switch; explore and repeat decide it themselves.
        exclude_bought=exclude_seen and customer is not None and mode == "mixed",
        in_stock_only=in_stock_only,
        categories=tuple(category) if category else None,
        exclude_categories=tuple(exclude_category or ()),
        complements_only=complements_only,
        min_price=min_price,
        max_price=max_price,
        max_per_category=max_per_category,
        allow=_ids(allow),
        deny=_ids(deny) or (),
        objective=objective,
        margin_sensitivity=margin_sensitivity,
        overstock_boost=overstock_boost,
    )
    model = load_model(bundle)
    if item is not None:
        basket, customer = item, None
    if basket is not None:
        items = _ids(basket) or ()
        frame = model.recommend_for_basket(
            items, k=k, user=customer, rules=rules, explain=explain, mode=mode
        )
    else:
        assert customer is not None
        frame = model.recommend(
            [customer], k=k, exclude_seen=False, rules=rules, explain=explain, mode=mode
        )
    if json_output:
        print_json(frame.drop(columns=["query"]).to_dict(orient="records"))
        return
    _print(frame, f"{model.name} suggestions for {'; '.join(given)}")
    ids = model.require_fitted().ids
    unknown = [i for i in (_ids(basket) or ()) if ids.index_of(i) < 0]
    if unknown:
        console.print(f"unknown item ids, answered without them: {', '.join(unknown)}")
    if explain:
        _print_trace(frame)


def _print(frame: pd.DataFrame, title: str) -> None:
    table = Table(title=title)
    columns = ("rank", "item_id", "name", "category", "price", "score", "reason", "source")
    for column in columns:
        table.add_column(
            column, justify="right" if column in ("rank", "price", "score") else "left"
        )
    for row in frame.itertuples(index=False):
        table.add_row(
            str(row.rank),
            str(row.item_id),
            _text(row.name),
            _text(row.category),
            _price(row.price),
            f"{row.score:.3g}",
            str(row.reason),
            str(row.source),
        )
    console.print(table)


def _print_trace(frame: pd.DataFrame) -> None:
    """The business-rule trace: what each rule removed from the ranked list."""
    if frame.empty:
        console.print("No suggestion is left after the business rules.")
        return
    trace = frame["trace"].iloc[0]
    if not trace:
        console.print("No business rule removed an item.")
        return
    for rule, removed in trace.items():
        shown = ", ".join(map(str, removed[:10]))
        more = f" and {len(removed) - 10:,} more" if len(removed) > 10 else ""
        console.print(f"{rule} removed {len(removed):,}: {shown}{more}")


def _price(value: object) -> str:
    text = _text(value)
    return f"{float(text):.2f}" if text else ""


def _text(value: object) -> str:
    """A catalog cell for display; missing (None / NaN) shows as empty."""
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)
