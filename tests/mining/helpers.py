"""Shared test helpers: load basket files as matrices, run the mlxtend oracle, brute force."""

from __future__ import annotations

from functools import cache
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from xsell.mining.inputs import read_basket_file


@cache
def basket_matrix(path: Path, preset: str) -> tuple[sp.csr_matrix, np.ndarray]:
    return read_basket_file(path, preset)


def as_dict(table: pd.DataFrame) -> dict[frozenset[str], float]:
    return {frozenset(s): float(v) for s, v in zip(table["itemset"], table["support"], strict=True)}


def mlxtend_itemsets(matrix: sp.csr_matrix, ids: np.ndarray, min_support: float) -> pd.DataFrame:
    from mlxtend.frequent_patterns import fpgrowth

    frame = pd.DataFrame.sparse.from_spmatrix(matrix.astype(bool), columns=list(ids))
    return fpgrowth(frame, min_support=min_support, use_colnames=True)


def brute_force(
    baskets: list[set[int]], min_count: int, max_len: int | None = None
) -> dict[frozenset[int], int]:
    """Every itemset with its count, by enumerating all subsets of the item universe."""
    universe = sorted(set().union(*baskets)) if baskets else []
    out: dict[frozenset[int], int] = {}
    longest = len(universe) if max_len is None else min(max_len, len(universe))
    for size in range(1, longest + 1):
        found = False
        for combo in combinations(universe, size):
            items = frozenset(combo)
            count = sum(1 for b in baskets if items <= b)
            if count >= min_count:
                out[items] = count
                found = True
        if not found:
            break
    return out


def matrix_of(baskets: list[set[int]], n_items: int) -> sp.csr_matrix:
    rows = [r for r, b in enumerate(baskets) for _ in b]
    cols = [i for b in baskets for i in sorted(b)]
    return sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(baskets), n_items))
