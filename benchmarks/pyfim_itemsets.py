"""The peer of ``xsell rules --itemsets-only --out``: read a FIMI file, mine with pyfim, write CSV.

The same work as the xsell command, as a short script would do it with pyfim:
read the baskets, mine every frequent itemset (``fim.fpgrowth``), write one row
per itemset (``itemset`` as a JSON list, ``count``, ``support``, ``length``).

    python benchmarks/pyfim_itemsets.py retail.dat 0.001 itemsets.csv
"""

from __future__ import annotations

import csv
import json
import math
import sys

import fim


def main() -> None:
    path, support, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    with open(path) as handle:
        baskets = [line.split() for line in handle if line.strip()]
    n = len(baskets)
    # The smallest count with count / n >= support, as xsell reads a fraction.
    count = max(1, math.ceil(support * n))
    while count > 1 and (count - 1) / n >= support:
        count -= 1
    while count / n < support:
        count += 1
    found = fim.fpgrowth(baskets, target="s", supp=-count, zmin=1, report="a")
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["itemset", "count", "support", "length"])
        for items, found_count in sorted(found, key=lambda r: (len(r[0]), -r[1])):
            writer.writerow([json.dumps(list(items)), found_count, found_count / n, len(items)])


if __name__ == "__main__":
    main()
