"""Frequent-itemset mining, side by side: xsell vs pyfim (Borgelt's C) vs mlxtend fpgrowth.

Each (tool, data set, threshold) runs in its own child process, so peak memory is
that tool's alone. Every tool starts from the same parsed baskets (a list of lists
of item ids, parsing not timed) and ends with its own itemset table:

* xsell: list of lists -> CSR matrix -> ``frequent_itemsets`` (DataFrame, Arrow list columns);
* pyfim: ``fim.fpgrowth(baskets, supp=-min_count)`` (list of tuples);
* mlxtend: ``TransactionEncoder`` one-hot (dense, as documented) -> ``fpgrowth``.

``mine s`` is the tool call alone; ``process s`` the whole child (imports, parse,
mining); ``peak MB`` the child's max RSS. Run::

    python benchmarks/mining.py                # full table (about 10 minutes)
    python benchmarks/mining.py --quick        # retail 0.001 only

Whole processes as a user runs them (``--process``): ``xsell rules --baskets
retail.dat --preset fimi --min-support 0.001 --itemsets-only --out itemsets.csv``
against ``benchmarks/pyfim_itemsets.py`` doing the same read, mine and write,
run in turn (A B A B ...), each pair's ratio and the medians reported; the two
output files are checked to hold the same itemsets and counts. ``--startup``
times ``xsell --help`` and ``xsell --version``; ``--topk`` times
``top_k_rules`` with its defaults on Online Retail, Instacart and retail.dat
(stores built once under benchmarks/out/) and the budget stop without a
``max_len``.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fimi"
CASES = [
    ("retail.dat", 0.005),
    ("retail.dat", 0.001),
    ("retail.dat", 0.0002),
    ("chess.dat", 0.7),
    ("mushroom.dat", 0.1),
]
TOOLS = ("xsell", "pyfim", "mlxtend")
TIMEOUT_S = 400


def _baskets(name: str) -> list[list[int]]:
    with open(DATA / name) as handle:
        return [[int(t) for t in line.split()] for line in handle if line.strip()]


def _min_count(support: float, n: int) -> int:
    count = max(1, math.ceil(support * n))
    while count > 1 and (count - 1) / n >= support:
        count -= 1
    return count


def run_one(tool: str, name: str, support: float) -> dict[str, float]:
    started = time.perf_counter()
    baskets = _baskets(name)
    if tool == "xsell":
        import numpy as np
        import scipy.sparse as sp

        from xsell.mining import frequent_itemsets

        frequent_itemsets(sp.csr_matrix(np.eye(3)), 1)  # load the Numba cache

        def mine() -> int:
            sizes = np.fromiter((len(b) for b in baskets), np.int64, len(baskets))
            cols = np.fromiter((i for b in baskets for i in b), np.int32, int(sizes.sum()))
            indptr = np.concatenate([[0], np.cumsum(sizes)])
            matrix = sp.csr_matrix(
                (np.ones(len(cols), np.int8), cols, indptr),
                shape=(len(baskets), int(cols.max()) + 1),
            )
            return len(frequent_itemsets(matrix, support, memory_budget="4GB"))
    elif tool == "pyfim":
        import fim

        def mine() -> int:
            return len(
                fim.fpgrowth(
                    baskets, target="s", supp=-_min_count(support, len(baskets)), zmin=1, report="a"
                )
            )
    else:
        import pandas as pd
        from mlxtend.frequent_patterns import fpgrowth
        from mlxtend.preprocessing import TransactionEncoder

        def mine() -> int:
            encoder = TransactionEncoder()
            onehot = encoder.fit(baskets).transform(baskets)
            frame = pd.DataFrame(onehot, columns=encoder.columns_)
            return len(fpgrowth(frame, min_support=support, use_colnames=True))

    mined = time.perf_counter()
    n = mine()
    done = time.perf_counter()
    return {
        "itemsets": n,
        "mine_s": done - mined,
        "process_s": done - started,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure(tool: str, name: str, support: float) -> dict[str, float] | None:
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--one", tool, name, str(support)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
XSELL = [sys.executable, "-m", "xsell.cli.main"]


def _timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + sys of the child) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _same_itemsets(a: Path, b: Path) -> bool:
    import csv

    def read(path: Path) -> set[tuple[frozenset[str], int]]:
        with path.open() as handle:
            return {
                (frozenset(json.loads(row["itemset"])), int(row["count"]))
                for row in csv.DictReader(handle)
            }

    return read(a) == read(b)


def whole_processes(support: float, runs: int) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    data = str(DATA / "retail.dat")
    ours, theirs = OUT / "xsell_itemsets.csv", OUT / "pyfim_itemsets.csv"
    xsell = [*XSELL, "rules", "--baskets", data, "--preset", "fimi", "--min-support",
             str(support), "--itemsets-only", "--out", str(ours)]  # fmt: skip
    printed = [*XSELL, "rules", "--baskets", data, "--preset", "fimi", "--min-support",
               str(support), "--itemsets-only"]  # fmt: skip
    pyfim = [sys.executable, str(ROOT / "benchmarks" / "pyfim_itemsets.py"), data,
             str(support), str(theirs)]  # fmt: skip
    for command in (xsell, printed, pyfim):  # warm-up: Numba's cache, the page cache
        _timed(command)
    assert _same_itemsets(ours, theirs), "xsell and pyfim wrote different itemsets"
    rows: dict[str, list[tuple[float, float]]] = {"xsell": [], "printed": [], "pyfim": []}
    for _ in range(runs):
        for name, command in (("xsell", xsell), ("pyfim", pyfim), ("printed", printed)):
            rows[name].append(_timed(command))
    print(f"retail.dat, min_support {support}, {runs} runs each in turn; medians\n")
    print("| command | wall s | cpu s | wall vs pyfim (median of pairs) |")
    print("|---|---|---|---|")
    for name, label in (
        ("xsell", "xsell rules ... --itemsets-only --out itemsets.csv"),
        ("printed", "xsell rules ... --itemsets-only (prints the top 20)"),
        ("pyfim", "python benchmarks/pyfim_itemsets.py (read + fpgrowth + write)"),
    ):
        walls = [w for w, _ in rows[name]]
        cpus = [c for _, c in rows[name]]
        pairs = [w / p for (w, _), (p, _) in zip(rows[name], rows["pyfim"], strict=True)]
        print(f"| `{label}` | {_median(walls):.3f} | {_median(cpus):.3f} | {_median(pairs):.2f}x |")


def startup(runs: int) -> None:
    print("| command | wall s (median) | min | max |")
    print("|---|---|---|---|")
    for args in (["--help"], ["--version"], ["rules", "--help"]):
        _timed([*XSELL, *args])
        walls = [_timed([*XSELL, *args])[0] for _ in range(runs)]
        print(f"| `xsell {' '.join(args)}` | {_median(walls):.3f} | {min(walls):.3f} | "
              f"{max(walls):.3f} |")  # fmt: skip


def _store(name: str) -> Path:
    shared = DATA.parent
    sources = {
        "online-retail": (shared / "online_retail" / "online_retail.csv", "online-retail"),
        "instacart": (shared / "instacart" / "order_products__train.parquet", "instacart"),
    }
    path = OUT / f"mining-{name}.duckdb"
    if not path.exists():
        source, preset = sources[name]
        OUT.mkdir(parents=True, exist_ok=True)
        subprocess.run([*XSELL, "--quiet", "ingest", str(source), "--preset", preset,
                        "--store", str(path)], check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    return path


def run_topk(name: str, case: str) -> dict[str, object]:
    from xsell.errors import MemoryBudgetError
    from xsell.mining import top_k_rules

    if name == "retail.dat":
        from xsell.mining.inputs import read_basket_file

        data, ids = read_basket_file(DATA / "retail.dat", "fimi")
        extra: dict[str, object] = {"item_ids": ids}
    else:
        from xsell.data.shopdata import ShopData

        data, extra = ShopData.from_store(_store(name)), {}
    import numpy as np
    import scipy.sparse as sp

    top_k_rules(sp.csr_matrix(np.ones((3, 3))), 2, min_count=1)  # load the Numba cache
    params = json.loads(case)
    started = time.perf_counter()
    try:
        rules = top_k_rules(data, **params, **extra)
        outcome = f"{len(rules):,} rules, k-th {params.get('sort_by', 'lift')} " + (
            f"{rules[params.get('sort_by', 'lift')].iloc[-1]:.4g}" if len(rules) else "-"
        )
    except MemoryBudgetError as exc:
        outcome = "stopped: " + str(exc).split("; ", 1)[-1]
    return {"seconds": time.perf_counter() - started, "outcome": outcome}


TOPK_CASES = [
    {"k": 1000},
    {"k": 1000, "sort_by": "confidence", "max_len": 3},
    {"k": 10000, "sort_by": "count", "min_count": 5, "max_len": 3},
    {"k": 1000, "min_count": 20, "max_len": None},
    {"k": 1000, "max_len": None},
]


def topk() -> None:
    print("| data | call | seconds | result |")
    print("|---|---|---|---|")
    for name in ("online-retail", "instacart", "retail.dat"):
        if name != "retail.dat":
            _store(name)
        for case in TOPK_CASES:
            done = subprocess.run(
                [sys.executable, __file__, "--one-topk", name, json.dumps(case)],
                capture_output=True, text=True, timeout=TIMEOUT_S, check=True,
            )  # fmt: skip
            result = json.loads(done.stdout.strip().splitlines()[-1])
            call = ", ".join(f"{k}={v!r}" for k, v in case.items())
            print(f"| {name} | `top_k_rules(data, {call})` | {result['seconds']:.2f} | "
                  f"{result['outcome']} |", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--one", nargs=3, metavar=("TOOL", "FILE", "SUPPORT"))
    parser.add_argument("--one-topk", nargs=2, metavar=("DATA", "CASE"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--process", action="store_true", help="whole processes vs pyfim")
    parser.add_argument("--startup", action="store_true", help="xsell --help / --version")
    parser.add_argument("--topk", action="store_true", help="top_k_rules on real shops")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--support", type=float, default=0.001)
    parser.add_argument("--tools", default=",".join(TOOLS))
    args = parser.parse_args()
    if args.one_topk:
        print(json.dumps(run_topk(*args.one_topk)))
        return
    if args.process or args.startup or args.topk:
        if args.process:
            whole_processes(args.support, args.runs)
        if args.startup:
            startup(args.runs)
        if args.topk:
            topk()
        return
    if args.one:
        tool, name, support = args.one
        print(json.dumps(run_one(tool, name, float(support))))
        return
    cases = [("retail.dat", 0.001)] if args.quick else CASES
    tools = args.tools.split(",")
    print(
        "| data | min_support | tool | itemsets | mine s | process s | peak MB "
        "| mine time vs xsell |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, support in cases:
        results = {tool: measure(tool, name, support) for tool in tools}
        base = results.get("xsell")
        for tool, result in results.items():
            if result is None:
                print(
                    f"| {name} | {support} | {tool} | - | > {TIMEOUT_S} (stopped) | - | - | - |",
                    flush=True,
                )
                continue
            ratio = f"{result['mine_s'] / base['mine_s']:.1f}x" if base else "-"
            print(
                f"| {name} | {support} | {tool} | {result['itemsets']:,} "
                f"| {result['mine_s']:.3f} | "
                f"{result['process_s']:.2f} | {result['peak_mb']:.0f} | {ratio} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
