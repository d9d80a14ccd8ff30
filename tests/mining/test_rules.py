"""Rules on a ShopData with a catalog: names, appearance, filters, top-k, significance."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.mining import Appearance, association_rules, frequent_itemsets, top_k_rules
from xsell.mining.significance import benjamini_hochberg, fisher_p_values


@pytest.fixture(scope="module")
def shop() -> ShopData:
    rng = np.random.default_rng(7)
    rows = []
    for basket in range(400):
        items = set(rng.choice(12, size=rng.integers(1, 5), replace=False).tolist())
        if rng.random() < 0.3:
            items |= {0, 1}  # a planted complement: phone + case
        rows += [(f"b{basket}", f"i{i}") for i in items]
    catalog = pd.DataFrame(
        {
            "item_id": [f"i{i}" for i in range(12)],
            "name": [f"product {i}" for i in range(12)],
            "category": [
                "phones" if i == 0 else "accessories" if i < 4 else "other" for i in range(12)
            ],
        }
    )
    frame = pd.DataFrame(rows, columns=["basket_id", "item_id"])
    return ShopData.from_frame(frame, catalog=catalog)


def test_names_from_the_catalog(shop: ShopData) -> None:
    rules = association_rules(frequent_itemsets(shop, 0.02))
    assert {"antecedent_names", "consequent_names"} <= set(rules.columns)
    for ids, names in zip(rules.antecedent, rules.antecedent_names, strict=True):
        assert names == tuple(f"product {i[1:]}" for i in ids)


def test_planted_pair_is_the_strongest_by_lift(shop: ShopData) -> None:
    rules = association_rules(frequent_itemsets(shop, 20, max_len=2), max_q_value=0.01)
    assert {rules.antecedent[0], rules.consequent[0]} == {("i0",), ("i1",)}


def test_appearance_items_and_categories(shop: ShopData) -> None:
    itemsets = frequent_itemsets(shop, 0.02)
    every = association_rules(itemsets, max_consequent_len=None)
    only = association_rules(
        itemsets,
        max_consequent_len=None,
        appearance=Appearance.of(
            antecedent_only=["i0"], consequent_only_categories=["accessories"]
        ),
    )
    accessories = {"i1", "i2", "i3"}
    expected = every[
        [
            "i0" not in c and not (set(a) & accessories)
            for a, c in zip(every.antecedent, every.consequent, strict=True)
        ]
    ]
    assert len(only) == len(expected) > 0
    assert set(zip(only.antecedent, only.consequent, strict=True)) == set(
        zip(expected.antecedent, expected.consequent, strict=True)
    )
    with pytest.raises(ValidationError, match=r"unknown categories \['toys'\] in appearance"):
        association_rules(itemsets, appearance=Appearance.of(consequent_only_categories=["toys"]))


def test_filters_equal_filtering_the_full_table(shop: ShopData) -> None:
    itemsets = frequent_itemsets(shop, 0.02)
    every = association_rules(itemsets)
    some = association_rules(
        itemsets, min_confidence=0.3, min_lift=1.2, max_p_value=0.05, thresholds={"count": 15}
    )
    expected = every[
        (every.confidence >= 0.3)
        & (every.lift >= 1.2)
        & (every.p_value <= 0.05)
        & (every["count"] >= 15)
    ]
    assert len(some) == len(expected) > 0
    # q-values stay those of the whole tested family, whatever the filters.
    assert np.allclose(np.sort(some.q_value.to_numpy()), np.sort(expected.q_value.to_numpy()))


def test_top_k_is_the_head_of_the_sorted_full_table(shop: ShopData) -> None:
    every = association_rules(frequent_itemsets(shop, 15), sort_by="confidence")
    top = top_k_rules(shop, 5, sort_by="confidence", min_count=15)
    assert len(top) == 5
    assert np.allclose(top.confidence.to_numpy(), np.sort(every.confidence.to_numpy())[::-1][:5])
    assert (top["count"] >= 15).all()


def test_fisher_p_values_equal_scipy_fisher_exact() -> None:
    rng = np.random.default_rng(0)
    n = 700
    count_a = rng.integers(1, n, 400)
    count_c = rng.integers(1, n, 400)
    low, high = np.maximum(0, count_a + count_c - n), np.minimum(count_a, count_c)
    count_ac = low + (rng.random(400) * (high - low + 1)).astype(int)
    mine = fisher_p_values(count_ac, count_a, count_c, n)
    for x, a, c, p in zip(count_ac, count_a, count_c, mine, strict=True):
        table = [[x, a - x], [c - x, n - a - c + x]]
        expected = stats.fisher_exact(table, alternative="greater").pvalue
        assert p == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_benjamini_hochberg_by_hand() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    # Sorted: 0.005, 0.01, 0.03, 0.04, 0.5 -> p*m/rank = .025, .025, .05, .05, .5,
    # then the running minimum from the largest down.
    expected = np.array([0.025, 0.05, 0.05, 0.025, 0.5])
    np.testing.assert_allclose(benjamini_hochberg(p), expected)


def test_confidence_by_hand_on_a_tiny_basket_list() -> None:
    shop = ShopData.from_baskets([["a", "b"], ["a", "b", "c"], ["a"], ["c"]])
    rules = association_rules(frequent_itemsets(shop, 2))
    row = rules[(rules.antecedent == ("b",)) & (rules.consequent == ("a",))].iloc[0]
    assert (row["count"], row.antecedent_count, row.consequent_count) == (2, 2, 3)
    assert row.confidence == 1.0 and row.lift == pytest.approx(4 / 3) and row.conviction == np.inf
    assert row.support == 0.5
    assert list(combinations("ab", 2)) == [("a", "b")]
