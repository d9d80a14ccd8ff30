"""Learning a :class:`~xsell.models.slots.SlotSplit` on held-out baskets of the training data.

Each customer's last training basket is held out; a copy of the model with the
same hyper-parameters is fitted on the rest and asked, for each held-out
customer, its ``k`` best repeat items and its ``k`` best new items (the repeat
and explore modes of :func:`~xsell.models.ranking.rank`). For every customer
group (quantiles of the repeat rate) and every number of new slots from 0 to
``k``, the composed list's recall of the held-out basket is averaged; the share
with the highest recall wins (ties: the larger share, more cross-sell for the
same recall). A hit on a new item counts ``new_weight`` hits: ranked by recall
alone (``new_weight=1``) the held-out baskets of a shop with loyal customers
almost always favour one more repeat item, and the list collapses into repeats
again; the default 2 says that suggesting an item the customer never bought is
worth twice reminding them of one they buy anyway.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from xsell.data.holdout import history_queries, last_basket_mask
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.models.ranking import Batch, rank, top_items
from xsell.models.slots import SlotSplit, new_taken, repeat_rates

if TYPE_CHECKING:
    from xsell.models.base import Recommender


def learn_slot_split(
    model: Recommender,
    data: ShopData,
    k: int = 10,
    groups: int = 4,
    max_queries: int = 5000,
    seed: int = 0,
    new_weight: float = 2.0,
) -> SlotSplit:
    """The share of ``k`` slots for new items, per repeat-rate group, that recalls most.

    Parameters
    ----------
    model:
        The model whose lists are split (its class and hyper-parameters are
        copied; the model itself is not refitted).
    data:
        Training data; its customers' last baskets are held out.
    k:
        List length to optimise (recall@k).
    groups:
        How many customer groups (quantiles of the repeat rate of held-out customers).
    max_queries:
        Most held-out customers asked (a seeded sample).
    new_weight:
        What a held-out new item found is worth, in held-out repeat items found.
    """
    model.require_fitted()
    if not new_weight > 0:
        raise ValidationError(f"new_weight must be a number > 0, got {new_weight!r}")
    if not 1 <= groups <= 20:
        raise ValidationError(f"groups must be from 1 to 20, got {groups}")
    mask = last_basket_mask(data)
    if int(mask.sum()) < 10:
        raise ValidationError(
            f"learning a slot split needs at least 10 customers with two or more baskets, "
            f"found {int(mask.sum())}"
        )
    fit_part = data.subset_baskets(~mask)
    clone = type(model)(**model.params()).fit(fit_part)
    contexts, users, truth = history_queries(data, fit_part, mask, max_queries, seed)
    history = sp.csr_matrix(fit_part.user_item[users])
    bought = [history.indices[history.indptr[r] : history.indptr[r + 1]] for r in range(len(users))]
    batch = Batch(contexts, users, bought=bought)
    repeat = top_items(rank(clone, batch, k, mode="repeat", exclude_cart=False), k)
    new = top_items(rank(clone, batch, k, mode="explore", exclude_cart=False), k)
    recall = _recall_by_share(repeat, new, truth, k, new_weight)
    rates = repeat_rates(fit_part.user_item, users)
    edges = tuple(float(e) for e in np.unique(np.quantile(rates, np.arange(1, groups) / groups)))
    group = np.searchsorted(np.asarray(edges), rates, side="right")
    shares = []
    for g in range(len(edges) + 1):
        mine = group == g
        mean = recall[mine].mean(axis=0) if mine.any() else recall.mean(axis=0)
        best = np.flatnonzero(mean >= mean.max() - 1e-12)[-1]
        shares.append(float(best) / k)
    return SlotSplit(edges, tuple(shares), k)


def _recall_by_share(
    repeat: np.ndarray, new: np.ndarray, truth: sp.csr_matrix, k: int, new_weight: float = 1.0
) -> np.ndarray:
    """``queries x (k + 1)`` recall@k of the list composed with ``s / k`` of the slots new."""
    repeat_hits = np.cumsum(np.c_[np.zeros(len(repeat)), _hits(repeat, truth)], axis=1)
    new_hits = np.cumsum(np.c_[np.zeros(len(new)), _hits(new, truth)], axis=1)
    n_repeat = (repeat >= 0).sum(axis=1)
    n_new = (new >= 0).sum(axis=1)
    relevant = np.maximum(np.diff(sp.csr_matrix(truth).indptr), 1)
    rows = np.arange(len(repeat))
    out = np.zeros((len(repeat), k + 1))
    for slots in range(k + 1):
        taken = np.array(
            [new_taken(slots / k, k, int(a), int(b)) for a, b in zip(n_repeat, n_new, strict=True)]
        )
        kept = np.minimum(n_repeat, k - taken)
        out[:, slots] = (new_weight * new_hits[rows, taken] + repeat_hits[rows, kept]) / relevant
    return out


def _hits(recs: np.ndarray, truth: sp.csr_matrix) -> np.ndarray:
    """``hits[q, r]``: whether item ``recs[q, r]`` is in row ``q`` of ``truth``."""
    truth = sp.csr_matrix(truth)
    truth.sort_indices()
    n_items = truth.shape[1]
    keys = np.repeat(np.arange(truth.shape[0], dtype=np.int64), np.diff(truth.indptr))
    keys = keys * n_items + truth.indices
    wanted = np.arange(len(recs), dtype=np.int64)[:, None] * n_items + np.maximum(recs, 0)
    if len(keys) == 0:
        return np.zeros(recs.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return (keys[pos] == wanted) & (recs >= 0)
