"""Hypothesis: the miner equals a brute-force enumeration on small random data, and the
itemset laws hold (anti-monotone support, downward closure, closed/maximal definitions)."""

from __future__ import annotations

from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.mining.helpers import brute_force, matrix_of
from xsell.mining import association_rules, frequent_itemsets

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
