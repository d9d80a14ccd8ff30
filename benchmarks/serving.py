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

Run::

    python benchmarks/serving.py                 # about 3 minutes after the first fit
    python benchmarks/serving.py --duration 5    # quicker
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
        "--rate-limit", "0", *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            # every worker must have loaded the model: ask a few times
            if all(httpx.get(url + "/readyz", timeout=1).status_code == 200 for _ in range(8)):
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
    args = parser.parse_args()
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
    rows = []
    for workers in [int(w) for w in args.workers.split(",")]:
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
    report(rows, timings, note, data, args)


def report(
    rows: list[dict[str, Any]], timings: dict[str, float], note: str, data: Any, args: Any
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


if __name__ == "__main__":
    main()
