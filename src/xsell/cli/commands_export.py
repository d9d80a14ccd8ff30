"""``xsell export complements|customers``: every list a bundle gives, to one file.

Each command imports what it needs when it runs, so ``xsell --help`` stays quick.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from xsell.cli.app import JsonOption, QuietOption, app, console, is_quiet, print_json

if TYPE_CHECKING:
    from xsell.models.business_rules import BusinessRules

export_app = typer.Typer(
    help="Batch answers for every item or customer, to CSV, Parquet or JSON lines.",
    no_args_is_help=True,
)
app.add_typer(export_app, name="export")

BundleOption = Annotated[
    Path, typer.Option("--bundle", "-b", help="Bundle written by xsell train (or xsell spark).")
]
OutOption = Annotated[
    Path, typer.Option("--out", "-o", help="File to write: .csv, .parquet or .jsonl.")
]
KOption = Annotated[int, typer.Option("--k", help="Suggestions per list.")]
FormatOption = Annotated[
    str | None, typer.Option("--format", help="csv, parquet or jsonl (default: by suffix).")
]
RulesOption = Annotated[
    str | None,
    typer.Option(
        "--rules",
        help='Business rules as JSON or @FILE.json, e.g. \'{"in_stock_only": true, '
        '"exclude_categories": ["Gift cards"], "max_per_category": 3}\'.',
    ),
]
InStockOption = Annotated[
    bool, typer.Option("--in-stock-only", help="Only items the catalog has in stock.")
]


def parse_rules(text: str | None, in_stock_only: bool = False) -> BusinessRules:
    """``--rules`` (JSON, or ``@file.json``) and the shortcut flags as business rules."""
    from xsell.errors import ValidationError
    from xsell.models.business_rules import BusinessRules

    values: dict[str, Any] = {}
    if text:
        source = text
        if text.startswith("@"):
            try:
                source = Path(text[1:]).read_text(encoding="utf-8")
            except OSError as exc:
                raise ValidationError(
                    f"--rules {text}: cannot read {text[1:]}: {exc.strerror}"
                ) from exc
        try:
            values = json.loads(source)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"--rules is not JSON ({exc.msg} at character {exc.pos}); "
                'write e.g. {"in_stock_only": true}'
            ) from exc
        if not isinstance(values, dict):
            raise ValidationError("--rules must be a JSON object of rule names and values")
    if in_stock_only:
        values["in_stock_only"] = True
    return BusinessRules.from_dict(values)


@export_app.command("complements")
def complements(
    bundle: BundleOption,
    out: OutOption,
    k: KOption = 20,
    store: Annotated[
        Path | None,
        typer.Option(
            "--store",
            "-s",
            help="The orders the bundle learned from: pairs bought together by fewer than "
            "--min-customers customers are left out.",
        ),
    ] = None,
    min_customers: Annotated[
        int,
        typer.Option(
            "--min-customers",
            help="Fewest distinct customers behind a co-purchase shown (1: no check).",
        ),
    ] = 5,
    rules: RulesOption = None,
    in_stock_only: InStockOption = False,
    fmt: FormatOption = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Frequently bought together for every item: K complements each, with reasons."""
    from xsell.analytics.exports import PairGuard, export_answers
    from xsell.data.groups import check_min_customers
    from xsell.errors import ValidationError
    from xsell.models import load_model

    check_min_customers(min_customers)
    business = parse_rules(rules, in_stock_only)
    model = load_model(bundle)
    guard = None
    if min_customers > 1:
        if store is None:
            raise ValidationError(
                "complements show what was bought together: give --store STORE (the orders "
                f"the bundle learned from) so that pairs bought by fewer than {min_customers} "
                "distinct customers are left out, or --min-customers 1 to show every pair"
            )
        from xsell.data.shopdata import ShopData

        data = ShopData.from_store(store)
        if data.fingerprint() != model.fitted_on_:
            raise ValidationError(
                f"{store}: holds other orders than {bundle} learned from (data "
                f"{data.fingerprint()}, bundle {model.fitted_on_}); give the store it was "
                "trained on"
            )
        guard = PairGuard(data, min_customers)
    summary = _run(
        lambda progress: export_answers(
            model, "complements", out, k=k, rules=business, guard=guard, fmt=fmt, progress=progress
        ),
        "complements",
        quiet or json_output,
    )
    _report(summary, json_output)


@export_app.command("customers")
def customers(
    bundle: BundleOption,
    out: OutOption,
    k: KOption = 20,
    mode: Annotated[
        str,
        typer.Option(
            "--mode", help="mixed, explore (never what they bought) or repeat (only that)."
        ),
    ] = "mixed",
    include_bought: Annotated[
        bool,
        typer.Option("--include-bought", help="Let items the customer bought before through."),
    ] = False,
    rules: RulesOption = None,
    in_stock_only: InStockOption = False,
    fmt: FormatOption = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Personal suggestions for every customer the bundle knows: K each, with reasons."""
    from xsell.analytics.exports import export_answers
    from xsell.models import load_model
    from xsell.models.business_rules import check_mode

    check_mode(mode)
    business = parse_rules(rules, in_stock_only)
    model = load_model(bundle)
    summary = _run(
        lambda progress: export_answers(
            model,
            "customers",
            out,
            k=k,
            rules=business,
            mode=mode,
            exclude_bought=not include_bought,
            fmt=fmt,
            progress=progress,
        ),
        "customers",
        quiet or json_output,
    )
    _report(summary, json_output)


def _run(job: Any, what: str, quiet: bool) -> Any:
    from xsell.progress import progress_bar

    with progress_bar(f"exporting {what}", 1.0, is_quiet(quiet)) as bar:
        done = [0.0]

        def progress(finished: int, total: int) -> None:
            share = finished / max(total, 1)
            bar.step(f"{finished:,} of {total:,} {what}", share - done[0])
            done[0] = share

        return job(progress)


def _report(summary: Any, json_output: bool) -> None:
    if json_output:
        print_json(summary.__dict__)
        return
    console.print(
        f"[green]Exported[/] {summary.rows:,} rows for {summary.queries:,} {summary.kind} "
        f"in {summary.seconds:.1f} s -> {summary.path} ({summary.format})"
    )
