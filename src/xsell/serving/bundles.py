"""Bundles for an item page: the strongest 2-3 item sets holding the item.

From association rules when the service has them (``rules.parquet`` in the
bundle, or the latest rules saved in ``--rules-store``): each itemset of size
2-3 keeps the metrics of its strongest rule. Without rules, bundles are derived
per item from the model's complements (pairs with the best complements, and
triples whose third item also complements the second), and the answer says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from xsell.errors import InputFileError

RULES_FILE = "rules.parquet"
#: Complements looked at when deriving bundles from the model.
DERIVE_DEPTH = 5

#: ``complements(item_index, k) -> [(index, score)]`` of the served model.
Complements = Callable[[int, int], list[tuple[int, float]]]


@dataclass
class Bundle:
    """A set of item indices with its strength."""

    items: tuple[int, ...]
    score: float
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class BundleFinder:
    """Where bundles come from and, for rules, the itemsets per item id."""

    source: str
    note: str
    by_item: dict[str, list[tuple[tuple[str, ...], dict[str, float]]]] = field(default_factory=dict)

    @classmethod
    def for_bundle(cls, bundle: Path, rules_store: Path | None) -> BundleFinder:
        """Rules from ``rules_store`` or the bundle's ``rules.parquet``, else model-derived."""
        if rules_store is not None:
            from xsell.mining import load_rules

            return cls.from_rules(load_rules(rules_store), f"association rules of {rules_store}")
        path = Path(bundle) / RULES_FILE
        if path.exists():
            try:
                rules = pd.read_parquet(path)
            except Exception as exc:
                raise InputFileError(f"{path}: cannot read the bundle's rules: {exc}") from exc
            return cls.from_rules(rules, f"association rules in {path.name}")
        return cls(
            source="model_complements",
            note="the model bundle holds no association rules; bundles are derived from the "
            "model's complements",
        )

    @classmethod
    def from_rules(cls, rules: pd.DataFrame, origin: str) -> BundleFinder:
        """Index the 2-3 item sets of ``rules`` (columns antecedent, consequent, count, lift...)."""
        missing = {"antecedent", "consequent", "lift"} - set(rules.columns)
        if missing:
            raise InputFileError(f"{origin}: the rules table lacks the columns {sorted(missing)}")
        best: dict[frozenset[str], dict[str, float]] = {}
        metric_names = [c for c in ("lift", "confidence", "support", "count") if c in rules]
        for row in rules[["antecedent", "consequent", *metric_names]].itertuples(index=False):
            itemset = frozenset(map(str, (*row[0], *row[1])))
            if not 2 <= len(itemset) <= 3:
                continue
            values = {name: float(v) for name, v in zip(metric_names, row[2:], strict=True)}
            held = best.get(itemset)
            if held is None or values["lift"] > held["lift"]:
                best[itemset] = values
        by_item: dict[str, list[tuple[tuple[str, ...], dict[str, float]]]] = {}
        for itemset, values in best.items():
            for item in itemset:
                by_item.setdefault(item, []).append((tuple(sorted(itemset)), values))
        for entries in by_item.values():
            entries.sort(key=lambda e: (-e[1]["lift"], -e[1].get("count", 0.0), e[0]))
        return cls(source="association_rules", note=f"from the {origin}", by_item=by_item)

    def find(
        self,
        item: str,
        item_index: int,
        k: int,
        complements: Complements,
        lookup: Callable[[str], int],
    ) -> list[Bundle]:
        """The ``k`` strongest bundles with ``item``, the item first in each."""
        if self.source == "association_rules":
            found = []
            for itemset, values in self.by_item.get(item, [])[:k]:
                others = [lookup(i) for i in itemset if i != item]
                if any(o < 0 for o in others):
                    continue
                found.append(Bundle((item_index, *others), values["lift"], dict(values)))
            return found
        return derive_bundles(item_index, k, complements)


def derive_bundles(item: int, k: int, complements: Complements) -> list[Bundle]:
    """Bundles from complements: triples first where the evidence chains, then pairs.

    A triple ``(item, a, b)`` needs ``b`` among the complements of both ``item``
    and ``a``; its score is the mean of the two weaker links. Pairs score as the
    complement's own score.
    """
    first = complements(item, DERIVE_DEPTH)
    score_of = dict(first)
    bundles: list[Bundle] = []
    seen: set[frozenset[int]] = set()
    for a, a_score in first[:3]:
        for b, ab_score in complements(a, DERIVE_DEPTH):
            if b == item or b not in score_of:
                continue
            key = frozenset((item, a, b))
            if key in seen:
                continue
            seen.add(key)
            links = sorted((a_score, score_of[b], ab_score))
            bundles.append(Bundle((item, a, b), (links[0] + links[1]) / 2, {"score": links[0]}))
    bundles.sort(key=lambda b: -b.score)
    pairs = [Bundle((item, a), s, {"score": s}) for a, s in first]
    return (bundles[: max(1, k // 2)] + pairs)[:k] if bundles else pairs[:k]


def describe(bundle: Bundle) -> dict[str, Any]:
    return {"score": bundle.score, **bundle.metrics}
