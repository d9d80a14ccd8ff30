"""Frequent-itemset mining, side by side: xsell vs pyfim (Borgelt's C) vs mlxtend fpgrowth.

Each (tool, data set, threshold) runs in its own child process, so peak memory is
that tool's alone. Every tool starts from the same parsed baskets (a list of lists
of item ids, parsing not timed) and ends with its own itemset table:

* xsell: list of lists -> CSR matrix -> ``frequent_itemsets`` (DataFrame with tuples);
* pyfim: ``fim.fpgrowth(baskets, supp=-min_count)`` (list of tuples);
* mlxtend: ``TransactionEncoder`` one-hot (dense, as documented) -> ``fpgrowth``.

``mine s`` is the tool call alone; ``process s`` the whole child (imports, parse,
JIT cache load, mining); ``peak MB`` the child's max RSS. Run::

    python benchmarks/mining.py                # full table (about 10 minutes)
    python benchmarks/mining.py --quick        # retail 0.001 only
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--one", nargs=3, metavar=("TOOL", "FILE", "SUPPORT"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tools", default=",".join(TOOLS))
    args = parser.parse_args()
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
