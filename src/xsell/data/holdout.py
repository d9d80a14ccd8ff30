"""Held-out queries and the masks that choose them: one home for evaluation and learned models.

Offline evaluation asks the test side of a split (:func:`basket_completion`,
:func:`next_basket`, :func:`item_to_item`); models that learn from held-out data
(the hybrid's weights, the re-ranker) hold out part of their *training* baskets
with :func:`latest_baskets_mask` or :func:`last_basket_mask` and ask them with
:func:`hide_one_item` or :func:`history_queries`. Only held-out items are ever in
``truth``; they are never in the context.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError

if TYPE_CHECKING:
    from xsell.data.splits import Split

HIDE_MODES: Final = ("one", "half")


@dataclass(frozen=True)
class Queries:
    """A batch of evaluation queries, aligned row by row.

    Attributes
    ----------
    protocol:
        Name of the protocol that made them.
    contexts:
        ``n x n_items`` binary CSR: the items a model may look at.
    users:
        ``n`` user indices (``-1`` when anonymous or not used by the protocol).
    truth:
        ``n x n_items`` binary CSR: the held-out items to find.
    groups:
        ``n`` test-basket indices (several queries may share a basket).
    exclude_context:
        Whether context items are removed from the suggestions (basket
        completion); next-basket keeps them since repeat purchases count.
    previous:
        ``n x n_items`` CSR of what the customer bought in training, when the
        protocol separates repeat from new items (next basket), else ``None``.
    """

    protocol: str
    contexts: sp.csr_matrix
    users: np.ndarray
    truth: sp.csr_matrix
    groups: np.ndarray
    exclude_context: bool = True
    previous: sp.csr_matrix | None = None

    def __len__(self) -> int:
        return int(self.contexts.shape[0])

    @property
    def n_relevant(self) -> np.ndarray:
        return np.diff(self.truth.indptr)


def _rows_to_csr(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_items: int) -> sp.csr_matrix:
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_rows, n_items)
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    matrix.sort_indices()
    return matrix


def _sample(
    candidates: np.ndarray, max_queries: int | None, rng: np.random.Generator
) -> np.ndarray:
    if max_queries is not None and max_queries < 1:
        raise ValidationError(f"max_queries must be at least 1, got {max_queries}")
    if max_queries is None or len(candidates) <= max_queries:
        return candidates
    return np.sort(rng.choice(candidates, size=max_queries, replace=False))


def latest_baskets_mask(data: ShopData, share: float) -> np.ndarray:
    """The latest ``share`` of the baskets of ``data``: the held-out part of a learned blend.

    Baskets are ordered by time (baskets without a time count as earliest), then
    by their position in the data. Baskets at the same instant as the first
    held-out basket are held out with it, so that no fitting basket is later
    than, or simultaneous with, a held-out one.
    """
    n = data.n_baskets
    n_val = int(np.floor(n * share))
    times = _times(data)
    order = np.lexsort((np.arange(n), times))
    mask = np.zeros(n, dtype=bool)
    if n_val:
        mask[order[n - n_val :]] = True
        cut = times[order[n - n_val]]
        if cut != np.iinfo(np.int64).min:
            mask |= times == cut
    return mask


def last_basket_mask(data: ShopData, min_baskets: int = 2) -> np.ndarray:
    """Each customer's last basket (by time, then position) when they have ``min_baskets``+."""
    users = data.basket_user
    times = _times(data)
    known = np.flatnonzero(users >= 0)
    order = known[np.lexsort((known, times[known], users[known]))]
    mask = np.zeros(len(users), dtype=bool)
    if len(order) == 0:
        return mask
    ordered = users[order]
    last = np.r_[ordered[1:] != ordered[:-1], True]
    counts = np.bincount(ordered, minlength=int(ordered.max()) + 1)
    mask[order[last & (counts[ordered] >= min_baskets)]] = True
    return mask


def hide_one_item(
    data: ShopData, mask: np.ndarray, max_queries: int, seed: int
) -> tuple[list[list[int]], np.ndarray, np.ndarray]:
    """Held-out baskets as queries with one random item hidden: (contexts, users, hidden).

    Only baskets of ``mask`` with two or more items qualify; at most ``max_queries``
    of them, a seeded sample.
    """
    rng = np.random.default_rng(seed)
    matrix = data.basket_item
    baskets = _sample(np.flatnonzero(mask & (np.diff(matrix.indptr) >= 2)), max_queries, rng)
    contexts: list[list[int]] = []
    hidden = np.empty(len(baskets), dtype=np.int64)
    for j, b in enumerate(baskets):
        items = matrix.indices[matrix.indptr[b] : matrix.indptr[b + 1]]
        pick = int(rng.integers(len(items)))
        hidden[j] = items[pick]
        contexts.append(np.delete(items, pick).tolist())
    return contexts, data.basket_user[baskets].astype(np.int64), hidden


def history_queries(
    data: ShopData, fit_part: ShopData, mask: np.ndarray, max_queries: int, seed: int
) -> tuple[sp.csr_matrix, np.ndarray, sp.csr_matrix]:
    """Held-out baskets asked with everything their customer bought in ``fit_part``.

    Returns (contexts, user indices, truth); at most ``max_queries``, a seeded sample.
    """
    rng = np.random.default_rng(seed)
    baskets = _sample(np.flatnonzero(mask), max_queries, rng)
    users = data.basket_user[baskets].astype(np.int64)
    history = sp.csr_matrix(fit_part.user_item[users], dtype=np.float32)
    history.data[:] = 1.0
    truth = sp.csr_matrix(data.basket_item[baskets], dtype=np.float32)
    return history, users, truth


def _times(data: ShopData) -> np.ndarray:
    """Basket times as int64 nanoseconds, baskets without a time first."""
    times = data.basket_time.astype("datetime64[ns]").astype(np.int64)
    return np.where(np.isnat(data.basket_time), np.iinfo(np.int64).min, times)


def basket_completion(
    split: Split,
    hide: str = "one",
    max_queries: int | None = None,
    seed: int = 0,
) -> Queries:
    """Complete the basket: hide items of each test basket, query with the rest and the customer.

    Parameters
    ----------
    split:
        Train/test split; the model is fitted on ``split.train`` only, so the
        customer's history it knows is the history before the split.
    hide:
        ``"one"`` hides one random item per basket, ``"half"`` hides
        ``floor(size / 2)`` random items (the rest stay visible).
    max_queries:
        At most this many test baskets, a seeded random sample.
    seed:
        Seeds the sample and the choice of hidden items.

    Only test baskets with at least two distinct items can be asked (one to
    show, one to hide).
    """
    if hide not in HIDE_MODES:
        raise ValidationError(f"hide must be one of {list(HIDE_MODES)}, got {hide!r}")
    rng = np.random.default_rng(seed)
    baskets = split.test.basket_item
    sizes = np.diff(baskets.indptr)
    chosen = _sample(np.flatnonzero(sizes >= 2), max_queries, rng)
    sub = baskets[chosen]
    sub.sort_indices()
    sizes = np.diff(sub.indptr)
    row_of = np.repeat(np.arange(len(chosen)), sizes)
    # Shuffle items inside each basket; the first n_hide of each row are hidden.
    order = np.lexsort((rng.random(sub.nnz), row_of))
    position = np.empty(sub.nnz, dtype=np.int64)
    position[order] = np.arange(sub.nnz) - np.repeat(sub.indptr[:-1], sizes)
    n_hide = np.ones(len(chosen), dtype=np.int64) if hide == "one" else np.maximum(sizes // 2, 1)
    hidden = position < n_hide[row_of]
    n_items = sub.shape[1]
    return Queries(
        protocol="basket-completion",
        contexts=_rows_to_csr(row_of[~hidden], sub.indices[~hidden], len(chosen), n_items),
        users=split.test.basket_user[chosen].astype(np.int64),
        truth=_rows_to_csr(row_of[hidden], sub.indices[hidden], len(chosen), n_items),
        groups=chosen.astype(np.int64),
        exclude_context=True,
    )


def next_basket(split: Split, max_queries: int | None = None, seed: int = 0) -> Queries:
    """Predict each customer's next basket after training from their training history.

    With a last-basket split this is each customer's last basket. The query's
    context is everything the customer bought in training, and context items
    stay allowed (repeat purchases are real targets); ``previous`` lets the
    metrics report repeat-item and new-item recall apart.
    """
    rng = np.random.default_rng(seed)
    test = split.test
    history = split.train.user_item
    users = test.basket_user
    times = test.basket_time.astype(np.int64)
    known = np.flatnonzero(users >= 0)
    # The first test basket of each customer (by time, then basket order).
    order = known[np.lexsort((known, times[known], users[known]))]
    first = order[np.r_[True, users[order][1:] != users[order][:-1]]] if len(order) else order
    # Users share one id map across the split, so every index is a row of ``history``.
    has_history = np.diff(history.indptr)[users[first]] > 0
    first = _sample(first[has_history], max_queries, rng)
    query_users = users[first].astype(np.int64)
    past = history[query_users]
    past = sp.csr_matrix(
        (np.ones(past.nnz, np.float32), past.indices, past.indptr), shape=past.shape
    )
    past.sort_indices()
    truth = test.basket_item[first]
    truth = sp.csr_matrix(truth, dtype=np.float32)
    truth.sort_indices()
    return Queries(
        protocol="next-basket",
        contexts=past,
        users=query_users,
        truth=truth,
        groups=first.astype(np.int64),
        exclude_context=False,
        previous=past,
    )


def item_to_item(split: Split, max_queries: int | None = None, seed: int = 0) -> Queries:
    """For each item of a test basket, the basket's other items are the answer (a product page).

    Queries carry no customer: a product page is the same for everybody.
    """
    rng = np.random.default_rng(seed)
    baskets = split.test.basket_item
    sizes = np.diff(baskets.indptr)
    eligible = np.flatnonzero(sizes >= 2)
    row_of = np.repeat(np.arange(baskets.shape[0]), sizes)
    entries = np.flatnonzero(np.isin(row_of, eligible))
    entries = _sample(entries, max_queries, rng)
    basket = row_of[entries]
    seed_item = baskets.indices[entries]
    n = len(entries)
    n_items = baskets.shape[1]
    contexts = _rows_to_csr(np.arange(n), seed_item, n, n_items)
    full = baskets[basket]
    truth = sp.csr_matrix(full - full.multiply(contexts))
    truth.eliminate_zeros()
    truth.sort_indices()
    return Queries(
        protocol="item-to-item",
        contexts=contexts,
        users=np.full(n, -1, dtype=np.int64),
        truth=sp.csr_matrix(truth, dtype=np.float32),
        groups=basket.astype(np.int64),
        exclude_context=True,
    )
