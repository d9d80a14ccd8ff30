"""Frequent itemsets: exact against mlxtend (the oracle) on real data sets, equal to a brute-force
enumeration on small random data (Hypothesis), and the itemset laws hold (anti-monotone support,
downward closure, closed and maximal definitions)."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import need_module, shared_file
from tests.mining.helpers import as_dict, basket_matrix, brute_force, matrix_of, mlxtend_itemsets
from xsell.mining import association_rules, frequent_itemsets

# (file, preset, thresholds): mlxtend runs once at the lowest threshold; the higher
# ones are checked against its output filtered to support >= threshold.
CASES = [
    ("groceries/groceries.csv", "baskets", (0.01, 0.005, 0.002)),
    pytest.param("fimi/retail.dat", "fimi", (0.02, 0.01, 0.005), marks=pytest.mark.slow),
    pytest.param("fimi/T10I4D100K.dat", "fimi", (0.02, 0.01, 0.005), marks=pytest.mark.slow),
    ("fimi/mushroom.dat", "fimi", (0.5, 0.4, 0.3)),
    ("fimi/chess.dat", "fimi", (0.95, 0.9, 0.85)),
]


@pytest.mark.parametrize(("relative", "preset", "thresholds"), CASES)
def test_itemsets_and_supports_equal_mlxtend(
    relative: str, preset: str, thresholds: tuple[float, ...]
) -> None:
    need_module("mlxtend")
    matrix, ids = basket_matrix(shared_file(relative), preset)
    oracle = mlxtend_itemsets(matrix, ids, min(thresholds))
    reference = {
        frozenset(s): float(v) for s, v in zip(oracle["itemsets"], oracle["support"], strict=True)
    }
    for threshold in thresholds:
        expected = {k: v for k, v in reference.items() if v >= threshold}
        for layout in ("tidlist", "bitset"):
            mine = as_dict(frequent_itemsets(matrix, threshold, item_ids=ids, layout=layout))
            assert mine.keys() == expected.keys(), (relative, threshold, layout)
            assert all(mine[k] == expected[k] for k in expected)


@pytest.mark.parametrize(
    ("relative", "preset", "threshold"),
    [("groceries/groceries.csv", "baskets", 0.004), ("fimi/mushroom.dat", "fimi", 0.45)],
)
def test_rule_metrics_equal_mlxtend(relative: str, preset: str, threshold: float) -> None:
    mlx = need_module("mlxtend.frequent_patterns")
    matrix, ids = basket_matrix(shared_file(relative), preset)
    oracle_sets = mlxtend_itemsets(matrix, ids, threshold)
    oracle = mlx.association_rules(
        oracle_sets, num_itemsets=matrix.shape[0], metric="confidence", min_threshold=0.0
    )
    rules = association_rules(
        frequent_itemsets(matrix, threshold, item_ids=ids), max_consequent_len=None
    )
    assert len(rules) == len(oracle) > 100
    mine = rules.set_index(
        pd.Index(
            [
                (frozenset(a), frozenset(c))
                for a, c in zip(rules.antecedent, rules.consequent, strict=True)
            ]
        )
    )
    theirs = oracle.set_index(
        pd.Index(list(zip(oracle.antecedents, oracle.consequents, strict=True)))
    ).loc[mine.index]
    pairs = {
        "antecedent support": "antecedent_support",
        "consequent support": "consequent_support",
        "support": "support",
        "confidence": "confidence",
        "lift": "lift",
        "leverage": "leverage",
        "conviction": "conviction",
        "zhangs_metric": "zhangs_metric",
        "jaccard": "jaccard",
        "certainty": "certainty",
        "kulczynski": "kulczynski",
    }
    for theirs_name, mine_name in pairs.items():
        np.testing.assert_allclose(
            mine[mine_name].to_numpy(),
            theirs[theirs_name].to_numpy(dtype=float),
            rtol=1e-9,
            atol=1e-12,
            err_msg=mine_name,
        )


N_ITEMS = 9
baskets_strategy = st.lists(
    st.sets(st.integers(0, N_ITEMS - 1), min_size=1, max_size=N_ITEMS), min_size=1, max_size=25
)


def _mine(baskets: list[set[int]], min_count: int, **kwargs: object) -> dict[frozenset[int], int]:
    table = frequent_itemsets(matrix_of(baskets, N_ITEMS), min_count, **kwargs)  # type: ignore[arg-type]
    return {
        frozenset(int(i) for i in s): int(c)
        for s, c in zip(table.itemset, table["count"], strict=True)
    }


@settings(max_examples=60, deadline=None)
@given(
    baskets_strategy,
    st.integers(1, 4),
    st.sampled_from([None, 1, 2, 3]),
    st.sampled_from(["tidlist", "bitset"]),
)
def test_equals_brute_force(
    baskets: list[set[int]], min_count: int, max_len: int | None, layout: str
) -> None:
    assert _mine(baskets, min_count, max_len=max_len, layout=layout) == brute_force(
        baskets, min_count, max_len
    )


@settings(max_examples=40, deadline=None)
@given(baskets_strategy, st.integers(1, 3))
def test_support_is_anti_monotone_and_subsets_are_frequent(
    baskets: list[set[int]], min_count: int
) -> None:
    found = _mine(baskets, min_count)
    for itemset, count in found.items():
        for size in range(1, len(itemset)):
            for subset in combinations(itemset, size):
                assert frozenset(subset) in found
                assert found[frozenset(subset)] >= count


@settings(max_examples=40, deadline=None)
@given(baskets_strategy, st.integers(1, 3))
def test_closed_and_maximal_definitions(baskets: list[set[int]], min_count: int) -> None:
    every = brute_force(baskets, min_count)
    closed = {s for s, c in every.items() if not any(s < t and every[t] == c for t in every)}
    maximal = {s for s in every if not any(s < t for t in every)}
    assert set(_mine(baskets, min_count, kind="closed")) == closed
    assert set(_mine(baskets, min_count, kind="maximal")) == maximal


@settings(max_examples=40, deadline=None)
@given(baskets_strategy, st.integers(1, 3), st.sampled_from([1, None]))
def test_rules_counts_equal_brute_force(
    baskets: list[set[int]], min_count: int, max_cons: int | None
) -> None:
    every = brute_force(baskets, min_count)
    expected = set()
    for itemset in every:
        for size in range(1, len(itemset)):
            if max_cons is not None and size > max_cons:
                continue
            for consequent in combinations(sorted(itemset), size):
                expected.add((itemset - frozenset(consequent), frozenset(consequent)))
    rules = association_rules(
        frequent_itemsets(matrix_of(baskets, N_ITEMS), min_count), max_consequent_len=max_cons
    )
    got = {}
    for row in rules.itertuples():
        a = frozenset(int(i) for i in row.antecedent)
        c = frozenset(int(i) for i in row.consequent)
        got[(a, c)] = row
        n_a = sum(1 for b in baskets if a <= b)
        assert row.antecedent_count == n_a
        assert row.count == sum(1 for b in baskets if a | c <= b)
        assert abs(row.confidence - row.count / n_a) < 1e-12
    assert set(got) == expected


def test_table_costs_less_than_the_budget_charges_per_itemset() -> None:
    # The budget charges BYTES_PER_ITEMSET for each itemset; pandas' own accounting
    # of the table (deep, every Python object counted) must stay within it.
    from xsell.mining.budget import BYTES_PER_ITEMSET

    matrix, ids = basket_matrix(shared_file("groceries/groceries.csv"), "baskets")
    table = frequent_itemsets(matrix, 0.001, item_ids=ids)
    assert len(table) > 10_000 and table["length"].max() >= 4
    assert table.memory_usage(deep=True).sum() <= BYTES_PER_ITEMSET * len(table)


def test_rules_from_a_table_of_tuples_equal_rules_from_the_mined_table() -> None:
    # A table built by hand holds tuples, not Arrow lists: association_rules reads both.
    matrix, ids = basket_matrix(shared_file("groceries/groceries.csv"), "baskets")
    mined = frequent_itemsets(matrix, 0.005, item_ids=ids)
    by_hand = mined.assign(
        itemset=[tuple(s) for s in mined["itemset"]], items=[tuple(s) for s in mined["items"]]
    )
    by_hand.attrs = mined.attrs
    assert isinstance(by_hand["items"].iloc[0], tuple)
    expected = association_rules(mined, max_consequent_len=None)
    got = association_rules(by_hand, max_consequent_len=None)
    assert len(expected) > 100
    pd.testing.assert_frame_equal(got, expected)
