"""The real-time API under load: the real ``xsell serve`` over loopback, load from ``wrk``.

A co-occurrence model is fitted on the Instacart train lines (1.38 M lines, 131,209
orders, 39,123 items; ingested with preset ``instacart`` plus ``products.csv``)
and served by ``xsell serve`` in its own process(es). ``wrk`` (its own process,
one thread) sends:

* ``basket``: ``POST /v1/recommendations/basket`` with 5 items of a real train
  order (2,000 different baskets, k=10);
* ``item page``: ``GET /v1/items/{id}/complements?k=10`` for item ids drawn in
  proportion to their order counts (how shoppers land on product pages), with
  the in-process LRU on, and once with it off (``--cache-size 0``).

Also timed in process, side by side: one basket answer through the API's fast
path (dense indices) against the model's own table API
(``recommend_for_basket``, a pandas DataFrame per call), and the ratio.

Live events (``--runs mixed,apply,first,reload``):

* ``mixed``: the basket run again while a separate process posts real orders
  (5 items each) at 50 per second; read latency during the stream, and how many
  orders the model had learned when the stream ended and shortly after;
* ``apply``: orders posted as fast as 8 connections of a separate process can
  (one order per request, each fsync-ed before its answer): orders accepted
  and orders learned (``events_applied`` of ``/v1/model``) per second;
* ``first``: a fresh server's first order: seconds from its post until the model
  has learned it, and the warm-up the server did at load;
* ``reload``: 2 workers, a reload asked of one: its answer's seconds, and the
  seconds from that answer until 40 answers in a row (fresh connections, so
  both workers) show the reloaded model.

Every row records the load average (``os.getloadavg``) at its end: the machine
may be shared, and throughput moves with what else runs.

Run::

    python benchmarks/serving.py                 # about 5 minutes after the first fit
    python benchmarks/serving.py --duration 5    # quicker
    python benchmarks/serving.py --runs mixed,apply --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "instacart"
RESULTS = ROOT / "benchmarks" / "results" / "serving.md"
GOALS = {"basket": 1500.0, "item page": 3000.0}
KEY = "bench-key-0123"
ADMIN = "bench-admin-4567"
#: Orders per second of the mixed run, and the goals of the live-event runs.
STREAM_RATE = 50.0
MIXED_P99_MS = 20.0
APPLY_GOAL = 200.0

LUA = """
local bodies = {%s}
local n = #bodies
local i = 0
request = function()
  i = i + 1
  return wrk.format(%s, bodies[(i %% n) + 1])
end
"""


def build_bundle(workdir: Path, model_name: str) -> tuple[Path, Any]:
    """Ingest Instacart into a store (once), fit the model, save the bundle."""
    from xsell.data.ingest import ingest_catalog, ingest_lines
    from xsell.data.shopdata import ShopData
    from xsell.data.store import Store
    from xsell.models import REGISTRY, make_model

    store_path = workdir / "instacart.duckdb"
    if not store_path.exists():
        started = time.perf_counter()
        store = Store(store_path)
        ingest_lines(store, DATA / "order_products__train.parquet", preset="instacart")
        ingest_catalog(store, DATA / "products.csv", preset="instacart")
        print(f"ingested Instacart in {time.perf_counter() - started:.1f} s", flush=True)
    data = ShopData.from_store(store_path)
    try:
        model = make_model(model_name)
        note = model_name
    except Exception:
        # the registry's co-occurrence model is not written yet: a plain pair-count stand-in
        sys.path.insert(0, str(ROOT))
        from tests.serving.toy_model import PairCounts

        model = PairCounts()
        note = f"pair counts (stand-in: {REGISTRY.get(model_name)!r} not importable)"
    started = time.perf_counter()
    model.fit(data)
    print(f"fitted {note} in {time.perf_counter() - started:.1f} s", flush=True)
    bundle = workdir / f"bundle-{model.name}"
    model.save(bundle)
    return bundle, (data, model, note)


def sample_requests(data: Any, rng: np.random.Generator) -> tuple[list[list[str]], list[str]]:
    """2,000 baskets of 5 items from real orders; 5,000 page items drawn by popularity."""
    x = data.basket_item.tocsr()
    sizes = np.diff(x.indptr)
    rows = rng.choice(np.flatnonzero(sizes >= 5), size=2000, replace=False)
    ids = data.items.ids
    baskets = [
        [str(ids[i]) for i in rng.choice(x.indices[x.indptr[r] : x.indptr[r + 1]], 5, False)]
        for r in rows
    ]
    popularity = data.item_basket_count.astype(np.float64)
    pages = rng.choice(len(ids), size=5000, p=popularity / popularity.sum())
    return baskets, [str(ids[i]) for i in pages]


#: ``xsell serve`` alone (not every CLI module, which other engineers may be editing).
SERVE = "import xsell.cli.commands_serve; from xsell.cli.app import app; app()"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(bundle: Path, workers: int, extra: list[str], workdir: Path) -> tuple[Any, str]:
    import httpx

    port = free_port()
    events = workdir / f"events-{port}.jsonl"
    command = [
        sys.executable, "-c", SERVE, "serve", "--bundle", str(bundle),
        "--port", str(port), "--workers", str(workers), "--events-log", str(events),
        "--rate-limit", "0", "--api-key", KEY, "--admin-key", ADMIN, *extra,
    ]  # fmt: skip
    # SERVER_SRC: another checkout's src/ to serve from (side by side with this one)
    path = os.pathsep.join(p for p in (os.environ.get("SERVER_SRC"), str(ROOT)) if p)
    env = {**os.environ, "PYTHONPATH": path}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    loaded: set[float] = set()
    while time.monotonic() < deadline:
        try:
            # every worker must have loaded the model: fresh connections reach either, and
            # each worker's model has its own load time
            got = httpx.get(url + "/v1/model", timeout=1)
            if got.status_code == 200:
                loaded.add(got.json()["loaded_at"])
                if len(loaded) >= workers:
                    return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not start: {command}")


def stop_server(process: Any) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


def lua_script(workdir: Path, name: str, kind: str, values: list[Any]) -> Path:
    if kind == "basket":
        bodies = [json.dumps({"items": b, "k": 10}) for b in values]
        call = '"POST", "/v1/recommendations/basket", {["Content-Type"]="application/json"}'
        script = LUA % (",".join(json.dumps(b) for b in bodies), call)
    else:
        paths = [f"/v1/items/{item}/complements?k=10" for item in values]
        script = LUA % (",".join(json.dumps(p) for p in paths), '"GET"')
    path = workdir / f"{name}.lua"
    path.write_text(script)
    return path


def parse_wrk(output: str) -> dict[str, float]:
    def ms(text: str) -> float:
        value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    found = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        "requests": float(re.search(r"(\d+) requests in", output).group(1)),  # type: ignore[union-attr]
    }
    for pct in ("50", "90", "99"):
        match = re.search(rf"\s{pct}(?:\.000)?%\s+([\d.]+\w+)", output)
        found[f"p{pct}"] = ms(match.group(1)) if match else float("nan")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    found["non_2xx"] = float(bad.group(1)) if bad else 0.0
    found["socket_errors"] = (
        float(sum(int(n) for n in re.findall(r"\d+", errors.group(1)))) if errors else 0.0
    )
    return found


def server_cpu_seconds(process: Any) -> float:
    """User + system CPU time of the server process and its workers (Linux ``/proc``)."""
    total = 0.0
    pids = [process.pid]
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def run_wrk(
    url: str,
    script: Path,
    duration: int,
    connections: int,
    path: str,
    warm: list[str],
    process: Any,
) -> dict[str, float]:
    import httpx

    # warm-up: every distinct request once (a live shop's cache is warm), then 2 s of wrk
    with httpx.Client(base_url=url, timeout=30) as client:
        for page in warm:
            client.get(page)
    subprocess.run(
        ["wrk", "-t1", f"-c{connections}", "-d2s", "-s", str(script), url + path],
        capture_output=True, check=True,
    )  # fmt: skip
    before = cache_counts(url)
    cpu_before = server_cpu_seconds(process)
    done = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script),
         url + path],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = parse_wrk(done.stdout)
    # CPU per request does not depend on what else runs on the machine, unlike requests/s.
    found["cpu_ms"] = (server_cpu_seconds(process) - cpu_before) / found["requests"] * 1000
    found["load"] = os.getloadavg()[0]
    after = cache_counts(url)
    lookups = sum(after) - sum(before)
    found["hit_rate"] = (after[0] - before[0]) / lookups if lookups else float("nan")
    return found


def cache_counts(url: str) -> tuple[float, float]:
    """Item-page cache (hits, misses) from /metrics."""
    import httpx

    text = httpx.get(url + "/metrics").text
    counts = []
    for result in ("hit", "miss"):
        match = re.search(rf'xsell_cache_lookups_total{{result="{result}"}} ([\d.e+]+)', text)
        counts.append(float(match.group(1)) if match else 0.0)
    return counts[0], counts[1]


def in_process(model: Any, baskets: list[list[str]]) -> dict[str, float]:
    """Per-answer time: the API's fast path vs the model's DataFrame API."""
    from xsell.models.business_rules import BusinessRules
    from xsell.serving.answers import basket_answer

    rules = BusinessRules()
    timings = {}
    for name, call in (
        ("fast path", lambda b: basket_answer(model, b, 10, rules)),
        ("table API", lambda b: model.recommend_for_basket(b, k=10)),
    ):
        for basket in baskets[:20]:
            call(basket)
        started = time.perf_counter()
        for basket in baskets[:300]:
            call(basket)
        timings[name] = (time.perf_counter() - started) / 300 * 1000
    return timings


def post_orders(url: str, orders_file: Path, rate: float, duration: float, out: Path) -> None:
    """Post orders (one per request) at ``rate`` per second (0: as fast as 8 connections
    can) for ``duration`` seconds; write what was sent and accepted to ``out`` (JSON)."""
    import threading

    import httpx

    orders = json.loads(orders_file.read_text())
    sent: list[int] = []
    failed: list[int] = []
    lock = threading.Lock()
    stop = time.monotonic() + duration

    def worker(offset: int, step: int, pace: float) -> None:
        with httpx.Client(base_url=url, timeout=30, headers={"X-API-Key": KEY}) as client:
            n = offset
            started = time.monotonic()
            while time.monotonic() < stop:
                if pace:
                    due = started + (n - offset) / step / pace
                    if due > time.monotonic():
                        time.sleep(due - time.monotonic())
                body = {"type": "order", "items": orders[n % len(orders)]}
                got = client.post("/v1/events", json=body)
                with lock:
                    (sent if got.status_code == 202 else failed).append(n)
                n += step

    threads = 16 if rate else 8  # paced: 16 connections keep the rate while posts are slow
    pool = [
        threading.Thread(target=worker, args=(i, threads, rate / threads if rate else 0.0))
        for i in range(threads)
    ]
    began = time.monotonic()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    out.write_text(
        json.dumps(
            {"accepted": len(sent), "failed": len(failed), "seconds": time.monotonic() - began}
        )
    )


def model_info(url: str) -> dict[str, Any]:
    import httpx

    return dict(httpx.get(url + "/v1/model", timeout=30).json())


def start_poster(
    url: str, workdir: Path, orders: list[list[str]], rate: float, duration: float
) -> tuple[Any, Path]:
    orders_file = workdir / "orders.json"
    orders_file.write_text(json.dumps(orders))
    out = workdir / f"posted-{time.monotonic_ns()}.json"
    command = [
        sys.executable, __file__, "--post", url, "--orders", str(orders_file),
        "--rate", str(rate), "--post-seconds", str(duration), "--post-out", str(out),
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT), out


def wait_applied(url: str, count: int, limit_s: float = 120.0) -> float:
    """Seconds until the served model has learned ``count`` events (inf after ``limit_s``)."""
    started = time.monotonic()
    while model_info(url)["events_applied"] < count:
        if time.monotonic() - started > limit_s:
            return float("inf")
        time.sleep(0.01)
    return time.monotonic() - started


def mixed_run(
    bundle: Path, workdir: Path, baskets: list[list[str]], args: Any, workers: int
) -> dict[str, Any]:
    """Basket reads under wrk while a separate process streams orders at STREAM_RATE/s."""
    script = lua_script(workdir, "basket", "basket", baskets)
    extra = [] if args.apply_interval is None else ["--apply-interval", str(args.apply_interval)]
    process, url = start_server(bundle, workers, extra, workdir)
    try:
        before = model_info(url)["events_applied"]
        poster, out = start_poster(url, workdir, baskets, STREAM_RATE, args.duration + 4)
        time.sleep(1.0)  # the stream is flowing before the reads start
        path = "/v1/recommendations/basket"
        found = run_wrk(url, script, args.duration, args.connections, path, [], process)
        poster.wait(60)
        posted = json.loads(out.read_text())
        at_end = model_info(url)["events_applied"] - before
        lag = wait_applied(url, before + posted["accepted"])
        found.update(
            label="basket, orders streaming", workers=workers,
            posted=posted["accepted"], failed_posts=posted["failed"],
            post_rate=posted["accepted"] / posted["seconds"], applied_at_end=at_end,
            catch_up_s=lag,
        )  # fmt: skip
        return found
    finally:
        stop_server(process)


def apply_run(
    bundle: Path, workdir: Path, orders: list[list[str]], seconds: float
) -> dict[str, Any]:
    """Orders posted as fast as possible: accepted/s and learned/s."""
    process, url = start_server(bundle, 1, [], workdir)
    try:
        before = model_info(url)["events_applied"]
        poster, out = start_poster(url, workdir, orders, 0.0, seconds)
        time.sleep(2.0)  # measure the steady state, not the start of the stream
        first, t0 = model_info(url)["events_applied"], time.monotonic()
        time.sleep(max(1.0, seconds - 4.0))
        second, t1 = model_info(url)["events_applied"], time.monotonic()
        poster.wait(120)
        posted = json.loads(out.read_text())
        lag = wait_applied(url, before + posted["accepted"])
        return {
            "label": "orders as fast as possible",
            "accepted_per_s": posted["accepted"] / posted["seconds"],
            "applied_per_s": (second - first) / (t1 - t0),
            "posted": posted["accepted"],
            "catch_up_s": lag,
            "load": os.getloadavg()[0],
        }
    finally:
        stop_server(process)


COLD_UPDATE = """
import copy, json, sys, time
from xsell.models import load_model
model = load_model(sys.argv[1])
order = json.loads(sys.argv[2])
times = []
for _ in range(2):
    started = time.perf_counter()
    copy.copy(model).update([order])
    times.append(time.perf_counter() - started)
print(*times)
"""


def first_order_run(bundle: Path, workdir: Path, order: list[str]) -> dict[str, Any]:
    """A fresh server's first order: seconds from the post until it is learned."""
    import httpx

    process, url = start_server(bundle, 1, [], workdir)
    try:
        info = model_info(url)
        started = time.monotonic()
        got = httpx.post(
            url + "/v1/events", json={"type": "order", "items": order},
            headers={"X-API-Key": KEY}, timeout=30,
        )  # fmt: skip
        answered = time.monotonic() - started
        learned = wait_applied(url, info["events_applied"] + 1) + answered
        # what the first order cost before the warm-up: a fresh process's first update
        cold = subprocess.run(
            [sys.executable, "-c", COLD_UPDATE, str(bundle), json.dumps(order)],
            cwd=ROOT, capture_output=True, text=True, check=True,
        )  # fmt: skip
        first_update, second_update = map(float, cold.stdout.split())
        return {
            "label": "first order",
            "cold_first_update_s": first_update,
            "warm_update_s": second_update,
            "status": got.status_code,
            "answered_s": answered,
            "learned_s": learned,
            "warm_up_s": info["warm_up_seconds"],
            "load": os.getloadavg()[0],
        }
    finally:
        stop_server(process)


def reload_run(bundle: Path, workdir: Path, tries: int = 3) -> dict[str, Any]:
    """2 workers: reloads asked of one; how soon after its answer both serve the new model."""
    import httpx

    process, url = start_server(bundle, 2, [], workdir)
    reloads, lags = [], []
    try:
        for n in range(1, tries + 1):
            got = httpx.post(
                url + "/admin/reload", json={}, headers={"X-API-Key": ADMIN}, timeout=120
            ).json()
            answered = time.monotonic()
            seen: dict[float, float] = {}  # each worker's new model (by load time): first seen
            while len(seen) < 2 and time.monotonic() - answered < 60:
                info = httpx.get(url + "/v1/model", timeout=30).json()  # either worker
                if info["reloads"] >= n:
                    seen.setdefault(info["loaded_at"], time.monotonic())
            reloads.append(float(got["seconds"]))
            lags.append(max(seen.values()) - answered if len(seen) == 2 else float("inf"))
        return {
            "label": "reload, 2 workers",
            "reload_s": reloads,
            "other_followed_s": lags,
            "load": os.getloadavg()[0],
        }
    finally:
        stop_server(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cooccurrence")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", default="1,2", help="worker counts to try")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "xsell-bench-serving"
    )
    parser.add_argument("--no-write", action="store_true", help="do not update the results file")
    parser.add_argument(
        "--server-src",
        type=Path,
        help="serve from another checkout's src/ (e.g. an older commit), same requests",
    )
    parser.add_argument(
        "--runs", default="basic,mixed,apply,first,reload", help="which runs (comma-separated)"
    )
    parser.add_argument("--apply-seconds", type=float, default=12.0)
    parser.add_argument(
        "--apply-interval", type=float, help="xsell serve --apply-interval of the mixed run"
    )
    # the order poster (a separate process started by the mixed and apply runs)
    parser.add_argument("--post", help=argparse.SUPPRESS)
    parser.add_argument("--orders", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=STREAM_RATE, help=argparse.SUPPRESS)
    parser.add_argument("--post-seconds", type=float, default=10.0, help=argparse.SUPPRESS)
    parser.add_argument("--post-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.post:
        post_orders(args.post, args.orders, args.rate, args.post_seconds, args.post_out)
        return
    if args.server_src is not None:
        os.environ["SERVER_SRC"] = str(args.server_src.resolve())
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    args.workdir.mkdir(parents=True, exist_ok=True)
    bundle, (data, model, note) = build_bundle(args.workdir, args.model)
    baskets, pages = sample_requests(data, np.random.default_rng(0))
    timings = in_process(model, baskets)
    print(f"in process, per basket answer: {timings}", flush=True)
    basket_lua = lua_script(args.workdir, "basket", "basket", baskets)
    page_lua = lua_script(args.workdir, "pages", "page", pages)
    page_paths = [f"/v1/items/{item}/complements?k=10" for item in pages]
    runs = set(args.runs.split(","))
    rows = []
    for workers in [int(w) for w in args.workers.split(",")] if "basic" in runs else []:
        for label, script, path, extra in (
            ("basket", basket_lua, "/v1/recommendations/basket", []),
            ("item page", page_lua, "/v1/items/x/complements", []),
            ("item page, no cache", page_lua, "/v1/items/x/complements", ["--cache-size", "0"]),
        ):
            process, url = start_server(bundle, workers, extra, args.workdir)
            try:
                warm = [] if label == "basket" else sorted(set(page_paths))
                found = run_wrk(url, script, args.duration, args.connections, path, warm, process)
            finally:
                stop_server(process)
            row: dict[str, Any] = {**found, "workers": workers, "label": label}
            rows.append(row)
            print(f"{workers} worker(s) {label}: {row}", flush=True)
    live: list[dict[str, Any]] = []
    if "mixed" in runs:
        for workers in [int(w) for w in args.workers.split(",")]:
            live.append(mixed_run(bundle, args.workdir, baskets, args, workers))
            print(live[-1], flush=True)
    if "apply" in runs:
        live.append(apply_run(bundle, args.workdir, baskets, args.apply_seconds))
        print(live[-1], flush=True)
    if "first" in runs:
        live.append(first_order_run(bundle, args.workdir, baskets[0]))
        print(live[-1], flush=True)
    if "reload" in runs:
        live.append(reload_run(bundle, args.workdir))
        print(live[-1], flush=True)
    report(rows, live, timings, note, data, args)


def report(
    rows: list[dict[str, Any]],
    live: list[dict[str, Any]],
    timings: dict[str, float],
    note: str,
    data: Any,
    args: Any,
) -> None:
    lines = [
        "# Serving benchmark",
        "",
        f"Command: `python benchmarks/serving.py --duration {args.duration} "
        f"--connections {args.connections} --workers {args.workers}`",
        "",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}; server and wrk "
        "(1 thread, its own process) share the cores over loopback.",
        f"Model: {note}, fitted on the Instacart train lines "
        f"({data.n_baskets:,} orders, {len(data.items):,} items).",
        f"Load: `wrk -t1 -c{args.connections} -d{args.duration}s --latency`, after a 2 s warm-up; "
        "basket = 5 items of a real order (2,000 different), k=10; item page = complements, "
        "k=10, items drawn by popularity (5,000 draws).",
        "",
        "| workers | request | requests/s | p50 ms | p90 ms | p99 ms | non-2xx | cache hits "
        "| server CPU ms/request | load avg | goal |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        goal = GOALS.get(row["label"])
        rate = row.get("hit_rate", float("nan"))
        hits = "" if row["label"] == "basket" or rate != rate else f"{rate:.0%}"
        verdict = ""
        if goal is not None:
            met = row["rps"] >= goal and (row["label"] != "basket" or row["p99"] < 20)
            verdict = f"{'met' if met else 'missed'}: >= {goal:,.0f}/s" + (
                ", p99 < 20 ms" if row["label"] == "basket" else ""
            )
        lines.append(
            f"| {row['workers']} | {row['label']} | {row['rps']:,.0f} | {row['p50']:.2f} | "
            f"{row['p90']:.2f} | {row['p99']:.2f} | {int(row['non_2xx'] + row['socket_errors'])} "
            f"| {hits} | {row['cpu_ms']:.2f} | {row['load']:.1f} | {verdict} |"
        )
    lines += live_report(live)
    fast, table = timings["fast path"], timings["table API"]
    lines += [
        "",
        "In process, one basket answer (5 items, k=10), mean of 300:",
        "",
        "| path | ms per answer | ratio |",
        "| --- | ---: | ---: |",
        f"| API fast path (`serving.answers.basket_answer`) | {fast:.3f} | 1.0 |",
        f"| model table API (`recommend_for_basket`, DataFrame) | {table:.3f} "
        f"| {table / fast:.1f}x |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text)


def live_report(live: list[dict[str, Any]]) -> list[str]:
    """The live-event runs as markdown."""
    lines: list[str] = []
    mixed = [r for r in live if r["label"] == "basket, orders streaming"]
    if mixed:
        lines += [
            "",
            f"Reads while orders stream (a separate process posts one real order per request "
            f"at {STREAM_RATE:g}/s; goal: read p99 < {MIXED_P99_MS:g} ms):",
            "",
            "| workers | basket requests/s | p50 ms | p99 ms | non-2xx | orders posted (/s) "
            "| learned when the stream ended | all learned after | load avg | goal |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for r in mixed:
            met = r["p99"] < MIXED_P99_MS and r["non_2xx"] + r["socket_errors"] == 0
            lines.append(
                f"| {r['workers']} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
                f"{int(r['non_2xx'] + r['socket_errors'])} | {r['posted']:,} "
                f"({r['post_rate']:.1f}/s) | {r['applied_at_end']:,} | {r['catch_up_s']:.2f} s "
                f"| {r['load']:.1f} | {'met' if met else 'missed'}: p99 < {MIXED_P99_MS:g} ms |"
            )
    for r in live:
        if r["label"] == "orders as fast as possible":
            met = r["applied_per_s"] >= APPLY_GOAL
            lines += [
                "",
                f"Orders as fast as 8 connections post them (one order per request, fsync-ed "
                f"before its 202), 1 worker: **{r['accepted_per_s']:,.0f} accepted/s, "
                f"{r['applied_per_s']:,.0f} learned/s** ({r['posted']:,} orders; every one "
                f"learned {r['catch_up_s']:.2f} s after the last post; load average "
                f"{r['load']:.1f}); goal >= {APPLY_GOAL:g} learned/s: "
                f"{'met' if met else 'missed'}.",
            ]
        elif r["label"] == "first order":
            lines += [
                "",
                f"A fresh server's first order: answered 202 in {r['answered_s'] * 1000:.0f} ms, "
                f"learned {r['learned_s'] * 1000:.0f} ms after its post; the warm-up at load "
                f"took {r['warm_up_s']:.2f} s. Without it (a fresh process, the model loaded): "
                f"the first `update` of one order {r['cold_first_update_s']:.2f} s, the second "
                f"{r['warm_update_s']:.3f} s (load average {r['load']:.1f}).",
            ]
        elif r["label"] == "reload, 2 workers":
            secs = ", ".join(f"{v:.2f}" for v in r["reload_s"])
            lags = ", ".join(f"{v:.2f}" for v in r["other_followed_s"])
            lines += [
                "",
                f"Reload with 2 workers, {len(r['reload_s'])} times: the asked worker answered "
                f"after {secs} s (loading the bundle and replaying the log, while the other "
                f"worker loads it too); the other worker was seen serving the new model "
                f"{lags} s after that answer (an upper bound: /v1/model is polled on fresh "
                f"connections until both workers answered; load average {r['load']:.1f}).",
            ]
    return lines


if __name__ == "__main__":
    main()
