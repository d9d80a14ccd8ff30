"""Customers' baskets in time order, and the examples the deep models learn from (NumPy only).

A *next-basket example* asks for the items of a customer's basket ``t`` from
what they bought in baskets ``0 .. t-1``; a *cart example* hides part of one
basket and asks for the rest from the visible part (the cart) and the
customer's earlier baskets. Validation examples are each customer's last
training basket, never trained on (see :func:`split_positions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.models._sparse import prune_rows

#: Customer features: usual days between orders, orders so far, mean order value (log1p each).
RFM_FEATURES: Final = ("gap_days", "orders", "order_value")
_DAY: Final = np.timedelta64(1, "D")


@dataclass(frozen=True)
class Timeline:
    """Baskets of known customers in time order.

    ``baskets[starts[u] : starts[u] + counts[u]]`` are customer ``u``'s baskets,
    oldest first; ``days`` is every basket's time in days (NaN when unknown) and
    ``value`` its total price.
    """

    baskets: np.ndarray
    starts: np.ndarray
    counts: np.ndarray
    days: np.ndarray
    value: np.ndarray

    @classmethod
    def of(cls, data: ShopData) -> Timeline:
        users = data.basket_user.astype(np.int64)
        stamps = data.basket_time.astype("datetime64[ns]")
        known_time = ~np.isnat(stamps)
        origin = stamps[known_time].min() if known_time.any() else np.datetime64(0, "ns")
        days = np.full(len(users), np.nan)
        days[known_time] = (stamps[known_time] - origin) / _DAY
        known = np.flatnonzero(users >= 0)
        order = known[np.lexsort((known, np.nan_to_num(days[known], nan=-1.0), users[known]))]
        counts = np.bincount(users[order], minlength=data.n_users).astype(np.int64)
        starts = np.r_[0, np.cumsum(counts)[:-1]].astype(np.int64)
        lines = data.lines
        spent = np.nan_to_num(lines["price"].to_numpy(np.float64)) * lines["quantity"].to_numpy(
            np.float64
        )
        value = np.bincount(lines["basket"].to_numpy(), weights=spent, minlength=len(users))
        return cls(order, starts, counts, days, value)

    def basket(self, user: int, position: int) -> int:
        return int(self.baskets[self.starts[user] + position])


@dataclass(frozen=True)
class Examples:
    """Examples aligned row by row (all CSR matrices are ``examples x items``).

    Attributes
    ----------
    history:
        Time-decayed earlier purchases, the ``max_history`` strongest kept, rows summing to 1.
    seen:
        Every item bought before (binary): what "new" is measured against.
    cart:
        The visible part of the basket (binary, rows summing to 1; empty for next basket).
    rfm:
        ``examples x 3`` customer features (:data:`RFM_FEATURES`, log1p).
    targets:
        The items to find (binary).
    """

    history: sp.csr_matrix
    seen: sp.csr_matrix
    cart: sp.csr_matrix
    rfm: np.ndarray
    targets: sp.csr_matrix

    def __len__(self) -> int:
        return int(self.targets.shape[0])


def split_positions(
    timeline: Timeline, max_targets: int, max_validation: int, rng: np.random.Generator
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(users, positions) of the training and of the validation next-basket examples.

    Validation: the last basket of up to ``max_validation`` customers with two or
    more baskets (a seeded sample). Training: each customer's latest
    ``max_targets`` baskets before that (or before the end), each with at least
    one earlier basket.
    """
    returning = np.flatnonzero(timeline.counts >= 2)
    chosen = (
        np.sort(rng.choice(returning, max_validation, replace=False))
        if len(returning) > max_validation
        else returning
    )
    held = np.zeros(len(timeline.counts), dtype=bool)
    held[chosen] = True
    usable = timeline.counts - held  # baskets that may be trained on
    first = np.maximum(1, usable - max_targets)
    n = np.maximum(usable - first, 0)
    train_users = np.repeat(np.arange(len(usable)), n)
    offsets = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    train_positions = np.repeat(first, n) + offsets
    return (train_users, train_positions), (chosen, timeline.counts[chosen] - 1)


def cart_positions(
    data: ShopData,
    timeline: Timeline,
    exclude: np.ndarray,
    n: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Up to ``n`` baskets with two or more items for cart examples: (baskets, users, positions).

    Baskets in ``exclude`` (validation) are left out; anonymous baskets qualify
    with position 0 (no earlier basket).
    """
    sizes = np.diff(data.basket_item.indptr)
    position = np.zeros(data.n_baskets, dtype=np.int64)
    order = timeline.baskets
    owner = data.basket_user.astype(np.int64)
    position[order] = np.arange(len(order)) - np.repeat(timeline.starts, timeline.counts)
    eligible = sizes >= 2
    eligible[exclude] = False
    pool = np.flatnonzero(eligible)
    picked = np.sort(rng.choice(pool, min(n, len(pool)), replace=False)) if n > 0 else pool[:0]
    return picked, owner[picked], position[picked]


def build_examples(
    data: ShopData,
    timeline: Timeline,
    users: np.ndarray,
    positions: np.ndarray,
    *,
    half_life_days: float | None,
    max_history: int,
    newest_share: float = 0.0,
    carts: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    reference_day: float | None = None,
) -> Examples:
    """Examples for customer ``users[e]`` asked at their basket ``positions[e]``.

    The history is baskets ``0 .. position - 1`` (``users[e] == -1``: none), each
    weighted ``0.5 ** (age / half_life_days)`` with the age counted to the asked
    basket (or to ``reference_day`` when given), the weights of one example
    summing to 1 - ``newest_share``; the newest earlier basket gets
    ``newest_share`` on top (what was bought last says most about what comes
    next). ``carts[e]`` is a basket whose
    items are split at random into a cart and the targets; without ``carts`` the
    targets are basket ``positions[e]`` itself (``positions[e] == counts[u]``:
    no target, for scoring the future).
    """
    n = len(users)
    known = users >= 0
    u = np.maximum(users, 0)
    prior = np.where(known, positions, 0)
    pair_example = np.repeat(np.arange(n), prior)
    offsets = np.arange(int(prior.sum())) - np.repeat(np.cumsum(prior) - prior, prior)
    pair_basket = timeline.baskets[np.repeat(timeline.starts[u], prior) + offsets]
    asked_basket = np.where(
        known & (positions < timeline.counts[u]),
        timeline.baskets[np.minimum(timeline.starts[u] + positions, len(timeline.baskets) - 1)],
        -1,
    )
    if carts is not None:
        asked_basket = np.asarray(carts, dtype=np.int64)
    if reference_day is not None:
        asked_day = np.full(n, float(reference_day))
    else:
        asked_day = np.where(asked_basket >= 0, timeline.days[np.maximum(asked_basket, 0)], np.nan)
    age = np.repeat(asked_day, prior) - timeline.days[pair_basket]
    weight = np.ones(len(pair_basket))
    if half_life_days:
        weight = np.where(np.isfinite(age), 0.5 ** (np.maximum(age, 0.0) / half_life_days), 1.0)
    if newest_share and len(weight):
        total = np.bincount(pair_example, weights=weight, minlength=n)
        weight = (1.0 - newest_share) * weight / total[pair_example]
        newest = offsets == np.repeat(prior - 1, prior)
        weight[newest] += newest_share
    pairs = sp.csr_matrix((weight, (pair_example, pair_basket)), shape=(n, data.n_baskets))
    decayed = sp.csr_matrix(pairs @ data.basket_item, dtype=np.float64)
    seen = decayed.copy()
    seen.data[:] = 1.0
    history = _rows_sum_to_one(prune_rows(decayed, max_history))
    rfm = _rfm(timeline, u, prior)
    rfm[~known] = 0.0
    basket_item = data.basket_item
    if carts is None:
        rows = np.where(asked_basket >= 0, asked_basket, 0)
        targets = sp.csr_matrix(basket_item[rows], dtype=np.float64)
        targets = sp.csr_matrix(sp.diags((asked_basket >= 0).astype(np.float64)) @ targets)
        targets.eliminate_zeros()
        empty = sp.csr_matrix((n, data.n_items), dtype=np.float64)
        return Examples(history, seen, empty, rfm, targets)
    assert rng is not None
    cart_rows, target_rows = [], []
    for b in asked_basket:
        items = basket_item.indices[basket_item.indptr[b] : basket_item.indptr[b + 1]]
        shuffled = rng.permutation(items)
        cut = max(1, len(items) // 2)
        cart_rows.append(shuffled[:cut])
        target_rows.append(shuffled[cut:])
    return Examples(
        history,
        seen,
        _rows_sum_to_one(_binary_rows(cart_rows, data.n_items)),
        rfm,
        _binary_rows(target_rows, data.n_items),
    )


def concat(parts: list[Examples]) -> Examples:
    """One set of examples from several (rows stacked in order)."""
    return Examples(
        sp.csr_matrix(sp.vstack([p.history for p in parts])),
        sp.csr_matrix(sp.vstack([p.seen for p in parts])),
        sp.csr_matrix(sp.vstack([p.cart for p in parts])),
        np.vstack([p.rfm for p in parts]),
        sp.csr_matrix(sp.vstack([p.targets for p in parts])),
    )


def new_only(targets: sp.csr_matrix, seen: sp.csr_matrix) -> sp.csr_matrix:
    """``targets`` without the items already ``seen`` (the new items of each example)."""
    kept = sp.csr_matrix(targets - targets.multiply(seen))
    kept.eliminate_zeros()
    return kept


def _rfm(timeline: Timeline, users: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """log1p of the usual gap, the order count and the mean value of each example's prior orders."""
    value = timeline.value[timeline.baskets]
    days = timeline.days[timeline.baskets]
    cumulative = np.r_[0.0, np.cumsum(value)]
    first = timeline.starts[users]
    last = first + np.maximum(prior, 1) - 1
    spent = cumulative[first + prior] - cumulative[first]
    mean_value = np.divide(spent, prior, out=np.zeros(len(prior)), where=prior > 0)
    valid = len(days) > 0
    span = (
        np.nan_to_num(
            days[np.minimum(last, len(days) - 1)] - days[np.minimum(first, len(days) - 1)]
        )
        if valid
        else np.zeros(len(prior))
    )
    gap = np.divide(span, prior - 1, out=np.zeros(len(prior)), where=prior > 1)
    return np.log1p(np.column_stack([np.maximum(gap, 0.0), prior, np.maximum(mean_value, 0.0)]))


def _rows_sum_to_one(matrix: sp.csr_matrix) -> sp.csr_matrix:
    matrix = sp.csr_matrix(matrix, dtype=np.float64)
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    return sp.csr_matrix(sp.diags(scale) @ matrix)


def _binary_rows(rows: list[np.ndarray], n_items: int) -> sp.csr_matrix:
    indptr = np.r_[0, np.cumsum([len(r) for r in rows])].astype(np.int64)
    indices = np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, np.int64)
    out = sp.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(len(rows), n_items))
    out.sort_indices()
    return out
