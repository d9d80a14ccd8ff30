"""``xsell spark ingest|cooccurrence|rules|export|als``: the same jobs on Apache Spark.

``--master local[N]`` (default ``local[2]``) runs Spark on this machine; the same
commands run on a cluster with ``--master spark://HOST:PORT``, ``yarn`` or
``k8s://URL``, or under ``spark-submit`` (whose master then wins). Each command
imports PySpark when it runs, so ``xsell --help`` stays quick.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from xsell.cli.app import JsonOption, QuietOption, app, console, is_quiet, print_json

spark_app = typer.Typer(
    help="Ingest, co-occurrence, rules, exports and ALS on Apache Spark (local or a cluster).",
    no_args_is_help=True,
)
app.add_typer(spark_app, name="spark")

MasterOption = Annotated[
    str,
    typer.Option(
        "--master",
        help="Spark master: local[N] (N threads here), spark://HOST:PORT, yarn or k8s://URL.",
    ),
]
ConfOption = Annotated[
    list[str] | None,
    typer.Option("--conf", help="Spark setting key=value, e.g. spark.executor.memory=8g."),
]
LakeOption = Annotated[
    Path, typer.Option("--lake", "-l", help="Lake folder written by xsell spark ingest.")
]
DEFAULT_MASTER = "local[2]"


def _session(master: str, conf: list[str] | None) -> Any:
    from xsell.engines.spark.session import parse_conf, spark_session

    return spark_session(master, conf=parse_conf(conf))


def _bar(title: str, total: float, quiet: bool) -> Any:
    from xsell.progress import progress_bar

    return progress_bar(title, total, is_quiet(quiet))


@spark_app.command("ingest")
def ingest(
    paths: Annotated[list[str], typer.Argument(help="CSV, Parquet or basket-per-line files.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Lake folder to write (replaced).")],
    preset: Annotated[
        str, typer.Option("--preset", "-p", help="Column layout, as for xsell ingest.")
    ] = "generic",
    mapping: Annotated[
        str | None, typer.Option("--map", "-m", help="Column mapping, e.g. item=StockCode.")
    ] = None,
    time_format: Annotated[
        str | None, typer.Option("--time-format", help="strptime format of the time column.")
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option("--delimiter", help="Field separator (default: sniffed).")
    ] = None,
    master: MasterOption = DEFAULT_MASTER,
    conf: ConfOption = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Clean order-line files on Spark by the rules of xsell ingest; write a Parquet lake."""
    from dataclasses import replace

    from xsell.data.ingest import options_of
    from xsell.data.presets import get_preset, parse_mapping
    from xsell.engines.spark.ingest import ingest_lake

    spec = get_preset(preset).with_mapping(parse_mapping(mapping))
    options = options_of(spec)
    if time_format:
        options = replace(options, time_format=time_format)
    spark = _session(master, conf)
    with _bar("spark ingest", 5 + len(paths), quiet or json_output) as bar:
        report = ingest_lake(
            spark, paths, out, preset=spec, options=options, delimiter=delimiter, reporter=bar
        )
    if json_output:
        print_json(report.to_dict())
        return
    for file in report.files:
        reasons = ", ".join(f"{r} {n:,}" for r, n in file.reasons.items()) or "none"
        console.print(
            f"{file.path}: {file.rows_in:,} lines, kept {file.rows_kept:,}, rejected "
            f"{file.rows_rejected:,} ({reasons})"
        )
        for warning in file.warnings:
            console.print(f"[yellow]warning:[/] {warning}")
    console.print(f"[green]Lake[/] {out}: {report.rows_kept:,} lines in {report.seconds:.1f} s")


@spark_app.command("cooccurrence")
def cooccurrence(
    lake: LakeOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="Bundle directory to write.")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="measure, min_count, neighbours, aggregate."),
    ] = None,
    master: MasterOption = DEFAULT_MASTER,
    conf: ConfOption = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Pair counts, measures and top-k pruning on Spark, saved as a co-occurrence bundle."""
    from xsell.cli.commands_models import parse_params
    from xsell.engines.spark.cooccurrence import write_cooccurrence_bundle
    from xsell.engines.spark.lake import read_lake

    params = parse_params(param or [])
    spark = _session(master, conf)
    with _bar("spark cooccurrence", 5, quiet or json_output) as bar:
        bar.step("reading the lake", 1)
        data = read_lake(spark, lake)
        model = write_cooccurrence_bundle(data, out, reporter=bar, **params)
    summary = {
        "bundle": str(out),
        "baskets": data.n_baskets,
        "items": len(data.items),
        "pairs": int(model.similarity_.nnz) if model.similarity_ is not None else 0,
        "params": model.params(),
    }
    if json_output:
        print_json(summary)
        return
    console.print(
        f"[green]Bundle[/] {out}: cooccurrence on {data.n_baskets:,} baskets, "
        f"{len(data.items):,} items, {summary['pairs']:,} pairs kept"
    )


@spark_app.command("rules")
def rules(
    lake: LakeOption,
    min_support: Annotated[
        str | None, typer.Option("--min-support", help="Fraction (0.001) or baskets (50).")
    ] = None,
    top: Annotated[
        int | None, typer.Option("--top", "-k", help="Keep the K strongest rules.")
    ] = None,
    min_count: Annotated[
        int, typer.Option("--min-count", help="Without --min-support: baskets per rule.")
    ] = 10,
    max_len: Annotated[int | None, typer.Option("--max-len", help="Longest itemset.")] = None,
    min_confidence: Annotated[float, typer.Option("--min-confidence")] = 0.0,
    min_lift: Annotated[float | None, typer.Option("--min-lift")] = None,
    max_p: Annotated[float | None, typer.Option("--max-p")] = None,
    max_q: Annotated[float | None, typer.Option("--max-q")] = None,
    sort: Annotated[str, typer.Option("--sort", help="Rank rules by this metric.")] = "lift",
    store: Annotated[
        Path | None,
        typer.Option("--store", "-s", help="Save the rules as a new version in this store."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the rules to .csv or .parquet.")
    ] = None,
    memory_budget: Annotated[str, typer.Option("--memory-budget")] = "1GB",
    master: MasterOption = DEFAULT_MASTER,
    conf: ConfOption = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Frequent itemsets on Spark (FP-Growth, exact), rules with every metric, p and q values."""
    from xsell.cli.commands_rules import parse_support
    from xsell.engines.spark.lake import read_lake
    from xsell.engines.spark.rules import lake_rules
    from xsell.errors import ValidationError
    from xsell.mining import export_rules, save_rules

    if store is None and out is None:
        raise ValidationError("give --store STORE (save a rules version) and/or --out FILE")
    threshold = parse_support(min_support) if min_support is not None else None
    if threshold is None and top is None:
        top = 1000
    spark = _session(master, conf)
    with _bar("spark rules", 4, quiet or json_output) as bar:
        bar.step("reading the lake", 1)
        data = read_lake(spark, lake)
        table = lake_rules(
            data,
            min_support=threshold,
            top_k=top,
            min_count=min_count,
            max_len=max_len,
            memory_budget=memory_budget,
            reporter=bar,
            min_confidence=min_confidence,
            min_lift=min_lift,
            max_p_value=max_p,
            max_q_value=max_q,
            sort_by=sort,
        )
    version = None
    if store is not None:
        version = save_rules(
            store,
            table,
            params={
                "source": str(lake),
                "engine": "spark",
                "min_support": min_support,
                "top": top,
                "min_count": min_count,
                "max_len": max_len,
                "sort": sort,
            },
        )
    if out is not None:
        export_rules(table, out)
    summary = {
        "lake": str(lake),
        "rules": len(table),
        "saved_version": version,
        "out": str(out) if out else None,
    }
    if json_output:
        print_json(summary)
        return
    console.print(
        f"[green]{len(table):,} rules[/] from {lake}"
        + (f", saved as version {version} in {store}" if version else "")
        + (f", written to {out}" if out else "")
    )


@spark_app.command("export")
def export(
    kind: Annotated[str, typer.Argument(help="complements or customers.")],
    bundle: Annotated[Path, typer.Option("--bundle", "-b", help="Bundle to ship to executors.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder of part files to write.")],
    k: Annotated[int, typer.Option("--k", help="Suggestions per list.")] = 20,
    store: Annotated[
        Path | None,
        typer.Option("--store", "-s", help="Orders the bundle learned from (group sizes)."),
    ] = None,
    min_customers: Annotated[int, typer.Option("--min-customers")] = 5,
    mode: Annotated[str, typer.Option("--mode", help="Customers: mixed, explore, repeat.")] = (
        "mixed"
    ),
    include_bought: Annotated[bool, typer.Option("--include-bought")] = False,
    rules_json: Annotated[
        str | None, typer.Option("--rules", help="Business rules as JSON or @FILE.json.")
    ] = None,
    in_stock_only: Annotated[bool, typer.Option("--in-stock-only")] = False,
    fmt: Annotated[
        str, typer.Option("--format", help="parquet, csv or jsonl part files.")
    ] = "parquet",
    master: MasterOption = DEFAULT_MASTER,
    conf: ConfOption = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """The batch answers of xsell export over Spark partitions (the bundle on every executor)."""
    from xsell.cli.commands_export import parse_rules
    from xsell.data.groups import check_min_customers
    from xsell.engines.spark.export import spark_export

    check_min_customers(min_customers)
    business = parse_rules(rules_json, in_stock_only)
    spark = _session(master, conf)
    with _bar(f"spark export {kind}", 1, quiet or json_output) as bar:
        summary = spark_export(
            spark,
            bundle,
            kind,
            out,
            k=k,
            rules=business,
            mode=mode,
            exclude_bought=not include_bought,
            store=store,
            min_customers=min_customers if kind == "complements" else 1,
            fmt=fmt,
        )
        bar.step("done", 1)
    if json_output:
        print_json(summary.__dict__)
        return
    console.print(
        f"[green]Exported[/] {summary.rows:,} rows for {summary.queries:,} {kind} in "
        f"{summary.seconds:.1f} s -> {out}/ ({fmt} part files)"
    )


@spark_app.command("als")
def als(
    lake: LakeOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for lists and factors.")],
    k: Annotated[int, typer.Option("--k", help="Items per customer.")] = 20,
    factors: Annotated[int, typer.Option("--factors")] = 64,
    iterations: Annotated[int, typer.Option("--iterations")] = 15,
    regularization: Annotated[float, typer.Option("--regularization")] = 0.01,
    alpha: Annotated[float, typer.Option("--alpha")] = 10.0,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    master: MasterOption = DEFAULT_MASTER,
    conf: ConfOption = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Implicit ALS on Spark MLlib: per-customer lists and factors (no fold-in of new carts)."""
    from xsell.engines.spark.als import write_als
    from xsell.engines.spark.lake import read_lake

    spark = _session(master, conf)
    with _bar("spark als", 2, quiet or json_output) as bar:
        bar.step("reading the lake", 1)
        data = read_lake(spark, lake)
        summary = write_als(
            data,
            out,
            k,
            factors=factors,
            iterations=iterations,
            regularization=regularization,
            alpha=alpha,
            seed=seed,
        )
        bar.step("done", 1)
    if json_output:
        print_json(summary)
        return
    console.print(
        f"[green]ALS[/] lists of {k} for {summary['customers']:,} customers -> {out}/"
        "recommendations (factors beside them)"
    )
