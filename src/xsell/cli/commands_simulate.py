"""``xsell simulate``: synthetic-shop shoppers against a server, or offline experiments."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from xsell.cli.app import JsonOption, QuietOption, app, console, is_quiet, print_json
from xsell.errors import ValidationError


@app.command()
def simulate(
    url: Annotated[
        str | None,
        typer.Option("--url", help="A running `xsell serve`, e.g. http://127.0.0.1:8000."),
    ] = None,
    sessions: Annotated[int, typer.Option("--sessions", min=1, help="Shopping sessions.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sessions.")] = 0,
    users: Annotated[
        int, typer.Option("--users", help="Synthetic shop: customers (as `xsell demo --users`).")
    ] = 1000,
    shop_seed: Annotated[
        int, typer.Option("--shop-seed", help="Synthetic shop: seed (as `xsell demo --seed`).")
    ] = 0,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", envvar="XSELL_API_KEY", help="Key that may post events."),
    ] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="Suggestions per answer.")] = 10,
    threads: Annotated[int, typer.Option(min=1, max=64, help="Concurrent sessions.")] = 4,
    offline: Annotated[
        list[str] | None,
        typer.Option(
            "--offline",
            help="Run in process instead of over HTTP, with these arms NAME=BUNDLE:WEIGHT "
            "(repeat; the same bundle twice is an A/A test).",
        ),
    ] = None,
    runs: Annotated[
        int,
        typer.Option(min=1, help="Offline: repeat the experiment with seeds seed..seed+runs-1."),
    ] = 1,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Replay synthetic-shop customers who click and buy by the shop's planted complements."""
    from xsell.data.synthetic import make_shop
    from xsell.progress import progress_bar

    shop = make_shop(n_users=users, seed=shop_seed)
    silent = is_quiet(quiet) or json_output
    if offline:
        result = _offline(shop, offline, sessions, seed, runs, k, silent)
    elif url is not None:
        from xsell.serving.simulator import HttpShop, run_http

        target = HttpShop(url, api_key, k)
        try:
            with progress_bar("simulating", total=sessions, quiet=silent) as bar:
                totals = run_http(
                    shop, target, sessions, seed, threads=threads, step=lambda: bar.step("sessions")
                )
            result = {"url": url, **totals, "report": target.report()}
        finally:
            target.close()
    else:
        raise ValidationError("give --url URL of a running server, or --offline arms")
    if json_output:
        print_json(result)
        return
    _show(result)


def _offline(
    shop: Any, texts: list[str], sessions: int, seed: int, runs: int, k: int, quiet: bool
) -> dict[str, Any]:
    from xsell.evaluation.experiment import check_arms, parse_arm
    from xsell.evaluation.uplift import PRIMARY
    from xsell.models import load_model
    from xsell.progress import progress_bar
    from xsell.serving.simulator import LocalArms, offline_experiment

    arms = [parse_arm(t) for t in texts]
    check_arms(arms)
    local = LocalArms({a.name: load_model(Path(a.bundle)) for a in arms}, k)
    reports = []
    with progress_bar("offline experiments", total=runs, quiet=quiet) as bar:
        for run in range(runs):
            reports.append(offline_experiment(shop, arms, local, sessions, seed + run))
            bar.step("runs")
    primary = [u for r in reports for u in r["uplift"] if u["metric"] == PRIMARY]
    significant = sum(u["significant"] for u in primary)
    return {
        "runs": runs,
        "sessions": sessions,
        "primary_metric": PRIMARY,
        "significant_runs": significant,
        "significant_share": significant / len(primary) if primary else 0.0,
        "report": reports[-1],
    }


def _show(result: dict[str, Any]) -> None:
    if "runs" in result:
        console.print(
            f"{result['runs']} offline runs of {result['sessions']:,} sessions: "
            f"{result['significant_runs']} significant on {result['primary_metric']} "
            f"({100 * result['significant_share']:.1f} %)"
        )
    else:
        console.print(
            f"{result['sessions']:,} sessions against {result['url']}: "
            f"{result['suggested']:,} suggestions seen, {result['clicked']:,} clicked, "
            f"{result['carted']:,} added to cart"
        )
    report = result.get("report")
    if report is None:
        console.print("no experiment runs on that server: nothing to compare")
        return
    for arm in report["arms"]:
        console.print(
            f"  arm {arm['arm']}: {arm['sessions']:,} sessions, CTR {arm['ctr']:.4f}, "
            f"revenue/session {arm['revenue_per_session']:.4f}"
        )
    for u in report["uplift"]:
        if u["metric"] == report["primary_metric"]:
            console.print(
                f"  {u['arm']} vs {u['control']} {u['metric']}: {u['difference']:+.4f} "
                f"[{u['difference_low']:+.4f}, {u['difference_high']:+.4f}] 95 % "
                f"({report['method']}); significant: {'yes' if u['significant'] else 'no'}"
            )
    srm = report["sample_ratio"]
    console.print(
        f"  sample ratio p = {srm['p_value']:.3g}" + (" MISMATCH" if srm["mismatch"] else "")
    )
