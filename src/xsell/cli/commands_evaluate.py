"""``xsell evaluate`` and ``xsell tune``: rank models on the shop's own data, and tune one."""

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
    model_param,
    print_json,
)
from xsell.data.shopdata import ShopData
from xsell.data.splits import make_split
from xsell.errors import ValidationError
from xsell.evaluation.leaderboard import check_rank_metric
from xsell.evaluation.protocols import HIDE_MODES, PROTOCOLS
from xsell.evaluation.runner import check_ks, evaluate
from xsell.evaluation.tuning import parse_space, tune
from xsell.models import REGISTRY
from xsell.progress import progress_bar

ProtocolOption = Annotated[
    str,
    typer.Option("--protocol", help=f"Evaluation protocol: {', '.join(PROTOCOLS)}."),
]
SplitOption = Annotated[
    str,
    typer.Option(
        "--split", help="A date (time split there, e.g. 2011-10-01), last-basket or random."
    ),
]
MaxQueriesOption = Annotated[
    int, typer.Option("--max-queries", help="Seeded sample of test queries (0 = all).")
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the samples and the tuner.")]
ModeOption = Annotated[
    str,
    typer.Option(
        "--mode",
        help="mixed (lists as ranked), explore (only items the customer never bought) "
        "or repeat (only items they bought).",
    ),
]
ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--param", help="Model parameter as model.name=value, e.g. cooccurrence.measure=lift."
    ),
]


def _parse_ks(text: str) -> list[int]:
    try:
        return check_ks([int(part) for part in text.split(",") if part.strip()])
    except ValueError as exc:
        raise ValidationError(
            f"--k must be comma-separated integers like 5,10,20, got {text!r}"
        ) from exc


def _parse_params(specs: list[str] | None, models: list[str]) -> dict[str, dict[str, Any]]:
    params: dict[str, dict[str, Any]] = {}
    for spec in specs or []:
        key, sep, value = spec.partition("=")
        model, dot, name = key.partition(".")
        if not sep or not dot or not name:
            raise ValidationError(f"--param {spec!r}: expected model.name=value")
        if model not in models:
            raise ValidationError(
                f"--param {spec!r}: model {model!r} is not among --models {models}"
            )
        params.setdefault(model, {})[name] = model_param(model, name, value)
    return params


def _load(store: Path, split: str, seed: int, quiet: bool) -> tuple[ShopData, Any]:
    with progress_bar("loading the store", total=2, quiet=quiet) as bar:
        data = ShopData.from_store(store)
        bar.step(f"splitting at {split}")
        return data, make_split(data, split, seed=seed)


@app.command(name="evaluate")
def evaluate_command(
    models: Annotated[
        str,
        typer.Option("--models", "-m", help=f"Comma-separated models: {', '.join(REGISTRY)}."),
    ] = "popularity",
    protocol: ProtocolOption = "basket-completion",
    split: SplitOption = "last-basket",
    k: Annotated[str, typer.Option("--k", help="Cut-offs, comma-separated.")] = "5,10,20",
    hide: Annotated[
        str, typer.Option("--hide", help="Basket completion: hide one item or half of them.")
    ] = "one",
    max_queries: MaxQueriesOption = 10_000,
    seed: SeedOption = 0,
    param: ParamOption = None,
    mode: ModeOption = "mixed",
    slots: Annotated[
        bool,
        typer.Option(
            "--slots/--no-slots",
            help="Mixed mode: learn each model's share of new items per customer group first.",
        ),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder for leaderboard .json, .md, .html (and .png)."),
    ] = None,
    save: Annotated[
        bool, typer.Option("--save/--no-save", help="Record the leaderboard in the store.")
    ] = True,
    store: StoreOption = DEFAULT_STORE,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Fit models on the training side of a split and rank them on held-out baskets."""
    from xsell.models import check_mode

    check_mode(mode)
    names = [m.strip() for m in models.split(",") if m.strip()]
    unknown = [m for m in names if m not in REGISTRY]
    if not names or unknown:
        raise ValidationError(
            f"--models: unknown model {', '.join(map(repr, unknown)) or '(none given)'}; "
            f"choose from {sorted(REGISTRY)}"
        )
    if protocol not in PROTOCOLS:
        raise ValidationError(f"--protocol must be one of {list(PROTOCOLS)}, got {protocol!r}")
    if hide not in HIDE_MODES:
        raise ValidationError(f"--hide must be one of {list(HIDE_MODES)}, got {hide!r}")
    ks = _parse_ks(k)
    params = _parse_params(param, names)
    silent = is_quiet(quiet) or json_output
    _, chosen = _load(store, split, seed, silent)
    board = evaluate(
        names,
        chosen,
        protocol,
        ks,
        split_name=split,
        dataset=str(store),
        params=params,
        max_queries=max_queries or None,
        hide=hide,
        seed=seed,
        quiet=silent,
        mode=mode,
        slots=slots,
    )
    written = board.write(out) if out is not None else {}
    if save:
        board.save_to_store(store)
    if json_output:
        payload = board.to_dict()
        payload["files"] = {key: str(v) if v else None for key, v in written.items()}
        payload["saved_to_store"] = save
        print_json(payload)
        return
    console.print(board.to_rich())
    for kind, path in written.items():
        console.print(f"{kind}: {path}" if path else f"{kind}: not written (needs kaleido)")
    if save:
        console.print(f"leaderboard {board.run_id} saved in {store}")


@app.command(name="tune")
def tune_command(
    model: Annotated[str, typer.Argument(help=f"Model to tune: {', '.join(REGISTRY)}.")],
    trials: Annotated[int, typer.Option("--trials", "-n", help="Optuna trials.")] = 20,
    protocol: ProtocolOption = "basket-completion",
    split: SplitOption = "last-basket",
    metric: Annotated[str, typer.Option("--metric", help="What to maximise.")] = "recall@10",
    space: Annotated[
        list[str] | None,
        typer.Option("--space", help="Search range: name=low:high[:log] or name=a,b,c."),
    ] = None,
    max_queries: MaxQueriesOption = 2_000,
    seed: SeedOption = 0,
    mode: ModeOption = "mixed",
    store: StoreOption = DEFAULT_STORE,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Tune a model with Optuna on a validation split carved from the training data only."""
    if model not in REGISTRY:
        raise ValidationError(f"unknown model {model!r}; choose one of {sorted(REGISTRY)}")
    _, _, at = metric.partition("@")
    check_rank_metric(metric, [int(at)] if at.isdigit() else [10])
    silent = is_quiet(quiet) or json_output
    _, chosen = _load(store, split, seed, silent)
    result = tune(
        model,
        chosen.train,
        split,
        protocol=protocol,
        n_trials=trials,
        metric=metric,
        space=parse_space(space or []),
        max_queries=max_queries or None,
        seed=seed,
        quiet=silent,
        mode=mode,
    )
    if json_output:
        print_json(result.to_dict())
        return
    table = Table(title=f"tuning {model}: {metric} on validation (test split untouched)")
    table.add_column("trial", justify="right")
    names = sorted({n for t in result.trials for n in t["params"]})
    for name in names:
        table.add_column(name)
    table.add_column(metric, justify="right")
    for trial in sorted(result.trials, key=lambda t: -(t["value"] or 0.0))[:15]:
        table.add_row(
            str(trial["number"]),
            *(_short(trial["params"].get(n, "")) for n in names),
            f"{trial['value']:.4f}" if trial["value"] is not None else "-",
        )
    console.print(table)
    v = result.validation
    console.print(
        f"validation: {v['fit_baskets']:,} fit baskets, {v['validation_baskets']:,} validation "
        f"baskets, {v['queries']:,} queries"
    )
    console.print(f"best {metric} = {result.best_value:.4f} with {result.best_params}")


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
