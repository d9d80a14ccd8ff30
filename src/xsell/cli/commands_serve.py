"""``xsell serve``: the real-time cross-sell HTTP API under uvicorn."""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from xsell.cli.app import app, console
from xsell.errors import InputFileError, ValidationError, require


@app.command()
def serve(
    bundle: Annotated[
        Path | None,
        typer.Option(
            "--bundle",
            "-b",
            help="Model bundle written by `xsell train` (default with --experiment: the first "
            "arm's).",
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    redis_url: Annotated[
        str | None,
        typer.Option(
            "--redis-url",
            help="Redis the workers share (cache, rate limits), redis://host:port/db; "
            "served without it while it is unreachable.",
        ),
    ] = None,
    api_key: Annotated[
        list[str] | None,
        typer.Option(
            "--api-key",
            envvar="XSELL_API_KEYS",
            help="API key that may post events (repeat for several).",
        ),
    ] = None,
    api_key_file: Annotated[
        Path | None,
        typer.Option("--api-key-file", help="File of API keys, one per line (kept out of `ps`)."),
    ] = None,
    admin_key: Annotated[
        list[str] | None,
        typer.Option(
            "--admin-key",
            envvar="XSELL_ADMIN_KEYS",
            help="Admin key for /admin/reload (repeat for several); must differ from API keys.",
        ),
    ] = None,
    admin_key_file: Annotated[
        Path | None,
        typer.Option("--admin-key-file", help="File of admin keys, one per line."),
    ] = None,
    bundle_root: Annotated[
        Path | None,
        typer.Option(
            "--bundle-root",
            help="Folder /admin/reload may load bundles from (default: the bundle's folder).",
        ),
    ] = None,
    events_log: Annotated[
        Path | None,
        typer.Option("--events-log", help="Append-only events log (default: next to the bundle)."),
    ] = None,
    rate_limit: Annotated[
        float,
        typer.Option(
            help="Requests per second per API key, and per client address without a key "
            "(shared by the workers through --redis-url); 0 turns the limits off."
        ),
    ] = 100.0,
    failed_key_rate: Annotated[
        float,
        typer.Option(min=0.001, help="Wrong API keys per second per client address (429 above)."),
    ] = 5.0,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option("--cors-origin", help="Origin browsers may call from (repeat; * for any)."),
    ] = None,
    rules_store: Annotated[
        Path | None,
        typer.Option("--rules-store", help="Store whose saved association rules feed /bundles."),
    ] = None,
    cache_size: Annotated[int, typer.Option(help="Item-page answers kept per worker.")] = 10_000,
    max_basket: Annotated[int, typer.Option(help="Most items in one basket request.")] = 100,
    max_body: Annotated[
        int, typer.Option(min=1, help="Largest request body in bytes (413 above it).")
    ] = 1024 * 1024,
    max_header: Annotated[
        int,
        typer.Option(min=1024, help="Largest request line + headers in bytes (431 above it)."),
    ] = 16 * 1024,
    keep_alive: Annotated[
        int,
        typer.Option(
            min=1, help="Seconds an idle connection stays open (also: to send a request head)."
        ),
    ] = 5,
    max_connections: Annotated[
        int, typer.Option(min=1, help="Open connections per worker; more are closed at once.")
    ] = 1000,
    apply_interval: Annotated[
        float,
        typer.Option(min=0.0, help="Least seconds between two batches of live events learned."),
    ] = 0.2,
    pseudonymize: Annotated[
        bool,
        typer.Option(
            "--pseudonymize",
            help="The bundle knows customers by keyed pseudonyms: hash the ids clients send "
            "(key from $XSELL_PSEUDONYM_KEY or --key-file).",
        ),
    ] = False,
    key_file: Annotated[
        Path | None,
        typer.Option("--key-file", help="File holding the pseudonym key (with --pseudonymize)."),
    ] = None,
    store: Annotated[
        Path | None,
        typer.Option(
            "--store",
            help="The store the bundle was trained from: the dashboard shows its headline "
            "figures and latest leaderboard; warn when the bundle was fitted on data that held "
            "customers since forgotten.",
        ),
    ] = None,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
    experiment: Annotated[
        str | None,
        typer.Option("--experiment", help="Run an online A/B experiment of this name."),
    ] = None,
    arm: Annotated[
        list[str] | None,
        typer.Option(
            "--arm",
            help="An arm of the experiment, NAME=BUNDLE:WEIGHT (repeat; the first is control).",
        ),
    ] = None,
    compare: Annotated[
        list[str] | None,
        typer.Option(
            "--compare", help="A bundle the dashboard shows side by side, NAME=BUNDLE (repeat)."
        ),
    ] = None,
) -> None:
    """Serve recommendations over HTTP (OpenAPI docs at /docs, dashboard at /dashboard)."""
    require("fastapi", "serve")
    uvicorn = require("uvicorn", "serve")
    from xsell.evaluation.experiment import parse_arm
    from xsell.models import read_bundle_meta
    from xsell.serving.app import SETTINGS_ENV, app_from_env, create_app, settings_to_env
    from xsell.serving.limits import LimitedHttpTools
    from xsell.serving.settings import ServeSettings

    arms = tuple(parse_arm(text) for text in arm or ())
    if arms and experiment is None:
        raise ValidationError("--arm needs --experiment NAME")
    arms = tuple(replace(a, bundle=str(Path(a.bundle).resolve())) for a in arms)
    for one in arms:
        read_bundle_meta(one.bundle)  # a wrong path says so before the server starts
    if bundle is None:
        if not arms:
            raise ValidationError("give --bundle BUNDLE (or --experiment with --arm)")
        bundle = Path(arms[0].bundle)
    elif arms and Path(arms[0].bundle) != bundle.resolve():
        raise ValidationError(
            f"--bundle {bundle} differs from the control arm's bundle {arms[0].bundle}: "
            "leave --bundle out, the first --arm is served"
        )
    compared = []
    for text in compare or ():
        name, sep, path = text.partition("=")
        if not sep or not name or not path:
            raise ValidationError(f"--compare {text!r}: expected NAME=BUNDLE")
        read_bundle_meta(path)
        compared.append((name, Path(path).resolve()))
    meta = read_bundle_meta(bundle)
    _check_pseudonyms(meta, bundle, pseudonymize, key_file)
    settings = ServeSettings(
        bundle=bundle.resolve(),
        events_log=events_log.resolve() if events_log else None,
        api_keys=(*(api_key or ()), *_keys_from(api_key_file)),
        admin_keys=(*(admin_key or ()), *_keys_from(admin_key_file)),
        bundle_root=bundle_root.resolve() if bundle_root else None,
        rate_limit=rate_limit or None,
        failed_key_rate=failed_key_rate,
        cors_origins=tuple(cors_origin or ()),
        redis_url=redis_url,
        cache_size=cache_size,
        max_basket=max_basket,
        max_body=max_body,
        apply_interval_s=apply_interval,
        rules_store=rules_store.resolve() if rules_store else None,
        store=store.resolve() if store else None,
        pseudonymize=pseudonymize,
        pseudonym_key_file=key_file.resolve() if key_file else None,
        experiment=experiment,
        arms=arms,
        compare_bundles=tuple(compared),
    )
    # A fresh start serves --bundle, whatever an earlier run's /admin/reload chose.
    settings.control_path.unlink(missing_ok=True)
    console.print(
        f"serving [bold]{meta['model']}[/] from {bundle} on http://{host}:{port} "
        f"({workers} worker{'s' if workers > 1 else ''}); events log {settings.events_path}",
        highlight=False,
    )
    if store is not None:
        _warn_forgotten(store, meta, bundle)
    if not settings.api_keys and not settings.admin_keys:
        console.print("no --api-key given: /v1/events will answer 401")
    if not settings.admin_keys:
        console.print("no --admin-key given: /admin/reload will answer 401")
    if experiment is not None:
        split = ", ".join(f"{a.name} {a.weight:g}" for a in arms)
        console.print(f"experiment [bold]{experiment}[/]: arms {split}", highlight=False)
    common = {
        "host": host,
        "port": port,
        "access_log": access_log,
        "log_level": "warning",
        "http": LimitedHttpTools,
        "h11_max_incomplete_event_size": max_header,
        "timeout_keep_alive": keep_alive,
        # LimitedHttpTools closes connections beyond limit_concurrency - 1 (see its doc)
        "limit_concurrency": max_connections + 1,
    }
    if workers == 1:
        uvicorn.run(create_app(settings), **common)  # type: ignore[attr-defined]
        return
    os.environ[SETTINGS_ENV] = settings_to_env(settings)
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="xsell-metrics-"))
    factory = f"{app_from_env.__module__}:{app_from_env.__name__}"
    uvicorn.run(factory, factory=True, workers=workers, **common)  # type: ignore[attr-defined]


def _keys_from(path: Path | None) -> tuple[str, ...]:
    """The keys in a file, one per line (blank lines and ``#`` comments skipped)."""
    if path is None:
        return ()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: cannot read the key file: {exc}") from exc
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def _check_pseudonyms(
    meta: dict[str, Any], bundle: Path, pseudonymize: bool, key_file: Path | None
) -> None:
    """Refuse to serve raw ids to a pseudonymized bundle, or the other way round."""
    from xsell.data.privacy import key_check, read_key

    check = meta.get("pseudonym_key_check")
    if key_file is not None and not pseudonymize:
        raise ValidationError("--key-file is for --pseudonymize; add --pseudonymize")
    if check and not pseudonymize:
        raise ValidationError(
            f"{bundle}: the bundle knows customers by keyed pseudonyms; serve it with "
            "--pseudonymize (key from $XSELL_PSEUDONYM_KEY or --key-file)"
        )
    if not pseudonymize:
        return
    if not check:
        raise ValidationError(
            f"{bundle}: the bundle was trained on raw customer ids; --pseudonymize is for "
            "bundles trained on a store ingested with --pseudonymize"
        )
    if key_check(read_key(key_file)) != check:
        raise ValidationError(
            f"{bundle}: the pseudonym key differs from the one its store was ingested with"
        )


def _warn_forgotten(store: Path, meta: dict[str, Any], bundle: Path) -> None:
    from xsell.data.erasure import forgotten_fingerprints

    if not store.is_file():
        raise InputFileError(
            f"{store}: no such store (--store names the store the bundle came from)"
        )
    held = forgotten_fingerprints(store).get(str(meta.get("fitted_on")))
    if held:
        console.print(
            f"[yellow]warning:[/] {bundle} was trained on data that held {held} customer"
            f"{'s' if held > 1 else ''} since forgotten; retrain it on the store as it is now",
            highlight=False,
        )
