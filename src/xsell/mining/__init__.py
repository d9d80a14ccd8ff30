"""Frequent itemsets and association rules: exact, fast (Eclat in C), memory-safe, explained.

Public API::

    frequent_itemsets(data, min_support, *, max_len=None, kind="all", ...)  -> DataFrame
    association_rules(itemsets, *, min_confidence=0.0, min_lift=None, ...)  -> DataFrame
    top_k_rules(data, k, *, sort_by="lift", min_count=10, ...)              -> DataFrame
    save_rules(store, rules, *, params=None) -> int;  load_rules(store, version=None) -> DataFrame
    export_rules(rules, path)  (CSV or Parquet, by suffix)

The names load lazily, so importing one small module of this package (the CLI's
basket reader, say) does not import pandas, SciPy or DuckDB.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xsell.mining.itemsets import (
        KINDS,
        MiningInfo,
        frequent_itemsets,
        min_count_of,
        mining_info,
    )
    from xsell.mining.metrics import METRICS, get_metric
    from xsell.mining.rule_store import export_rules, load_rules, rule_versions, save_rules
    from xsell.mining.rules import RULE_COLUMNS, Appearance, association_rules, top_k_rules

_HOMES = {
    "KINDS": "itemsets",
    "MiningInfo": "itemsets",
    "frequent_itemsets": "itemsets",
    "min_count_of": "itemsets",
    "mining_info": "itemsets",
    "METRICS": "metrics",
    "get_metric": "metrics",
    "export_rules": "rule_store",
    "load_rules": "rule_store",
    "rule_versions": "rule_store",
    "save_rules": "rule_store",
    "RULE_COLUMNS": "rules",
    "Appearance": "rules",
    "association_rules": "rules",
    "top_k_rules": "rules",
}

__all__ = [
    "KINDS",
    "METRICS",
    "RULE_COLUMNS",
    "Appearance",
    "MiningInfo",
    "association_rules",
    "export_rules",
    "frequent_itemsets",
    "get_metric",
    "load_rules",
    "min_count_of",
    "mining_info",
    "rule_versions",
    "save_rules",
    "top_k_rules",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'xsell.mining' has no attribute {name!r}")
    return getattr(importlib.import_module(f"xsell.mining.{home}"), name)
