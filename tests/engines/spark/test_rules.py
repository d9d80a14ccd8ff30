"""Itemsets and rules mined on Spark are exactly those of the single-machine miner.

Two independent counters meet here: MLlib's FP-Growth on the lake and xsell's
Eclat (:func:`xsell.mining.frequent_itemsets`) on the store holding the same
slice; top-k rules are checked against the branch-and-bound search
(:func:`xsell.mining.top_k_rules`), which never lists every rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from tests.engines.spark.conftest import Ingested
from xsell.data.shopdata import ShopData
from xsell.errors import MemoryBudgetError
from xsell.mining import association_rules, frequent_itemsets, top_k_rules


def by_itemset(table: pd.DataFrame) -> dict[tuple[str, ...], int]:
    pairs = zip(table["itemset"], table["count"], strict=True)
    return {tuple(sorted(map(str, s))): int(c) for s, c in pairs}


def ordered(rules: pd.DataFrame) -> pd.DataFrame:
    out = rules.copy()
    for column in ("antecedent", "consequent"):
        out[column] = [tuple(sorted(map(str, v))) for v in out[column]]
    return out.sort_values(["antecedent", "consequent"]).reset_index(drop=True)


@pytest.mark.parametrize(("preset", "min_support"), [("fimi", 30)])
def test_itemsets_and_every_rule_metric_equal_the_single_machine_miner(
    spark: Any, ingested: Callable[[str], Ingested], preset: str, min_support: float
) -> None:
    from xsell.engines.spark.lake import read_lake
    from xsell.engines.spark.rules import lake_itemsets, lake_rules

    both = ingested(preset)
    lake = read_lake(spark, both.lake)
    data = ShopData.from_store(both.store)
    mine = lake_itemsets(lake, min_support)
    theirs = frequent_itemsets(data, min_support)
    assert by_itemset(mine) == by_itemset(theirs)
    assert mine["length"].max() >= 2
    assert mine.attrs["mining"].min_count == theirs.attrs["mining"].min_count

    rules = lake_rules(lake, min_support=min_support, min_confidence=0.1)
    oracle = association_rules(theirs, min_confidence=0.1)
    assert len(rules) == len(oracle) > 10
    pd.testing.assert_frame_equal(ordered(rules), ordered(oracle), check_exact=False, rtol=1e-9)
    assert {"p_value", "q_value", "lift", "confidence", "support"} <= set(rules.columns)


def test_top_k_rules_equal_the_branch_and_bound_search(
    spark: Any, ingested: Callable[[str], Ingested]
) -> None:
    from xsell.engines.spark.lake import read_lake
    from xsell.engines.spark.rules import lake_rules

    both = ingested("fimi")
    lake = read_lake(spark, both.lake)
    mine = lake_rules(lake, top_k=40, min_count=20, sort_by="confidence")
    oracle = top_k_rules(ShopData.from_store(both.store), 40, min_count=20, sort_by="confidence")
    assert len(mine) == 40
    columns = ["antecedent", "consequent", "count", "confidence", "lift"]
    pd.testing.assert_frame_equal(
        mine[columns].reset_index(drop=True),
        oracle[columns].reset_index(drop=True),
        check_exact=False,
    )


def test_a_floor_that_finds_too_many_itemsets_stops_at_the_budget(
    spark: Any, ingested: Callable[[str], Ingested]
) -> None:
    from xsell.engines.spark.lake import read_lake
    from xsell.engines.spark.rules import lake_itemsets

    lake = read_lake(spark, ingested("fimi").lake)
    with pytest.raises(MemoryBudgetError, match=r"itemsets would exceed the memory budget"):
        lake_itemsets(lake, 2, memory_budget="1KB")
