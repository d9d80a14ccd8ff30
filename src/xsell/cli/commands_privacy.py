"""``xsell forget``: erase customers from the store (the right to erasure)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xsell.cli.app import DEFAULT_STORE, JsonOption, StoreOption, app, console, print_json


@app.command()
def forget(
    customers: Annotated[list[str], typer.Argument(help="Customer ids to forget (raw ids).")],
    bundles: Annotated[
        Path,
        typer.Option(
            "--bundles", help="Folder of model bundles to check for training on their data."
        ),
    ] = Path("."),
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file", help="File holding the pseudonym key (default: $XSELL_PSEUDONYM_KEY)."
        ),
    ] = None,
    store: StoreOption = DEFAULT_STORE,
    json_output: JsonOption = False,
) -> None:
    """Remove every trace of the customers from the store; list bundles trained on their data.

    The audit entry keeps only the keyed hash of each id (the key from
    $XSELL_PSEUDONYM_KEY or --key-file), never the id.
    """
    from xsell.data.erasure import bundles_holding
    from xsell.data.erasure import forget as forget_customers
    from xsell.data.privacy import read_key
    from xsell.data.store import Store

    key = read_key(key_file)
    target = Store(store)
    results = forget_customers(target, customers, key)
    held = bundles_holding(target, bundles)
    if json_output:
        print_json(
            {
                "store": str(store),
                "forgotten": [r.to_dict() for r in results],
                "bundles": [
                    {"path": str(b.path), "fitted_on": b.fitted_on, "customers": b.customers}
                    for b in held
                ],
            }
        )
        return
    for result in results:
        if not result.found:
            console.print(f"customer {result.user_hash[:12]}...: not in the store, nothing removed")
            continue
        others = ", ".join(f"{n:,} {t}" for t, n in result.other_rows.items())
        console.print(
            f"customer {result.user_hash[:12]}...: removed {result.lines:,} order lines, "
            f"{result.events:,} events, {result.rejected:,} rejected rows"
            + (f", {others}" if others else "")
        )
    if held:
        console.print(
            f"[yellow]{len(held)} model bundle(s) were trained on data holding a forgotten "
            "customer; retrain them:[/]"
        )
        for bundle in held:
            console.print(f"  {bundle.path} (fitted on {bundle.fitted_on})")
    console.print(f"store: [bold]{store}[/] (rewritten; the audit keeps only keyed hashes)")
