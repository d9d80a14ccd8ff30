"""``xsell experiment report``: per-arm metrics and uplift of an online experiment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from xsell.cli.app import JsonOption, app, console, print_json

experiment_app = typer.Typer(help="Online A/B experiments run by `xsell serve --experiment`.")
app.add_typer(experiment_app, name="experiment")


@experiment_app.command("report")
def report(
    name: Annotated[str, typer.Argument(help="The experiment's name (xsell serve --experiment).")],
    events_log: Annotated[
        Path, typer.Option("--events-log", "-e", help="The server's events log.")
    ],
    window: Annotated[
        float, typer.Option("--window", min=0.001, help="Attribution window in hours.")
    ] = 24.0,
    control: Annotated[
        str | None, typer.Option("--control", help="Control arm (default: the first).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write an HTML report.")] = None,
    store: Annotated[
        Path | None,
        typer.Option(
            "--store",
            "-s",
            help="Also load the experiment's events into this store (table experiment_events).",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Per-arm sessions, CTR, add-to-cart, attach rate and revenue per session; uplift with
    95 % intervals (delta method) and a sample-ratio check."""
    from xsell.serving.experiments import experiment_report

    found = experiment_report(events_log, name, window * 3600, control)
    if store is not None:
        from xsell.serving.experiments import load_into_store

        found["store_rows"] = load_into_store(events_log, name, store)
    if out is not None:
        from xsell.analytics.experiment_page import write_experiment_html

        write_experiment_html(found, out)
    if json_output:
        print_json(found)
        return
    arms = Table(title=f"experiment {name} (control {found['control']})")
    columns = ("sessions", "impressions", "ctr", "cart_rate", "attach_rate", "revenue_per_session")
    for column in ("arm", *columns):
        arms.add_column(column, justify="left" if column == "arm" else "right")
    for arm in found["arms"]:
        arms.add_row(arm["arm"], *(f"{arm[c]:,.4g}" for c in columns))
    console.print(arms)
    uplift = Table(title=f"uplift against control, 95 % intervals ({found['method']})")
    for column in ("arm", "metric", "difference", "interval", "relative", "p", "significant"):
        uplift.add_column(column)
    for u in found["uplift"]:
        uplift.add_row(
            u["arm"],
            u["metric"],
            f"{u['difference']:+.4g}",
            f"[{u['difference_low']:+.4g}, {u['difference_high']:+.4g}]",
            f"{100 * u['relative']:+.1f} %",
            f"{u['p_value']:.3g}",
            "yes" if u["significant"] else "no",
        )
    console.print(uplift)
    srm = found["sample_ratio"]
    verdict = "[red]MISMATCH[/]" if srm["mismatch"] else "ok"
    chi2, p = srm["chi2"], srm["p_value"]
    console.print(f"sample ratio: chi-square {chi2:.3g}, p = {p:.3g}: {verdict}")
    if out is not None:
        console.print(f"wrote {out}")
    if store is not None:
        console.print(f"loaded {found['store_rows']:,} rows into {store} (experiment_events)")
