"""``xsell spark rules``: itemsets counted on Spark, rules and their tests as on one machine.

MLlib's FP-Growth counts every itemset bought in at least ``min_count`` baskets
over the cluster; it is exact (each count is the number of baskets holding the
set) and complete at its threshold, which is set so that its ``ceil(minSupport *
n)`` is exactly xsell's ``min_count``. The itemsets then become the table
:func:`xsell.mining.frequent_itemsets` makes, and
:func:`xsell.mining.association_rules` gives every metric, the Fisher p-value and
the Benjamini-Hochberg q-value: the same rules, in the same order, as the
single-machine miner. FP-Growth has no length limit, so ``max_len`` filters its
output (and the memory budget is checked before anything is collected).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from xsell.engines.spark.lake import Lake, basket_lists
from xsell.errors import MemoryBudgetError, ValidationError
from xsell.mining.budget import parse_budget
from xsell.mining.itemsets import (
    GIANT_BASKET,
    MiningInfo,
    MinSupport,
    itemset_table,
    min_count_of,
)
from xsell.mining.rules import association_rules
from xsell.progress import Reporter, SilentReporter


def lake_itemsets(
    lake: Lake,
    min_support: MinSupport,
    *,
    max_len: int | None = None,
    memory_budget: int | str | None = None,
    reporter: Reporter | None = None,
) -> pd.DataFrame:
    """Every itemset bought together in at least ``min_support`` of the lake's baskets.

    The table and its ``attrs["mining"]`` are those of
    :func:`xsell.mining.frequent_itemsets` (``kind="all"``) on the same baskets.
    """
    from pyspark.ml.fpm import FPGrowth
    from pyspark.sql import functions as F

    started = time.perf_counter()
    reporter = reporter or SilentReporter()
    if max_len is not None and (isinstance(max_len, bool) or max_len < 1):
        raise ValidationError(f"max_len must be a whole number >= 1 or None, got {max_len!r}")
    budget = parse_budget(memory_budget)
    n = lake.n_baskets
    min_count = min_count_of(min_support, n)
    lists = basket_lists(lake).persist()
    sizes = lists.groupBy(F.size("items").alias("size")).count().toPandas()
    reporter.step("counting itemsets", 1)
    # FP-Growth keeps sets with count >= ceil(minSupport * n): that ceiling is min_count.
    growth = FPGrowth(itemsCol="items", minSupport=(min_count - 0.5) / n, minConfidence=1.0)
    found = growth.fit(lists).freqItemsets
    if max_len is not None:
        found = found.where(F.size("items") <= int(max_len))
    found = found.where(F.col("freq") >= min_count)
    total = int(found.count())
    if total > budget.max_itemsets:
        lists.unpersist()
        raise MemoryBudgetError(
            f"{total:,} itemsets would exceed the memory budget of {budget} (about "
            f"{budget.max_itemsets:,} itemsets); raise min_support, lower max_len or raise "
            "memory_budget (--memory-budget)"
        )
    reporter.step("collecting itemsets", 1)
    rows = found.toPandas()
    lists.unpersist()
    itemsets = [tuple(int(i) for i in items) for items in rows["items"]]
    counts = rows["freq"].astype(np.int64).tolist()
    largest = int(sizes["size"].max()) if len(sizes) else 0
    giant = int(sizes.loc[sizes["size"] > GIANT_BASKET, "count"].sum())
    used = sorted({i for s in itemsets for i in s})
    table = lake.items
    notes: tuple[str, ...] = ()
    if giant:
        notes = (
            f"{giant:,} giant baskets (more than {GIANT_BASKET} items, largest {largest:,}) "
            "counted exactly by FP-Growth on Spark",
        )
    info = MiningInfo(
        n_baskets=n,
        min_count=min_count,
        min_support=min_count / n,
        max_len=max_len,
        kind="all",
        algorithm="spark-fpgrowth",
        n_items=len(table),
        n_frequent_items=sum(1 for s in itemsets if len(s) == 1),
        giant_baskets=giant,
        largest_basket=largest,
        dropped_baskets=0,
        seconds=time.perf_counter() - started,
        notes=notes,
        item_names={str(table.ids.ids[i]): str(table.names[i]) for i in used},
        item_categories={
            str(table.ids.ids[i]): (
                None if table.categories[i] is None else str(table.categories[i])
            )
            for i in used
        },
    )
    return itemset_table(itemsets, counts, table.ids.ids, n, info)


def lake_rules(
    lake: Lake,
    *,
    min_support: MinSupport | None = None,
    top_k: int | None = None,
    min_count: int = 10,
    max_len: int | None = None,
    memory_budget: int | str | None = None,
    reporter: Reporter | None = None,
    **rule_options: Any,
) -> pd.DataFrame:
    """Association rules of the lake's baskets, exactly those of the single-machine miner.

    ``min_support`` mines at that floor; without it, ``top_k`` rules (by
    ``sort_by``) among those seen in at least ``min_count`` baskets, as
    :func:`xsell.mining.top_k_rules`. ``rule_options`` go to
    :func:`xsell.mining.association_rules` (``min_confidence``, ``min_lift``,
    ``max_p_value``, ``max_q_value``, ``max_consequent_len``, ``sort_by``).
    """
    floor: MinSupport = min_support if min_support is not None else int(min_count)
    if min_support is None and max_len is None:
        # As xsell.mining.top_k_rules: rules of at most that many items unless asked.
        from xsell.mining.rules import DEFAULT_TOP_K_MAX_LEN

        max_len = DEFAULT_TOP_K_MAX_LEN
    itemsets = lake_itemsets(
        lake, floor, max_len=max_len, memory_budget=memory_budget, reporter=reporter
    )
    return association_rules(itemsets, top_k=top_k, memory_budget=memory_budget, **rule_options)
