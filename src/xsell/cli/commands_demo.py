"""``xsell demo``: the whole pipeline on the synthetic shop (or on files given to it)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from xsell.cli.app import QuietOption, app, console, is_quiet, print_json
from xsell.data.ingest import ingest_catalog, ingest_customers, ingest_lines
from xsell.data.shopdata import ShopData
from xsell.data.stats import store_stats
from xsell.data.store import Store
from xsell.data.synthetic import make_shop
from xsell.progress import progress_bar

DEMO_MODELS = "popularity,personal,cooccurrence,itemknn,als,rules,reranker"


@app.command()
def demo(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Order files to use instead of the synthetic shop.")
    ] = None,
    preset: Annotated[
        str, typer.Option("--preset", "-p", help="Preset of the given files.")
    ] = "generic",
    catalog: Annotated[Path | None, typer.Option("--catalog", "-c", help="Catalog file.")] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the store and outputs.")
    ] = Path("xsell-demo"),
    users: Annotated[int, typer.Option("--users", help="Synthetic shop: customers.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Synthetic shop: random seed.")] = 0,
    models: Annotated[
        str, typer.Option("--models", help="Models to compare on a held-out month.")
    ] = DEMO_MODELS,
    report: Annotated[bool, typer.Option("--report/--no-report", help="Write report.html.")] = True,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    quiet: QuietOption = False,
) -> None:
    """Ingest, inspect, mine rules, compare models, suggest and report, end to end."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    store = Store(out / "xsell.duckdb")
    for stale in (store.path, store.path.with_name(store.path.name + ".wal")):
        stale.unlink(missing_ok=True)
    summary: dict[str, Any] = {"store": str(store.path)}
    shop = None
    with progress_bar("demo", total=7, quiet=is_quiet(quiet) or json_output) as bar:
        bar.step("preparing data", 0)
        if paths:
            reports = [ingest_lines(store, p, preset=preset) for p in paths]
            if catalog:
                reports.append(ingest_catalog(store, catalog, preset=preset))
        else:
            shop = make_shop(n_users=users, seed=seed)
            files = shop.write(out / "data")
            reports = [
                ingest_lines(store, files["orders"]),
                ingest_lines(store, files["events"], preset="events"),
                ingest_catalog(store, files["catalog"]),
                ingest_customers(store, files["customers"]),
            ]
        bar.step("ingested", 1)
        summary["ingest"] = [
            {
                "path": r.path,
                "kind": r.kind,
                "read": r.rows_in,
                "kept": r.rows_kept,
                "rejected": r.rows_rejected,
                "reasons": r.reasons,
            }
            for r in reports
        ]
        figures = store_stats(store, top=5)
        summary["stats"] = {
            k: figures[k] for k in ("lines", "baskets", "customers", "items", "events")
        }
        data = ShopData.from_store(store)
        bar.step("mining rules", 1)
        summary["rules"] = _rules(data, store)
        bar.step("comparing models", 1)
        leaderboard = _leaderboard(data, store, [m.strip() for m in models.split(",") if m.strip()])
        summary["leaderboard"] = leaderboard
        best = leaderboard["best"]
        bar.step("suggesting", 1)
        summary["suggestions"] = _suggestions(data, shop, best)
        bar.step("writing the report", 1)
        if report:
            from xsell.analytics.report import build_report

            result = build_report(store, out / "report.html")
            summary["report"] = str(result.path)
        bar.step("done", 1)
    summary["seconds"] = round(time.perf_counter() - started, 2)
    if json_output:
        print_json(summary)
        return
    _print_summary(summary)


def _rules(data: ShopData, store: Store) -> list[dict[str, Any]]:
    """The strongest pair rules by lift (at least 20 baskets), saved in the store."""
    from xsell.mining import save_rules, top_k_rules

    rules = top_k_rules(data, 200, sort_by="lift", min_count=20, max_len=3)
    save_rules(store, rules, params={"source": "xsell demo", "min_count": 20})
    names = dict(zip(data.items.ids, data.item_names(), strict=True))
    records: list[dict[Any, Any]] = rules.head(5).to_dict("records")
    return [
        {
            "if": [names.get(i, i) for i in row["antecedent"]],
            "then": [names.get(i, i) for i in row["consequent"]],
            "baskets": int(row["count"]),
            "confidence": float(row["confidence"]),
            "lift": float(row["lift"]),
        }
        for row in records
    ]


def _leaderboard(data: ShopData, store: Store, models: list[str]) -> dict[str, Any]:
    """Basket completion on the last month of orders; the leaderboard is saved in the store."""
    import numpy as np
    import pandas as pd

    from xsell.evaluation import evaluate, make_split

    last = pd.Timestamp(np.nanmax(data.basket_time))
    cut = (last - pd.Timedelta(days=30)).strftime("%Y-%m-%d")
    board = evaluate(
        models,
        make_split(data, cut),
        "basket-completion",
        ks=(10,),
        split_name=cut,
        dataset="demo",
        max_queries=3000,
    )
    board.save_to_store(store)
    rows = [
        {
            "model": row["model"],
            "recall@10": float(row["recall@10"]),
            "ndcg@10": float(row["ndcg@10"]),
            "coverage@10": float(row["coverage@10"]),
            "fit_s": float(row["fit_s"]),
        }
        for row in board.rows
    ]
    return {"split": cut, "queries": board.n_queries, "rows": rows, "best": rows[0]["model"]}


def _suggestions(data: ShopData, shop: Any, name: str) -> dict[str, Any]:
    """Fit the best model of the leaderboard on all data and ask it about a few anchors."""
    from xsell.models import REGISTRY, make_model

    model = make_model(name).fit(data)
    if shop is not None:
        anchors = [(p.anchor, p.partner) for p in shop.planted_pairs[:3]]
    else:
        best = data.items.to_external(data.item_basket_count.argsort()[::-1][:3])
        anchors = [(str(a), None) for a in best]
    answers = []
    for anchor, partner in anchors:
        top, below = _goes_with(data, model, anchor, 5)
        answers.append(
            {
                "item": anchor,
                "name": str(data.item_names()[data.items.index_of(anchor)]),
                "planted_partner": partner,
                "partner_rank": next(
                    (
                        row["rank"]
                        for row in top
                        if partner is not None and row["item_id"] == partner
                    ),
                    None,
                ),
                "top": top,
                "below_chance_left_out": below,
            }
        )
    return {"model": name, "known_models": sorted(REGISTRY), "answers": answers}


def _goes_with(data: ShopData, model: Any, anchor: str, k: int) -> tuple[list[Any], int]:
    """The model's complements of ``anchor`` that are bought with it more often than chance.

    A ranked model may put a best seller next to anything; calling it "goes with"
    needs the pair's own evidence, so candidates below chance (or not significant)
    are left out and counted.
    """
    from xsell.analytics.baskets import bought_with

    evidence = bought_with(data, anchor).set_index("item_id")
    frame = model.complements(anchor, k=max(50, 10 * k))
    frame = frame.join(evidence[["count", "lift", "above_chance"]], on="item_id")
    above = frame["above_chance"].eq(True).to_numpy()
    chosen = frame[above].head(k)
    below = int((~above[: len(frame)])[: (chosen.index.max() + 1) if len(chosen) else 0].sum())
    chosen = chosen.assign(rank=range(1, len(chosen) + 1), together=chosen["count"])
    records: list[Any] = chosen[["rank", "item_id", "name", "together", "lift", "reason"]].to_dict(
        "records"
    )
    return records, below if len(chosen) else len(frame)


def _print_summary(summary: dict[str, Any]) -> None:
    table = Table(title="ingested", title_justify="left")
    for column in ("file", "kind", "read", "kept", "rejected"):
        table.add_column(
            column, justify="right" if column in ("read", "kept", "rejected") else "left"
        )
    for row in summary["ingest"]:
        table.add_row(
            Path(row["path"]).name,
            row["kind"],
            f"{row['read']:,}",
            f"{row['kept']:,}",
            f"{row['rejected']:,}",
        )
    console.print(table)
    stats = summary["stats"]
    console.print(
        f"store {summary['store']}: {stats['lines']:,} lines, {stats['baskets']:,} baskets, "
        f"{stats['customers']:,} customers, {stats['items']:,} items, {stats['events']:,} events"
    )
    rules = Table(title="strongest rules (lift, at least 20 baskets)", title_justify="left")
    for column in ("if bought", "then also", "baskets", "confidence", "lift"):
        rules.add_column(
            column, justify="right" if column in ("baskets", "confidence", "lift") else "left"
        )
    for rule in summary["rules"]:
        rules.add_row(
            " + ".join(map(str, rule["if"])),
            " + ".join(map(str, rule["then"])),
            f"{rule['baskets']:,}",
            f"{rule['confidence']:.0%}",
            f"{rule['lift']:.1f}",
        )
    console.print(rules)
    board = summary["leaderboard"]
    table = Table(
        title=f"basket completion after {board['split']} ({board['queries']:,} hidden items)",
        title_justify="left",
    )
    for column in ("model", "recall@10", "ndcg@10", "coverage@10", "fit s"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in board["rows"]:
        table.add_row(
            row["model"],
            f"{row['recall@10']:.3f}",
            f"{row['ndcg@10']:.3f}",
            f"{row['coverage@10']:.2f}",
            f"{row['fit_s']:.2f}",
        )
    console.print(table)
    suggestions = summary["suggestions"]
    for answer in suggestions["answers"]:
        title = f"goes with {answer['item']} ({answer['name']}) — model {suggestions['model']}"
        if answer["planted_partner"]:
            found = answer["partner_rank"]
            title += f"; planted partner {answer['planted_partner']} " + (
                f"found at rank {found}" if found else "not in the top 5"
            )
        if answer["below_chance_left_out"]:
            title += (
                f"; {answer['below_chance_left_out']} items it ranked higher left out: "
                "not bought with it above chance"
            )
        result = Table(title=title, title_justify="left")
        for column in ("rank", "item", "name", "together", "lift", "reason"):
            result.add_column(column, justify="right" if column in ("together", "lift") else "left")
        for row in answer["top"]:
            result.add_row(
                str(row["rank"]),
                row["item_id"],
                str(row["name"]),
                f"{row['together']:,}",
                f"{row['lift']:.1f}",
                row["reason"],
            )
        console.print(result)
    if "report" in summary:
        console.print(f"report: [bold]{summary['report']}[/]")
    console.print(f"[bold green]demo finished[/] in {summary['seconds']:.1f} s")
