"""The top-k rule search: exactly the k first rules of the full enumeration, on real baskets.

Oracles: ``association_rules`` over every frequent itemset (a different code path:
Eclat, then every split of every itemset), a brute force over the baskets in plain
Python, and mlxtend's rules (their lift values, tie-free).
"""

from __future__ import annotations

from fractions import Fraction
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from tests.conftest import need_module, shared_file
from tests.mining.helpers import basket_matrix
from xsell.errors import MemoryBudgetError, ValidationError
from xsell.mining import association_rules, frequent_itemsets, top_k_rules

COLUMNS = ["antecedent", "consequent", "count", "antecedent_count", "lift", "confidence", "p_value"]


def _retail(rows: int) -> tuple[sp.csr_matrix, np.ndarray]:
    matrix, ids = basket_matrix(shared_file("fimi/retail.dat"), "fimi")
    return matrix[:rows], ids


def _groceries() -> tuple[sp.csr_matrix, np.ndarray]:
    return basket_matrix(shared_file("groceries/groceries.csv"), "baskets")


def _full(matrix: sp.csr_matrix, ids: np.ndarray, min_count: int, max_len: int | None, **kw):
    itemsets = frequent_itemsets(matrix, min_count, max_len=max_len, item_ids=ids)
    return association_rules(itemsets, **kw)


@pytest.mark.parametrize("sort_by", ["lift", "confidence", "count", "support"])
@pytest.mark.parametrize(
    ("data", "k", "min_count", "max_len"),
    [
        ("retail", 300, 8, 3),
        ("retail", 200, 12, None),
        ("groceries", 500, 30, 4),
        ("groceries", 50, 100, None),
    ],
)
def test_top_k_equals_the_head_of_the_full_table(
    data: str, k: int, min_count: int, max_len: int | None, sort_by: str
) -> None:
    matrix, ids = _retail(6000) if data == "retail" else _groceries()
    top = top_k_rules(
        matrix, k, sort_by=sort_by, min_count=min_count, max_len=max_len, item_ids=ids
    )
    expected = _full(matrix, ids, min_count, max_len, sort_by=sort_by).head(k)
    assert len(top) == k
    pd.testing.assert_frame_equal(
        top[COLUMNS].reset_index(drop=True), expected[COLUMNS].reset_index(drop=True)
    )
    assert top["q_value"].isna().all()


def test_filters_rank_only_the_rules_that_pass() -> None:
    matrix, ids = _retail(6000)
    kw = {"min_confidence": 0.3, "min_lift": 20.0, "max_p_value": 1e-6}
    top = top_k_rules(matrix, 150, min_count=6, max_len=3, item_ids=ids, **kw)
    expected = _full(matrix, ids, 6, 3, **kw).head(150)
    pd.testing.assert_frame_equal(
        top[COLUMNS].reset_index(drop=True), expected[COLUMNS].reset_index(drop=True)
    )
    assert (top["confidence"] >= 0.3).all() and (top["p_value"] <= 1e-6).all()


def _brute_force_rules(baskets: list[frozenset[int]], min_count: int, max_len: int) -> list[tuple]:
    """Every rule A -> c by counting subsets of each basket: (key tuple, antecedent, c)."""
    counts: dict[frozenset[int], int] = {}
    for basket in baskets:
        for size in range(1, max_len + 1):
            for combo in combinations(sorted(basket), size):
                key = frozenset(combo)
                counts[key] = counts.get(key, 0) + 1
    n = len(baskets)
    rules = []
    for itemset, together in counts.items():
        if len(itemset) < 2 or together < min_count:
            continue
        for c in itemset:
            ante = itemset - {c}
            # Lift as an exact fraction: ties are real ties.
            lift = Fraction(together * n, counts[ante] * counts[frozenset([c])])
            rules.append(((-lift, -together, len(itemset), tuple(sorted(ante)), c), ante, c))
    rules.sort(key=lambda r: r[0])
    return rules


def test_top_k_by_lift_equals_a_brute_force_over_the_baskets() -> None:
    matrix, _ = _retail(1500)
    baskets = [frozenset(matrix.indices[matrix.indptr[r] : matrix.indptr[r + 1]].tolist())
               for r in range(matrix.shape[0])]  # fmt: skip
    rules = _brute_force_rules(baskets, 4, 3)
    top = top_k_rules(matrix, 100, min_count=4, max_len=3)
    got = [(tuple(sorted(int(i) for i in a)), int(c[0])) for a, c in
           zip(top["antecedent"], top["consequent"], strict=True)]  # fmt: skip
    assert got == [(key[3], c) for key, _, c in rules[:100]]


def test_top_k_lifts_equal_mlxtend() -> None:
    need_module("mlxtend")
    from mlxtend.frequent_patterns import association_rules as mlx_rules
    from mlxtend.frequent_patterns import fpgrowth

    matrix, ids = _groceries()
    n = matrix.shape[0]
    frame = pd.DataFrame.sparse.from_spmatrix(matrix.astype(bool), columns=list(ids))
    theirs = mlx_rules(fpgrowth(frame, min_support=40 / n, use_colnames=True, max_len=3),
                       metric="lift", min_threshold=0.0)  # fmt: skip
    theirs = theirs[theirs["consequents"].map(len) == 1]
    top = top_k_rules(matrix, 200, min_count=40, max_len=3, item_ids=ids)
    expected = np.sort(theirs["lift"].to_numpy())[::-1][:200]
    assert np.allclose(top["lift"].to_numpy(), expected, rtol=1e-12)


def test_a_budget_stop_names_a_max_len_that_works_when_followed() -> None:
    matrix, ids = basket_matrix(shared_file("fimi/retail.dat"), "fimi")
    with pytest.raises(MemoryBudgetError) as caught:
        top_k_rules(matrix, 500, min_count=2, max_len=None, item_ids=ids, memory_budget="1MB")
    message = str(caught.value)
    assert message.startswith("top-k search stopped: finding the 500 best rules by lift")
    assert "the limit for the memory budget of 1.0 MB; max_len=" in message
    assert "--" not in message  # Python advice names parameters, not command-line flags
    advised = int(message.split("; max_len=")[1].split(" ")[0])
    top = top_k_rules(matrix, 500, min_count=2, max_len=advised, item_ids=ids, memory_budget="1MB")
    assert len(top) == 500


def test_a_budget_stop_on_dense_data_names_a_min_count_that_works() -> None:
    matrix, ids = basket_matrix(shared_file("fimi/chess.dat"), "fimi")
    with pytest.raises(MemoryBudgetError, match=r"; min_count=\d+ fits, or raise memory_budget$"):
        top_k_rules(matrix, 500, min_count=1000, max_len=None, item_ids=ids, memory_budget="1MB")
    try:
        top_k_rules(matrix, 500, min_count=1000, max_len=None, item_ids=ids, memory_budget="1MB")
    except MemoryBudgetError as exc:
        advised = int(str(exc).split("; min_count=")[1].split(" ")[0])
    rules = top_k_rules(
        matrix, 500, min_count=advised, max_len=None, item_ids=ids, memory_budget="1MB"
    )
    assert (rules["count"] >= advised).all()


def test_keys_the_search_cannot_bound_list_every_rule_first() -> None:
    matrix, ids = _groceries()
    top = top_k_rules(matrix, 20, sort_by="leverage", min_count=50, max_len=3, item_ids=ids)
    expected = _full(matrix, ids, 50, 3, sort_by="leverage").head(20)
    assert top["leverage"].tolist() == expected["leverage"].tolist()
    assert top["q_value"].notna().all()


def test_bad_arguments_of_the_search() -> None:
    matrix, ids = _groceries()
    with pytest.raises(ValidationError, match=r"max_len must be a whole number >= 2"):
        top_k_rules(matrix, 5, max_len=1, item_ids=ids)
    with pytest.raises(ValidationError, match=r"min_confidence must be in \[0, 1\], got 2"):
        top_k_rules(matrix, 5, min_confidence=2, item_ids=ids)


# Confidence searches here stop before a run holds k rules: no case to check.
@pytest.mark.parametrize("sort_by", ["lift", "count"])
def test_a_search_that_says_a_shorter_one_fits_is_right(sort_by: str) -> None:
    # A budget stop names max_len=longest_done without running it when the search says
    # shorter_fits (prefix runs); here each such search is run, for a range of caps.
    from xsell.mining.topk import search_top_rules

    matrix, _ = basket_matrix(shared_file("groceries/groceries.csv"), "baskets")
    keep = np.ones(matrix.shape[0], np.bool_)

    def search(max_len: int | None, cap: int) -> Any:
        return search_top_rules(
            matrix.indptr, matrix.indices, matrix.shape[1], keep, 300, sort_by,
            min_count=2, max_len=max_len, min_confidence=0.0, min_lift=None,
            max_p_value=None, consequent_ok=None, antecedent_ok=None, cap=cap,
        )  # fmt: skip

    checked = 0
    for cap in (2_000, 5_000, 10_000, 15_000, 200_000, 2_000_000):
        stopped = search(None, cap)
        if stopped.complete or not stopped.shorter_fits or stopped.longest_done < 2:
            continue
        shorter = search(stopped.longest_done, cap)
        assert shorter.complete, (cap, stopped.longest_done)
        assert len(shorter.count) == 300
        checked += 1
    assert checked >= 1
