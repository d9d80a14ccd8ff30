"""Every metric against numbers worked out by hand on a three-query fixture, plus brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from xsell.evaluation import metrics as M

# Three queries, top-3 lists over 5 items; -1 pads a short list.
RECS = np.array([[3, 1, -1], [0, 2, 4], [2, 3, 0]])
RELEVANT = [{1, 4}, {0, 4}, {1}]
# Hand-read hits: q0 finds 1 at rank 2; q1 finds 0 at rank 1 and 4 at rank 3; q2 nothing.
HITS = np.array([[0, 1, 0], [1, 0, 1], [0, 0, 0]], dtype=bool)
N_REL = np.array([2, 2, 1])


def truth_matrix(sets: list[set[int]], n_items: int = 5) -> sp.csr_matrix:
    rows = [r for r, s in enumerate(sets) for _ in s]
    cols = [c for s in sets for c in sorted(s)]
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(sets), n_items))


def test_hit_matrix_reads_the_hand_hits() -> None:
    assert (M.hit_matrix(RECS, truth_matrix(RELEVANT)) == HITS).all()


def test_padding_is_never_a_hit_even_when_item_0_is_relevant() -> None:
    hits = M.hit_matrix(np.array([[-1, -1]]), truth_matrix([{0}], 3))
    assert not hits.any()


def test_precision_recall_f1() -> None:
    assert M.precision_at_k(HITS, 3) == pytest.approx([1 / 3, 2 / 3, 0])
    assert M.precision_at_k(HITS, 1) == pytest.approx([0, 1, 0])
    assert M.recall_at_k(HITS, N_REL, 3) == pytest.approx([1 / 2, 1, 0])
    assert M.recall_at_k(HITS, N_REL, 1) == pytest.approx([0, 1 / 2, 0])
    # q0: 2 * (1/3)(1/2) / (1/3 + 1/2) = 2/5; q1: 2 * (2/3)(1) / (5/3) = 4/5.
    assert M.f1_at_k(HITS, N_REL, 3) == pytest.approx([2 / 5, 4 / 5, 0])


def test_hit_rate_and_reciprocal_rank() -> None:
    assert M.hit_rate_at_k(HITS, 3) == pytest.approx([1, 1, 0])
    assert M.hit_rate_at_k(HITS, 1) == pytest.approx([0, 1, 0])
    assert M.reciprocal_rank_at_k(HITS, 3) == pytest.approx([1 / 2, 1, 0])
    assert M.reciprocal_rank_at_k(HITS, 1) == pytest.approx([0, 1, 0])


def test_ndcg() -> None:
    ideal_two = 1 + 1 / math.log2(3)
    expected = [(1 / math.log2(3)) / ideal_two, (1 + 1 / math.log2(4)) / ideal_two, 0.0]
    assert M.ndcg_at_k(HITS, N_REL, 3) == pytest.approx(expected)
    # At k=1 the ideal list has one slot: q1's first item is a hit, so 1.0.
    assert M.ndcg_at_k(HITS, N_REL, 1) == pytest.approx([0, 1, 0])


def test_average_precision() -> None:
    # q0: P@2 = 1/2 at its hit, divided by min(2, 3) = 2 -> 1/4.
    # q1: P@1 = 1 and P@3 = 2/3 at its hits, divided by 2 -> 5/6.
    assert M.average_precision_at_k(HITS, N_REL, 3) == pytest.approx([1 / 4, 5 / 6, 0])
    assert M.average_precision_at_k(HITS, N_REL, 1) == pytest.approx([0, 1, 0])


def test_catalog_coverage() -> None:
    # Items listed anywhere in the top 3: {0, 1, 2, 3, 4} of a 10-item catalog.
    assert M.catalog_coverage(RECS, 10, 3) == pytest.approx(0.5)
    # Top 1: {3, 0, 2}.
    assert M.catalog_coverage(RECS, 10, 1) == pytest.approx(0.3)


COUNTS = np.array([10, 5, 0, 1, 3])  # baskets holding each item, of 19 training baskets


def test_novelty() -> None:
    def info(i: int) -> float:
        return -math.log2((COUNTS[i] + 1) / 20)

    expected = [
        (info(3) + info(1)) / 2,  # the -1 slot is left out
        (info(0) + info(2) + info(4)) / 3,
        (info(2) + info(3) + info(0)) / 3,
    ]
    assert M.novelty_at_k(RECS, COUNTS, 19, 3) == pytest.approx(expected)


def test_popularity_bias() -> None:
    expected = [(1 + 5) / 2 / 19, (10 + 0 + 3) / 3 / 19, (0 + 1 + 10) / 3 / 19]
    assert M.popularity_bias_at_k(RECS, COUNTS, 19, 3) == pytest.approx(expected)


def test_category_diversity() -> None:
    categories = np.array([0, 0, 1, -1, 1])
    # q0: item 3 unknown, item 1 in cat 0 -> 1/1; q1: cats 0, 1, 1 -> 2/3; q2: cats 1, -, 0 -> 2/2.
    assert M.category_diversity_at_k(RECS, categories, 3) == pytest.approx([1, 2 / 3, 1])
    lonely = M.category_diversity_at_k(np.array([[3, -1]]), categories, 2)
    assert np.isnan(lonely).all() and M.summarize(lonely) == 0.0


def test_hit_revenue() -> None:
    prices = np.array([2.0, 3.0, np.nan, 1.0, 10.0])
    # q0 hits item 1 (3.0); q1 hits items 0 and 4 (2.0 + 10.0).
    assert M.hit_revenue_at_k(HITS, RECS, prices, 3) == pytest.approx([3.0, 12.0, 0.0])
    assert M.hit_revenue_at_k(HITS, RECS, prices, 1) == pytest.approx([0.0, 2.0, 0.0])


def test_attach_rate_counts_baskets_not_queries() -> None:
    # q0 and q1 ask about basket 7 (both hit), q2 about basket 8 (no hit): 1 of 2 baskets.
    assert M.attach_rate_at_k(HITS, np.array([7, 7, 8]), 3) == pytest.approx(0.5)
    assert M.attach_rate_at_k(HITS, np.array([7, 8, 8]), 3) == pytest.approx(1.0)
    assert M.attach_rate_at_k(HITS, np.array([7, 8, 8]), 1) == pytest.approx(0.5)


def _brute(recs: np.ndarray, relevant: list[set[int]], k: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"recall": [], "ndcg": [], "ap": [], "rr": []}
    for row, rel in zip(recs, relevant, strict=True):
        top = [int(i) for i in row[:k]]
        hit = [i >= 0 and i in rel for i in top]
        out["recall"].append(sum(hit) / len(rel))
        dcg = sum(1 / math.log2(r + 2) for r, h in enumerate(hit) if h)
        idcg = sum(1 / math.log2(r + 2) for r in range(min(len(rel), k)))
        out["ndcg"].append(dcg / idcg)
        found, ap = 0, 0.0
        for r, h in enumerate(hit):
            if h:
                found += 1
                ap += found / (r + 1)
        out["ap"].append(ap / min(len(rel), k))
        out["rr"].append(next((1 / (r + 1) for r, h in enumerate(hit) if h), 0.0))
    return out


def test_vectorised_metrics_equal_textbook_loops_on_random_lists() -> None:
    rng = np.random.default_rng(3)
    n, n_items, k = 200, 40, 10
    recs = np.array([rng.choice(n_items, size=k, replace=False) for _ in range(n)])
    recs[rng.random((n, k)) < 0.05] = -1
    relevant = [
        set(rng.choice(n_items, size=rng.integers(1, 8), replace=False).tolist()) for _ in range(n)
    ]
    hits = M.hit_matrix(recs, truth_matrix(relevant, n_items))
    n_rel = np.array([len(s) for s in relevant])
    for cut in (1, 5, 10):
        brute = _brute(recs, relevant, cut)
        assert M.recall_at_k(hits, n_rel, cut) == pytest.approx(brute["recall"])
        assert M.ndcg_at_k(hits, n_rel, cut) == pytest.approx(brute["ndcg"])
        assert M.average_precision_at_k(hits, n_rel, cut) == pytest.approx(brute["ap"])
        assert M.reciprocal_rank_at_k(hits, cut) == pytest.approx(brute["rr"])
