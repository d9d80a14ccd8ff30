"""Ranking and business metrics over a top-k matrix, every one vectorised.

Shapes used throughout:

- ``recs``: ``n x k`` int array of recommended item indices per query, best first,
  ``-1`` where a model had fewer than ``k`` suggestions (a ``-1`` is never a hit);
- ``hits``: ``n x k`` bool array, ``hits[q, r]`` true when the item at rank
  ``r + 1`` of query ``q`` is relevant (see :func:`hit_matrix`);
- ``n_relevant``: ``n`` int array, how many relevant (held-out) items query ``q`` has.

Per-query metrics return an ``n`` float array; :func:`summarize` averages them.
Queries with no relevant item must be dropped before (the protocols never make one).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def hit_matrix(recs: np.ndarray, truth: sp.csr_matrix) -> np.ndarray:
    """Which recommendations are relevant: ``hits[q, r] = truth[q, recs[q, r]] != 0``.

    Parameters
    ----------
    recs:
        ``n x k`` recommended item indices (``-1`` padded).
    truth:
        ``n x n_items`` CSR, non-zero where an item is relevant for the query.
    """
    recs = np.asarray(recs, dtype=np.int64)
    n, k = recs.shape
    truth = sp.csr_matrix(truth, copy=True)
    truth.sum_duplicates()
    truth.eliminate_zeros()
    n_items = truth.shape[1]
    # Relevant (query, item) pairs as one sorted key each, looked up in one searchsorted.
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(truth.indptr))
    keys = rows * n_items + truth.indices.astype(np.int64)
    wanted = np.arange(n, dtype=np.int64)[:, None] * n_items + np.maximum(recs, 0)
    pos = np.searchsorted(keys, wanted)
    found = (
        keys[np.minimum(pos, max(len(keys) - 1, 0))] == wanted
        if len(keys)
        else np.zeros((n, k), dtype=bool)
    )
    return np.asarray(found & (recs >= 0), dtype=bool).reshape(n, k)


def precision_at_k(hits: np.ndarray, k: int) -> np.ndarray:
    """Precision@k = |relevant in top k| / k (a padded ``-1`` slot counts as a miss)."""
    return np.asarray(hits[:, :k].sum(axis=1) / float(k), dtype=np.float64)


def recall_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Recall@k = |relevant in top k| / |relevant|."""
    return hits[:, :k].sum(axis=1) / np.maximum(n_relevant, 1)


def f1_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """F1@k = 2 P R / (P + R) per query (0 when both are 0); P, R are precision and recall@k."""
    p = precision_at_k(hits, k)
    r = recall_at_k(hits, n_relevant, k)
    total = p + r
    return np.divide(2 * p * r, total, out=np.zeros_like(total), where=total > 0)


def hit_rate_at_k(hits: np.ndarray, k: int) -> np.ndarray:
    """HitRate@k = 1 if any relevant item is in the top k, else 0."""
    return np.asarray(hits[:, :k].any(axis=1), dtype=np.float64)


def ndcg_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """NDCG@k = DCG / IDCG with binary gains.

    ``DCG = sum_{r=1..k} hit_r / log2(r + 1)`` and
    ``IDCG = sum_{r=1..min(|rel|, k)} 1 / log2(r + 1)``.
    """
    k = min(k, hits.shape[1])
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits[:, :k] * discounts).sum(axis=1)
    ideal_cum = np.concatenate([[0.0], np.cumsum(discounts)])
    idcg = ideal_cum[np.minimum(np.asarray(n_relevant, dtype=np.int64), k)]
    return np.divide(dcg, idcg, out=np.zeros_like(dcg), where=idcg > 0)


def average_precision_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """AP@k = (1 / min(|rel|, k)) * sum_{r=1..k} P@r * hit_r; MAP@k is its mean over queries."""
    h = hits[:, :k].astype(np.float64)
    precision_at_r = np.cumsum(h, axis=1) / np.arange(1, h.shape[1] + 1)
    denom = np.minimum(np.asarray(n_relevant, dtype=np.float64), k)
    total = (precision_at_r * h).sum(axis=1)
    return np.divide(total, denom, out=np.zeros_like(total), where=denom > 0)


def reciprocal_rank_at_k(hits: np.ndarray, k: int) -> np.ndarray:
    """RR@k = 1 / rank of the first relevant item in the top k (0 when none); MRR is its mean."""
    h = hits[:, :k]
    first = h.argmax(axis=1)
    return np.where(h.any(axis=1), 1.0 / (first + 1), 0.0)


def catalog_coverage(recs: np.ndarray, n_items: int, k: int) -> float:
    """Coverage@k = |distinct items recommended in any top k| / n_items."""
    top = recs[:, :k]
    return float(np.unique(top[top >= 0]).size / n_items) if n_items else 0.0


def novelty_at_k(recs: np.ndarray, item_count: np.ndarray, n_baskets: int, k: int) -> np.ndarray:
    """Novelty@k: mean self-information ``-log2((count_i + 1) / (n_baskets + 1))`` of the top k.

    ``count_i`` is in how many training baskets item ``i`` appears; the +1 keeps
    never-sold items finite. Higher means less obvious suggestions. Queries with
    an empty list get 0.
    """
    top = recs[:, :k]
    valid = top >= 0
    info = -np.log2((np.asarray(item_count, dtype=np.float64) + 1.0) / (n_baskets + 1.0))
    values = np.where(valid, info[np.maximum(top, 0)], 0.0)
    count = valid.sum(axis=1)
    return np.divide(values.sum(axis=1), count, out=np.zeros(len(top)), where=count > 0)


def category_diversity_at_k(recs: np.ndarray, item_category: np.ndarray, k: int) -> np.ndarray:
    """Category diversity@k = |distinct known categories in list| / |listed items with a category|.

    ``item_category`` holds an integer code per item, ``-1`` when unknown (those
    items are left out). 1.0 means every suggestion is from a different
    category; lists without any known category get NaN (ignored by :func:`summarize`).
    """
    top = recs[:, :k]
    codes = np.where(top >= 0, np.asarray(item_category)[np.maximum(top, 0)], -1)
    known = codes >= 0
    ordered = np.sort(np.where(known, codes, -1), axis=1)
    new_value = np.ones_like(ordered, dtype=bool)
    new_value[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    distinct = (new_value & (ordered >= 0)).sum(axis=1)
    n_known = known.sum(axis=1)
    return np.divide(distinct, n_known, out=np.full(len(top), np.nan), where=n_known > 0).astype(
        np.float64
    )


def popularity_bias_at_k(
    recs: np.ndarray, item_count: np.ndarray, n_baskets: int, k: int
) -> np.ndarray:
    """Average recommendation popularity ARP@k: mean share of train baskets holding a listed item.

    ``ARP = mean_{i in top k} count_i / n_baskets``; popularity gives the
    highest value, a long-tail recommender a low one. Empty lists get NaN.
    """
    top = recs[:, :k]
    valid = top >= 0
    share = np.asarray(item_count, dtype=np.float64) / max(n_baskets, 1)
    values = np.where(valid, share[np.maximum(top, 0)], 0.0)
    count = valid.sum(axis=1)
    return np.divide(values.sum(axis=1), count, out=np.full(len(top), np.nan), where=count > 0)


def hit_revenue_at_k(
    hits: np.ndarray, recs: np.ndarray, item_price: np.ndarray, k: int
) -> np.ndarray:
    """Revenue of hits@k per query = sum of the prices of the relevant items in the top k.

    Unknown (NaN) prices count as 0. Its mean is the revenue a shop would have
    made per query had every hit been bought once at its catalog price.
    """
    price = np.nan_to_num(np.asarray(item_price, dtype=np.float64), nan=0.0)
    top = recs[:, :k]
    return np.where(hits[:, :k], price[np.maximum(top, 0)], 0.0).sum(axis=1)


def hit_margin_at_k(
    hits: np.ndarray, recs: np.ndarray, item_margin: np.ndarray, k: int
) -> np.ndarray:
    """Margin of hits@k per query = sum of the unit margins of the relevant items in the top k.

    Unknown (NaN) margins count as 0; a loss-making item's negative margin counts
    as it is. The margin twin of :func:`hit_revenue_at_k`.
    """
    return hit_revenue_at_k(hits, recs, item_margin, k)


def attach_rate_at_k(hits: np.ndarray, groups: np.ndarray, k: int) -> float:
    """Attach rate@k = share of baskets (``groups``) where some query had a hit in its top k.

    ``groups`` gives the basket of each query; with one query per basket it
    equals the hit rate, with several (item-to-item, hide-half) it counts baskets.
    """
    groups = np.asarray(groups)
    if len(groups) == 0:
        return 0.0
    codes, inverse = np.unique(groups, return_inverse=True)
    any_hit = np.zeros(len(codes), dtype=bool)
    np.logical_or.at(any_hit, inverse, hits[:, :k].any(axis=1))
    return float(any_hit.mean())


def summarize(values: np.ndarray) -> float:
    """Mean of per-query values, ignoring NaN (0.0 for no values)."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else 0.0
