"""Association rules from frequent itemsets: metrics, significance, filters and top-k."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from itertools import combinations
from typing import Any, Final

import numpy as np
import pandas as pd
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.mining.budget import (
    BudgetStop,
    Hint,
    MemoryBudget,
    fitting_min_count,
    parse_budget,
    support_text,
)
from xsell.mining.itemsets import (
    GIANT_BASKET,
    MiningInfo,
    basket_matrix,
    frequent_itemsets,
    mining_info,
    table_levels,
)
from xsell.mining.lookup import ItemsetIndex
from xsell.mining.metrics import METRICS, check_column
from xsell.mining.significance import benjamini_hochberg, fisher_p_values
from xsell.mining.topk import SEARCH_KEYS, TopRules, search_top_rules
from xsell.progress import Reporter

#: Columns of a rules table, in order (the two ``*_names`` columns only when names are known).
RULE_COLUMNS: Final = (
    "antecedent",
    "consequent",
    "antecedent_names",
    "consequent_names",
    "antecedent_count",
    "consequent_count",
    "count",
    "antecedent_support",
    "consequent_support",
    *METRICS,
    "p_value",
    "q_value",
)
#: Longest rule (antecedent plus consequent) a top-k search looks for by default.
DEFAULT_TOP_K_MAX_LEN: Final = 4
#: Columns ``thresholds`` may set a minimum for.
THRESHOLD_COLUMNS: Final = (*METRICS, "count")


@dataclass(frozen=True)
class Appearance:
    """Which items or categories may appear on which side of a rule.

    Items (external ids) or categories in ``antecedent_only`` may appear only in
    antecedents (e.g. "what do people buy *with* a phone"); those in
    ``consequent_only`` only in consequents (e.g. "which accessories to suggest").
    """

    antecedent_only: frozenset[str] = frozenset()
    consequent_only: frozenset[str] = frozenset()
    antecedent_only_categories: frozenset[str] = frozenset()
    consequent_only_categories: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        antecedent_only: Collection[str] = (),
        consequent_only: Collection[str] = (),
        antecedent_only_categories: Collection[str] = (),
        consequent_only_categories: Collection[str] = (),
    ) -> Appearance:
        """Build from any collections of strings."""
        return cls(
            frozenset(map(str, antecedent_only)),
            frozenset(map(str, consequent_only)),
            frozenset(map(str, antecedent_only_categories)),
            frozenset(map(str, consequent_only_categories)),
        )


def association_rules(
    itemsets: pd.DataFrame,
    *,
    min_confidence: float = 0.0,
    min_lift: float | None = None,
    max_p_value: float | None = None,
    max_q_value: float | None = None,
    thresholds: Mapping[str, float] | None = None,
    max_consequent_len: int | None = 1,
    appearance: Appearance | None = None,
    sort_by: str = "lift",
    top_k: int | None = None,
    n_baskets: int | None = None,
    memory_budget: int | str | MemoryBudget | None = None,
) -> pd.DataFrame:
    """Every rule ``antecedent -> consequent`` between the items of each frequent itemset.

    Parameters
    ----------
    itemsets:
        A table from :func:`~xsell.mining.frequent_itemsets` with ``kind="all"``
        (rules need the count of every subset).
    min_confidence, min_lift:
        Keep rules at or above these.
    max_p_value, max_q_value:
        Keep rules whose one-sided Fisher exact p-value (``p_value``) or its
        Benjamini-Hochberg adjustment (``q_value``, false discovery rate) is at or
        below these. The adjustment is over every candidate rule (after
        ``appearance``, before the other filters): the family that was tested.
    thresholds:
        Extra minimums by column name, e.g. ``{"leverage": 0.001, "count": 20}``;
        names from :data:`THRESHOLD_COLUMNS`.
    max_consequent_len:
        Longest consequent; 1 (default) gives single-item consequents, ``None``
        any length.
    appearance:
        Items or categories allowed only on one side (see :class:`Appearance`).
    sort_by:
        Column to sort by, descending (ascending for ``p_value`` / ``q_value``);
        ties by ``count`` descending.
    top_k:
        Keep only the first ``top_k`` rules after sorting.
    n_baskets:
        Number of baskets; only needed when ``itemsets`` carries no
        ``attrs["mining"]``.
    memory_budget:
        Bytes (or ``"512MB"``) the rules may take; default 1 GB.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RULE_COLUMNS`: ``antecedent`` and ``consequent`` as tuples
        of external item ids (``*_names`` tuples of catalog names when known),
        basket counts, supports, the metrics of :mod:`xsell.mining.metrics`,
        ``p_value`` and ``q_value``.
    """
    info = mining_info(itemsets)
    total = _n_baskets(info, n_baskets)
    _check_filters(min_confidence, min_lift, max_p_value, max_q_value, thresholds, top_k)
    if max_consequent_len is not None and (
        isinstance(max_consequent_len, bool) or max_consequent_len < 1
    ):
        raise ValidationError(
            f"max_consequent_len must be >= 1 or None, got {max_consequent_len!r}"
        )
    descending = check_column(sort_by) not in ("p_value", "q_value")
    if info is not None and info.kind != "all":
        raise ValidationError(
            f"rules need every frequent itemset, but this table holds only the {info.kind} ones; "
            "mine with kind='all'"
        )
    missing = {"itemset", "items", "count", "length"} - set(itemsets.columns)
    if missing:
        raise ValidationError(
            f"itemsets table lacks columns {sorted(missing)}; "
            "make it with xsell.mining.frequent_itemsets"
        )
    names = info.item_names if info is not None else None
    if len(itemsets) == 0:
        return _empty_rules(names is not None)
    budget = parse_budget(memory_budget)
    levels, counts = table_levels(itemsets)
    _check_rule_budget(levels, counts, max_consequent_len, budget, total)
    ext_of = _external_ids(itemsets, levels)
    ante_bad, cons_bad = _appearance_masks(appearance, ext_of, info)

    parts = list(_candidates(levels, counts, max_consequent_len, ante_bad, cons_bad))
    if not parts:
        return _empty_rules(names is not None)
    count_ac = np.concatenate([p[2] for p in parts])
    count_a = np.concatenate([p[3] for p in parts])
    count_c = np.concatenate([p[4] for p in parts])
    s_a, s_c, s_ac = count_a / total, count_c / total, count_ac / total
    columns: dict[str, np.ndarray] = {
        "antecedent_count": count_a,
        "consequent_count": count_c,
        "count": count_ac,
        "antecedent_support": s_a,
        "consequent_support": s_c,
    }
    for name, metric in METRICS.items():
        columns[name] = np.asarray(metric(s_a, s_c, s_ac), dtype=np.float64)
    columns["p_value"] = fisher_p_values(count_ac, count_a, count_c, total)
    columns["q_value"] = benjamini_hochberg(columns["p_value"])

    keep = columns["confidence"] >= min_confidence
    if min_lift is not None:
        keep &= columns["lift"] >= min_lift
    if max_p_value is not None:
        keep &= columns["p_value"] <= max_p_value
    if max_q_value is not None:
        keep &= columns["q_value"] <= max_q_value
    for name, minimum in (thresholds or {}).items():
        keep &= columns[name] >= minimum
    chosen = np.flatnonzero(keep)
    key = rank_key(sort_by, columns, total)
    chosen = chosen[_rank(parts, chosen, key, columns["count"], descending)]
    if top_k is not None:
        chosen = chosen[:top_k]

    table: dict[str, Any] = {
        "antecedent": _side(parts, chosen, 0, ext_of),
        "consequent": _side(parts, chosen, 1, ext_of),
    }
    if names is not None:
        name_of = np.array([names.get(e, e) for e in ext_of], dtype=object)
        table["antecedent_names"] = _side(parts, chosen, 0, name_of)
        table["consequent_names"] = _side(parts, chosen, 1, name_of)
    for name, values in columns.items():
        table[name] = values[chosen]
    rules = pd.DataFrame(table)
    if info is not None:
        rules.attrs["mining"] = info
    return rules


def mine_rules(
    data: ShopData | sp.spmatrix | sp.sparray,
    min_support: int | float,
    *,
    max_len: int | None = None,
    max_consequent_len: int | None = 1,
    memory_budget: int | str | MemoryBudget | None = None,
    item_ids: Any = None,
    reporter: Reporter | None = None,
    **filters: Any,
) -> pd.DataFrame:
    """Every rule at a support floor: :func:`frequent_itemsets`, then :func:`association_rules`.

    One memory budget for both, so a budget stop among the itemsets names a
    ``min_support`` whose rules fit too. ``filters`` are those of
    :func:`association_rules` (``min_confidence``, ``thresholds``, ``sort_by``...).
    """
    budget = parse_budget(memory_budget)
    itemsets = frequent_itemsets(
        data,
        min_support,
        max_len=max_len,
        memory_budget=budget,
        item_ids=item_ids,
        reporter=reporter,
        rules_limit=(max_consequent_len, budget.max_rules),
    )
    return association_rules(
        itemsets, max_consequent_len=max_consequent_len, memory_budget=budget, **filters
    )


def top_k_rules(
    data: ShopData | sp.spmatrix | sp.sparray,
    k: int,
    *,
    sort_by: str = "lift",
    min_count: int = 10,
    max_len: int | None = DEFAULT_TOP_K_MAX_LEN,
    min_confidence: float = 0.0,
    min_lift: float | None = None,
    max_p_value: float | None = None,
    max_q_value: float | None = None,
    max_consequent_len: int | None = 1,
    appearance: Appearance | None = None,
    memory_budget: int | str | MemoryBudget | None = None,
    item_ids: Any = None,
    reporter: Reporter | None = None,
) -> pd.DataFrame:
    """The ``k`` strongest rules by ``sort_by`` among rules with at least ``min_count`` baskets.

    No ``min_support`` to guess: the floor is the number of baskets that must
    support a rule. The answer is exact: the ``k`` first rules of the full table
    that :func:`association_rules` would sort (ties by count, then shorter
    rules, then item ids), found without listing every rule.

    For ``sort_by`` lift, confidence, support or count with single-item
    consequents (the default), a branch-and-bound search skips every rule that
    cannot beat the ``k``-th found so far; it looks at no more itemsets than one
    per :data:`~xsell.mining.budget.BYTES_PER_SEARCHED_ITEMSET` bytes of the
    memory budget, and when that is not enough the
    :class:`~xsell.mining.budget.BudgetStop` names a ``max_len`` or ``min_count``
    whose search it ran to the end within the same limit. Its ``q_value`` column
    is ``NaN``: a Benjamini-Hochberg q-value needs every rule of the family (ask
    :func:`association_rules` for those). Other keys, ``max_q_value`` or longer
    consequents list every rule first (within the memory budget).

    Parameters are those of :func:`~xsell.mining.frequent_itemsets` and
    :func:`association_rules`; ``max_len`` (longest rule, antecedent plus
    consequent) defaults to 4 here: on shop data longer rules come from a few
    repeated wholesale orders and their number explodes.
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValidationError(f"k must be a whole number >= 1, got {k!r}")
    if isinstance(min_count, bool) or not isinstance(min_count, int | np.integer) or min_count < 1:
        raise ValidationError(
            f"min_count must be a whole number of baskets >= 1, got {min_count!r}"
        )
    check_column(sort_by)
    if sort_by not in SEARCH_KEYS or max_q_value is not None or max_consequent_len != 1:
        itemsets = frequent_itemsets(
            data,
            int(min_count),
            max_len=max_len,
            memory_budget=memory_budget,
            item_ids=item_ids,
            reporter=reporter,
        )
        return association_rules(
            itemsets,
            min_confidence=min_confidence,
            min_lift=min_lift,
            max_p_value=max_p_value,
            max_q_value=max_q_value,
            max_consequent_len=max_consequent_len,
            appearance=appearance,
            sort_by=sort_by,
            top_k=int(k),
            memory_budget=memory_budget,
        )
    _check_filters(min_confidence, min_lift, max_p_value, None, None, int(k))
    return _searched_top_k(
        data,
        int(k),
        sort_by,
        int(min_count),
        max_len,
        min_confidence,
        min_lift,
        max_p_value,
        appearance,
        parse_budget(memory_budget),
        item_ids,
        reporter,
    )


def _searched_top_k(
    data: Any,
    k: int,
    sort_by: str,
    min_count: int,
    max_len: int | None,
    min_confidence: float,
    min_lift: float | None,
    max_p_value: float | None,
    appearance: Appearance | None,
    budget: MemoryBudget,
    item_ids: Any,
    reporter: Reporter | None,
) -> pd.DataFrame:
    started = time.perf_counter()
    if max_len is not None and (
        isinstance(max_len, bool) or int(max_len) != max_len or max_len < 2
    ):
        raise ValidationError(
            f"max_len must be a whole number >= 2 (a rule has two items) or None, got {max_len!r}"
        )
    matrix, ids, names, categories = basket_matrix(data, item_ids)
    n_baskets = matrix.shape[0]
    keep_row = np.ones(n_baskets, np.bool_)
    info = _top_k_info(matrix, ids, names, categories, min_count, max_len)
    ext_of = np.asarray(ids, dtype=object)
    ante_bad, cons_bad = _appearance_masks(appearance, ext_of, info)
    if reporter is not None:
        reporter.step("searching the strongest rules", 10)

    def search(longest: int | None, floor: int = min_count) -> TopRules:
        return search_top_rules(
            matrix.indptr,
            matrix.indices,
            matrix.shape[1],
            keep_row,
            k,
            sort_by,
            min_count=floor,
            max_len=longest,
            min_confidence=min_confidence,
            min_lift=min_lift,
            max_p_value=max_p_value,
            consequent_ok=None if cons_bad is None else ~cons_bad,
            antecedent_ok=None if ante_bad is None else ~ante_bad,
            cap=budget.max_searched,
        )

    found = search(max_len)
    if not found.complete:
        raise _search_error(search, found, budget, sort_by, k, min_count, max_len, n_baskets)
    if reporter is not None:
        reporter.step("building the table", 60)
    info = replace(info, seconds=time.perf_counter() - started)
    return _top_k_table(found, ext_of, info, n_baskets, matrix)


def _top_k_info(
    matrix: sp.csr_matrix,
    ids: np.ndarray,
    names: np.ndarray | None,
    categories: np.ndarray | None,
    min_count: int,
    max_len: int | None,
) -> MiningInfo:
    sizes = np.diff(matrix.indptr)
    n_baskets = matrix.shape[0]
    counts = np.bincount(matrix.indices, minlength=matrix.shape[1])
    used = np.flatnonzero(counts >= min_count).tolist()
    notes = [
        "q-values need every rule of the family, so a top-k search leaves them out (NaN); "
        "give min_support to list every rule"
    ]
    return MiningInfo(
        n_baskets=n_baskets,
        min_count=min_count,
        min_support=min_count / n_baskets,
        max_len=max_len,
        kind="all",
        algorithm="top-k search",
        n_items=matrix.shape[1],
        n_frequent_items=len(used),
        giant_baskets=int((sizes > GIANT_BASKET).sum()),
        largest_basket=int(sizes.max()) if len(sizes) else 0,
        dropped_baskets=0,
        seconds=0.0,
        notes=tuple(notes),
        item_names={ids[i]: str(names[i]) for i in used} if names is not None else None,
        item_categories=(
            {ids[i]: (None if categories[i] is None else str(categories[i])) for i in used}
            if categories is not None
            else None
        ),
    )


def _top_k_table(
    found: TopRules, ext_of: np.ndarray, info: MiningInfo, total: int, matrix: sp.csr_matrix
) -> pd.DataFrame:
    item_counts = np.bincount(matrix.indices, minlength=matrix.shape[1])
    lengths = (found.antecedents >= 0).sum(axis=1)
    count_ac = found.count.astype(np.int64)
    count_a = found.antecedent_count.astype(np.int64)
    count_c = item_counts[found.consequent].astype(np.int64)
    s_a, s_c, s_ac = count_a / total, count_c / total, count_ac / total
    table: dict[str, Any] = {
        "antecedent": [
            tuple(ext_of[row[:size]].tolist())
            for row, size in zip(found.antecedents, lengths.tolist(), strict=True)
        ],
        "consequent": [(ext_of[c],) for c in found.consequent.tolist()],
    }
    if info.item_names is not None:
        names = info.item_names
        table["antecedent_names"] = [tuple(names.get(i, i) for i in a) for a in table["antecedent"]]
        table["consequent_names"] = [tuple(names.get(i, i) for i in c) for c in table["consequent"]]
    table.update(
        {
            "antecedent_count": count_a,
            "consequent_count": count_c,
            "count": count_ac,
            "antecedent_support": s_a,
            "consequent_support": s_c,
        }
    )
    for name, metric in METRICS.items():
        table[name] = np.asarray(metric(s_a, s_c, s_ac), dtype=np.float64)
    table["p_value"] = fisher_p_values(count_ac, count_a, count_c, total)
    table["q_value"] = np.full(len(count_ac), np.nan)
    rules = pd.DataFrame(table) if len(count_ac) else _empty_rules(info.item_names is not None)
    rules.attrs["mining"] = info
    return rules


def _search_error(
    search: Callable[[int | None, int], TopRules],
    found: TopRules,
    budget: MemoryBudget,
    sort_by: str,
    k: int,
    min_count: int,
    max_len: int | None,
    n_baskets: int,
) -> BudgetStop:
    """The budget stop; it names a ``max_len`` or a ``min_count`` whose search fits.

    Every suggestion is a search that ends within the same limit: one that was run, or
    a ``max_len`` whose search is known to end (:attr:`TopRules.shorter_fits`: its runs
    are each a prefix of the stopped search's, as antecedents grow one item per round).
    """
    message = (
        f"top-k search stopped: finding the {k:,} best rules by {sort_by} among rules seen in "
        f"at least {min_count:,} baskets (max_len={max_len}) looked at more than "
        f"{found.examined:,} itemsets, the limit for the memory budget of {budget}"
    )
    hints: list[Hint] = []
    # Rules of up to longest_done items were searched to the end before the stop.
    shorter = found.longest_done if max_len is None else min(found.longest_done, max_len - 1)
    if shorter >= 2 and (found.shorter_fits or search(shorter, min_count).complete):
        hints.append(Hint("max_len", str(shorter)))
    else:
        floor = fitting_min_count(
            lambda c: search(max_len, c).complete, min_count, n_baskets, refine=2
        )
        if floor is not None:
            hints.append(Hint("min_count", str(floor)))
    return BudgetStop(message, (*hints, Hint("memory_budget")))


# ---------------------------------------------------------------------- helpers


def _n_baskets(info: MiningInfo | None, n_baskets: int | None) -> int:
    if n_baskets is not None:
        if isinstance(n_baskets, bool) or n_baskets < 1:
            raise ValidationError(f"n_baskets must be >= 1, got {n_baskets!r}")
        return int(n_baskets)
    if info is None:
        raise ValidationError(
            "the itemsets table carries no mining info (attrs['mining']); pass n_baskets="
        )
    return info.n_baskets


def _check_filters(
    min_confidence: float,
    min_lift: float | None,
    max_p_value: float | None,
    max_q_value: float | None,
    thresholds: Mapping[str, float] | None,
    top_k: int | None,
) -> None:
    if not 0.0 <= min_confidence <= 1.0:
        raise ValidationError(f"min_confidence must be in [0, 1], got {min_confidence!r}")
    if min_lift is not None and min_lift < 0:
        raise ValidationError(f"min_lift must be >= 0, got {min_lift!r}")
    for name, value in (("max_p_value", max_p_value), ("max_q_value", max_q_value)):
        if value is not None and not 0.0 <= value <= 1.0:
            raise ValidationError(f"{name} must be in [0, 1], got {value!r}")
    for name in thresholds or {}:
        if name not in THRESHOLD_COLUMNS:
            raise ValidationError(
                f"unknown metric {name!r} in thresholds; choose one of {sorted(THRESHOLD_COLUMNS)}"
            )
    if top_k is not None and (isinstance(top_k, bool) or top_k < 1):
        raise ValidationError(f"top_k must be >= 1 or None, got {top_k!r}")


def _check_rule_budget(
    levels: dict[int, np.ndarray],
    counts: dict[int, np.ndarray],
    max_consequent_len: int | None,
    budget: MemoryBudget,
    n_baskets: int,
) -> None:
    """Count the candidate rules before making any; name a min_support whose rules fit."""
    per_count: list[tuple[np.ndarray, int]] = []
    total = 0
    for size, found in counts.items():
        longest = size - 1 if max_consequent_len is None else min(size - 1, max_consequent_len)
        rules_each = sum(math.comb(size, s) for s in range(1, longest + 1))
        if rules_each:
            per_count.append((found, rules_each))
            total += len(found) * rules_each
    if total <= budget.max_rules:
        return
    found = np.concatenate([c for c, _ in per_count])
    weight = np.concatenate([np.full(len(c), w, np.int64) for c, w in per_count])
    order = np.argsort(-found, kind="stable")
    cumulative = np.cumsum(weight[order])
    fits = np.flatnonzero(cumulative <= budget.max_rules)
    message = (
        f"{total:,} candidate rules would exceed the memory budget of {budget} "
        f"(about {budget.max_rules:,} rules)"
    )
    hints: list[Hint] = []
    if len(fits):
        # The count just above the first itemset that no longer fits.
        limit = int(found[order][fits[-1] + 1]) + 1 if fits[-1] + 1 < len(order) else 1
        hints.append(
            Hint("min_support", support_text(limit, n_baskets), note=f"({limit:,} baskets)")
        )
    raise BudgetStop(message, (*hints, Hint("max_len", verb="lower"), Hint("memory_budget")))


def _external_ids(itemsets: pd.DataFrame, levels: dict[int, np.ndarray]) -> np.ndarray:
    singles = itemsets[itemsets["length"] == 1]
    dense = np.array([t[0] for t in singles["items"]], dtype=np.int64)
    size = max((int(rows.max()) for rows in levels.values() if rows.size), default=-1) + 1
    ext_of = np.empty(max(size, 1), dtype=object)
    ext_of[dense] = [t[0] for t in singles["itemset"]]
    return ext_of


def _appearance_masks(
    appearance: Appearance | None, ext_of: np.ndarray, info: MiningInfo | None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Per dense item: may it not be an antecedent / not a consequent?"""
    if appearance is None:
        return None, None
    ids = pd.Series(ext_of, dtype=object)
    ante_bad = np.array(ids.isin(appearance.consequent_only), dtype=bool)
    cons_bad = np.array(ids.isin(appearance.antecedent_only), dtype=bool)
    if appearance.antecedent_only_categories or appearance.consequent_only_categories:
        if info is None or info.item_categories is None:
            raise ValidationError(
                "category constraints need item categories: mine a ShopData built with a catalog"
            )
        cats = ids.map(lambda e: info.item_categories.get(e) if info.item_categories else None)
        known = {c for c in info.item_categories.values() if c is not None}
        unknown = (
            appearance.antecedent_only_categories | appearance.consequent_only_categories
        ) - known
        if unknown:
            raise ValidationError(
                f"unknown categories {sorted(unknown)} in appearance; "
                f"categories of frequent items are {sorted(known)[:20]}"
            )
        ante_bad |= cats.isin(appearance.consequent_only_categories).to_numpy()
        cons_bad |= cats.isin(appearance.antecedent_only_categories).to_numpy()
    return ante_bad, cons_bad


def _candidates(
    levels: dict[int, np.ndarray],
    counts: dict[int, np.ndarray],
    max_consequent_len: int | None,
    ante_bad: np.ndarray | None,
    cons_bad: np.ndarray | None,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """``(antecedent rows, consequent rows, n(AC), n(A), n(C))`` per (length, split)."""
    index = ItemsetIndex(levels)
    for size, rows in sorted(levels.items()):
        longest = size - 1 if max_consequent_len is None else min(size - 1, max_consequent_len)
        for cons_len in range(1, longest + 1):
            for cons_cols in combinations(range(size), cons_len):
                ante_cols = [c for c in range(size) if c not in cons_cols]
                ante, cons = rows[:, ante_cols], rows[:, list(cons_cols)]
                ok = np.ones(len(rows), bool)
                if ante_bad is not None and cons_bad is not None:
                    ok = ~ante_bad[ante].any(axis=1) & ~cons_bad[cons].any(axis=1)
                if not ok.any():
                    continue
                ante, cons = ante[ok], cons[ok]
                ante_at, cons_at = index.find(ante), index.find(cons)
                if (ante_at < 0).any() or (cons_at < 0).any():
                    raise ValidationError(
                        "itemsets table is missing subsets of its itemsets (was it filtered?); "
                        "rules need every frequent itemset"
                    )
                yield (
                    ante,
                    cons,
                    counts[size][ok],
                    counts[size - cons_len][ante_at],
                    counts[cons_len][cons_at],
                )


def rank_key(sort_by: str, columns: Mapping[str, np.ndarray], n_baskets: int) -> np.ndarray:
    """What rules are sorted by: for lift, confidence and support the exact fraction of
    basket counts rounded once (as the top-k search ranks), so that equal values tie
    exactly; the column itself for every other key."""
    count = np.asarray(columns["count"], dtype=np.int64)
    if sort_by == "lift":
        top = (count * n_baskets).astype(np.float64)
        bottom = (columns["antecedent_count"] * columns["consequent_count"]).astype(np.float64)
        return top / bottom
    if sort_by == "confidence":
        return count.astype(np.float64) / columns["antecedent_count"].astype(np.float64)
    if sort_by == "support":
        return count.astype(np.float64) / float(n_baskets)
    return np.asarray(columns[sort_by], dtype=np.float64)


def _rank(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    chosen: np.ndarray,
    key: np.ndarray,
    count: np.ndarray,
    descending: bool,
) -> np.ndarray:
    """Order of ``chosen`` rules: the key, then count (descending), then shorter rules, then
    antecedent and consequent item indices ascending (a total order, as the top-k search)."""
    if len(chosen) == 0:
        return np.zeros(0, np.int64)
    starts = np.concatenate([[0], np.cumsum([len(p[2]) for p in parts])])
    part_of = np.searchsorted(starts, chosen, side="right") - 1
    ante_width = max(p[0].shape[1] for p in parts)
    cons_width = max(p[1].shape[1] for p in parts)
    ante = np.full((len(chosen), ante_width), -1, np.int64)
    cons = np.full((len(chosen), cons_width), -1, np.int64)
    length = np.zeros(len(chosen), np.int64)
    for part in np.unique(part_of).tolist():
        at = np.flatnonzero(part_of == part)
        rows = chosen[at] - starts[part]
        a, c = parts[part][0][rows], parts[part][1][rows]
        ante[at, : a.shape[1]] = a
        cons[at, : c.shape[1]] = c
        length[at] = a.shape[1] + c.shape[1]
    values = key[chosen]
    columns = [cons[:, j] for j in range(cons_width - 1, -1, -1)]
    columns += [ante[:, j] for j in range(ante_width - 1, -1, -1)]
    return np.lexsort((*columns, length, -count[chosen], -values if descending else values))


def _side(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    chosen: np.ndarray,
    side: int,
    labels: np.ndarray,
) -> list[tuple[Any, ...]]:
    """Antecedent (``side`` 0) or consequent (1) of the chosen rules as tuples of labels."""
    starts = np.concatenate([[0], np.cumsum([len(p[2]) for p in parts])])
    part_of = np.searchsorted(starts, chosen, side="right") - 1
    out: list[tuple[Any, ...]] = [()] * len(chosen)
    for part in np.unique(part_of).tolist():
        at = np.flatnonzero(part_of == part)
        rows = parts[part][side][chosen[at] - starts[part]]
        # zip builds the tuples in C, column by column.
        tuples = zip(*(labels[rows[:, k]].tolist() for k in range(rows.shape[1])), strict=True)
        for position, value in zip(at.tolist(), tuples, strict=True):
            out[position] = value
    return out


def _empty_rules(with_names: bool) -> pd.DataFrame:
    columns = [c for c in RULE_COLUMNS if with_names or not c.endswith("_names")]
    frame = pd.DataFrame({c: pd.Series([], dtype=np.float64) for c in columns})
    for c in ("antecedent", "consequent", "antecedent_names", "consequent_names"):
        if c in frame:
            frame[c] = frame[c].astype(object)
    for c in ("antecedent_count", "consequent_count", "count"):
        frame[c] = frame[c].astype(np.int64)
    return frame
