"""Safety: the memory budget stops an exploding run quickly and names a min_support that fits;
giant baskets are counted exactly (or left out on request) and the notes say so."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tests.conftest import need_module, shared_file
from tests.mining.helpers import as_dict, basket_matrix, mlxtend_itemsets
from xsell.errors import MemoryBudgetError
from xsell.mining import association_rules, frequent_itemsets, mining_info
from xsell.mining.budget import BYTES_PER_ITEMSET


def test_chess_tiny_min_support_hits_the_budget_and_names_one_that_fits() -> None:
    matrix, ids = basket_matrix(shared_file("fimi/chess.dat"), "fimi")
    budget = "64MB"
    with pytest.raises(MemoryBudgetError) as caught:
        frequent_itemsets(matrix, 0.001, item_ids=ids, memory_budget=budget)
    message = str(caught.value)
    assert "would exceed the memory budget of 64.0 MB" in message
    assert "min_support=0.001" in message
    suggested = float(message.split("; min_support=")[1].split(" ")[0])
    # The named threshold really fits under the same budget, and half of it does not.
    fits = frequent_itemsets(matrix, suggested, item_ids=ids, memory_budget=budget)
    assert 0 < len(fits) * BYTES_PER_ITEMSET <= 64 << 20
    with pytest.raises(MemoryBudgetError):
        frequent_itemsets(matrix, suggested / 2.5, item_ids=ids, memory_budget=budget)


def test_rules_budget_names_a_min_support() -> None:
    matrix, ids = basket_matrix(shared_file("fimi/mushroom.dat"), "fimi")
    itemsets = frequent_itemsets(matrix, 0.3, item_ids=ids)
    with pytest.raises(
        MemoryBudgetError,
        match=r"candidate rules would exceed the memory budget of 1.0 MB "
        r".*min_support=0\.\d+ \([\d,]+ baskets\) fits",
    ) as caught:
        association_rules(itemsets, max_consequent_len=None, memory_budget="1MB")
    suggested = float(str(caught.value).split("; min_support=")[1].split(" ")[0])
    fitting = frequent_itemsets(matrix, suggested, item_ids=ids)
    assert len(association_rules(fitting, max_consequent_len=None, memory_budget="1MB")) > 0


def _with_giants(seed: int = 3) -> tuple[sp.csr_matrix, list[set[int]]]:
    rng = np.random.default_rng(seed)
    baskets = [
        set(rng.choice(300, size=rng.integers(1, 8), replace=False).tolist()) for _ in range(1500)
    ]
    # Three giant baskets of 250 distinct items each: the case that makes tree
    # miners explode; here each costs one entry per item.
    baskets += [set(rng.choice(300, size=250, replace=False).tolist()) for _ in range(3)]
    rows = [r for r, b in enumerate(baskets) for _ in b]
    cols = [i for b in baskets for i in sorted(b)]
    return sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(baskets), 300)), baskets


def test_giant_baskets_counted_exactly_and_reported() -> None:
    need_module("mlxtend")
    matrix, _ = _with_giants()
    ids = np.array([str(i) for i in range(300)], dtype=object)
    table = frequent_itemsets(matrix, 6, item_ids=ids)
    oracle = mlxtend_itemsets(matrix, ids, 6 / matrix.shape[0])
    assert as_dict(table).keys() == {frozenset(s) for s in oracle["itemsets"]}
    info = mining_info(table)
    assert info is not None and info.giant_baskets == 3 and info.largest_basket == 250
    assert "3 giant baskets (more than 100 items, largest 250) counted exactly" in info.notes[0]


def test_max_basket_size_leaves_giants_out_and_says_so() -> None:
    matrix, baskets = _with_giants()
    table = frequent_itemsets(matrix, 6, max_basket_size=100)
    info = mining_info(table)
    assert info is not None and info.n_baskets == 1500 and info.dropped_baskets == 3
    assert info.notes[0].startswith(
        "3 baskets with more than 100 items were left out (largest 250 items)"
    )
    small = [b for b in baskets if len(b) <= 100]
    for itemset, count in zip(table.itemset, table["count"], strict=True):
        assert count == sum(1 for b in small if {int(i) for i in itemset} <= b)
