"""The k best association rules without listing every frequent itemset first.

:func:`search_top_rules` drives the branch-and-bound kernel of
:mod:`xsell.mining.topk_kernel` with a guessed bar first: "the k-th rule is at
least this good" (confidence 1 in at least F baskets; a lift of at least
``1 / s(c)`` for a consequent of c baskets). The kernel then skips everything
below the bar, which is cheap when the bar is high. When at least k rules clear
the bar, they hold the k best (nothing above the bar was skipped) and the
answer is exact; otherwise the bar is lowered down a ladder, and the last run
has no bar at all. Each run keeps its own heap of the best rules found, so the
bar rises further as the heap fills.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from xsell.mining import eclat, topk_kernel

#: Sort keys the search ranks by itself; the others need every rule listed.
SEARCH_KEYS: Final = {
    "lift": topk_kernel.KEY_LIFT,
    "confidence": topk_kernel.KEY_CONFIDENCE,
    "support": topk_kernel.KEY_SUPPORT,
    "count": topk_kernel.KEY_COUNT,
}
#: Floors tried before the requested one: the 1-2-5 series of basket counts.
_FLOORS: Final = tuple(m * 10**e for e in range(0, 10) for m in (1, 2, 5))


@dataclass(frozen=True)
class TopRules:
    """The k best rules as arrays, best first (dense item indices)."""

    consequent: np.ndarray
    antecedents: np.ndarray  # rows of antecedent items, padded with -1
    count: np.ndarray
    antecedent_count: np.ndarray
    examined: int
    complete: bool
    longest_done: int  # longest rule (items) searched to the end
    # A search for rules of at most longest_done items ends within the same cap: it runs
    # the same runs, each a prefix (the first rounds) of this one's, and the last of them
    # had no bar or already held k rules after those rounds.
    shorter_fits: bool = False
    filled: int = 0  # rules held after the longest_done rounds of the last run


def search_top_rules(
    indptr: np.ndarray,
    indices: np.ndarray,
    n_items: int,
    keep_row: np.ndarray,
    k: int,
    sort_by: str,
    *,
    min_count: int,
    max_len: int | None,
    min_confidence: float,
    min_lift: float | None,
    max_p_value: float | None,
    consequent_ok: np.ndarray | None,
    antecedent_ok: np.ndarray | None,
    cap: int,
) -> TopRules:
    """The ``k`` best single-consequent rules with at least ``min_count`` baskets.

    ``indptr`` / ``indices`` are a binary baskets x items CSR with sorted rows;
    ``keep_row`` says which baskets count. ``complete`` is ``False`` when the
    search examined more than ``cap`` itemsets and stopped.
    """
    kind = SEARCH_KEYS[sort_by]
    item_counts = np.bincount(
        indices if keep_row.all() else indices[np.repeat(keep_row, np.diff(indptr))],
        minlength=n_items,
    )
    n = int(keep_row.sum())
    max_ante = (max_len - 1) if max_len is not None else int(np.diff(indptr).max(initial=2)) - 1
    examined = 0
    result = None
    shorter_fits = False
    projections: dict[int, _Ranks] = {}  # lift tries every bar at the same floor
    for bar, floor in [*_bars(kind, item_counts, n, min_count), (None, min_count)]:
        if floor not in projections:
            projections[floor] = _ranks(indptr, indices, keep_row, item_counts, floor)
        result = _run(
            kind,
            sort_by,
            projections[floor],
            n,
            k,
            floor,
            max(max_ante, 1),
            min_confidence,
            min_lift,
            max_p_value,
            consequent_ok,
            antecedent_ok,
            cap - examined,
            bar if bar is not None else (0.0, 0, 0),
        )
        examined += result.examined
        shorter_fits = bar is None or result.filled == k
        if not result.complete or len(result.count) == k:
            break
    assert result is not None
    return TopRules(
        result.consequent,
        result.antecedents,
        result.count,
        result.antecedent_count,
        examined,
        result.complete,
        result.longest_done,
        shorter_fits,
        result.filled,
    )


def _bars(
    kind: int, item_counts: np.ndarray, n: int, min_count: int
) -> list[tuple[tuple[float, int, int], int]]:
    """Guessed bars ``((key, count, length), floor)``, highest first.

    A bar is the ranking tuple of a rule the k-th rule is hoped to beat; ``floor``
    is the basket count every rule above the bar has (a cheaper projection).
    """
    top = int(item_counts.max(initial=0))
    counts = [c for c in sorted(_FLOORS, reverse=True) if min_count < c <= top]
    longest = 1 << 30
    if kind == topk_kernel.KEY_LIFT:
        # Consequents of at most c baskets: the best lift such a rule can reach.
        return [
            ((topk_kernel.rule_key(kind, c, c, c, n), min_count, longest), min_count)
            for c in reversed(counts)
        ]
    # Confidence, count or support: the best key a rule of c baskets can reach.
    return [((topk_kernel.rule_key(kind, c, c, c, n), c, longest), c) for c in counts]


@dataclass(frozen=True)
class _Ranks:
    """Frequent items as ranks (ascending count), baskets as rank lists, items as basket lists."""

    frequent: np.ndarray
    counts: np.ndarray
    row_ptr: np.ndarray
    row_items: np.ndarray
    col_ptr: np.ndarray
    col_tids: np.ndarray


def _ranks(
    indptr: np.ndarray,
    indices: np.ndarray,
    keep_row: np.ndarray,
    item_counts: np.ndarray,
    min_count: int,
) -> _Ranks:
    candidates = np.flatnonzero(item_counts >= min_count)
    frequent = candidates[np.lexsort((candidates, item_counts[candidates]))]
    n_ranks = len(frequent)
    rank_of = np.full(len(item_counts), -1, np.int32)
    rank_of[frequent] = np.arange(n_ranks, dtype=np.int32)
    row_ptr, row_items, col_ptr, col_tids = eclat.project(
        indptr, indices, rank_of, n_ranks, keep_row
    )
    counts = item_counts[frequent].astype(np.int64)
    return _Ranks(frequent, counts, row_ptr, row_items, col_ptr, col_tids)


def _run(
    kind: int,
    sort_by: str,
    ranks: _Ranks,
    n: int,
    k: int,
    min_count: int,
    max_ante: int,
    min_confidence: float,
    min_lift: float | None,
    max_p_value: float | None,
    consequent_ok: np.ndarray | None,
    antecedent_ok: np.ndarray | None,
    cap: int,
    floor: tuple[float, int, int],
) -> TopRules:
    frequent, counts = ranks.frequent, ranks.counts
    n_ranks = len(frequent)
    empty = np.empty(0, np.int64)
    if n_ranks == 0:
        return TopRules(empty, np.empty((0, 1), np.int64), empty, empty, 0, True, 0)
    # Each consequent's bound, as the kernel computes it (a confidence-1 rule of its count).
    bound = np.array([topk_kernel.rule_key(kind, c, c, c, n) for c in counts.tolist()])
    cons_order = np.lexsort((np.arange(n_ranks), -counts, -bound)).astype(np.int64)
    all_ok = np.ones(n_ranks, np.bool_)
    cons_ok = consequent_ok[frequent] if consequent_ok is not None else all_ok
    ante_ok = antecedent_ok[frequent] if antecedent_ok is not None else all_ok
    consequent, antecedents, count, antecedent_count, examined, status, rounds, filled = (
        topk_kernel.top_rules(
            k,
            kind,
            counts,
            frequent.astype(np.int64),
            ranks.row_ptr,
            ranks.row_items,
            ranks.col_ptr,
            ranks.col_tids,
            cons_order,
            np.ascontiguousarray(cons_ok, dtype=np.bool_),
            np.ascontiguousarray(ante_ok, dtype=np.bool_),
            n,
            min_count,
            max_ante,
            float(min_confidence),
            -math.inf if min_lift is None else float(min_lift),
            1.0 if max_p_value is None else float(max_p_value),
            max(cap, 0),
            *floor,
        )
    )
    return TopRules(
        consequent,
        antecedents,
        count,
        antecedent_count,
        int(examined),
        status == topk_kernel.DONE,
        int(rounds) + 1,
        filled=int(filled),
    )
