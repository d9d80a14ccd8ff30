"""A hand-checkable co-occurrence model that learns from live orders (test double).

Scores are plain pair counts, so every expected answer can be worked out by hand
or by brute force over the baskets; its ``_update`` hook adds new orders' pairs
(``Recommender.update`` grows the catalog, customers and histories).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.models.base import Recommender


@dataclass
class PairCounts(Recommender):
    name = "paircounts"

    counts_: sp.csr_matrix | None = field(default=None, init=False, repr=False)

    def _fit(self, data: ShopData) -> None:
        x = data.basket_item.astype(np.float64)
        pairs = (x.T @ x).tolil()
        pairs.setdiag(0)
        self.counts_ = pairs.tocsr()
        self.counts_.eliminate_zeros()

    def score(self, baskets: sp.csr_matrix, users: np.ndarray | None = None) -> np.ndarray:
        assert self.counts_ is not None
        scores = np.asarray((baskets.astype(np.float64) @ self.counts_).todense())
        scores[scores <= 0] = -np.inf
        return scores

    def reasons(self, context: Sequence[int], user: int, items: Sequence[int]) -> list[str]:
        assert self.counts_ is not None and self.items_ is not None
        if not context:
            return ["bought together in 0 orders"] * len(items)
        together = self.counts_[list(context)][:, list(items)].toarray()
        best = together.argmax(axis=0)
        names = self.items_.ids.to_external([context[b] for b in best])
        return [
            f"bought together in {int(together[b, n])} orders with {name}"
            for n, (b, name) in enumerate(zip(best, names, strict=True))
        ]

    def _update(self, baskets: sp.csr_matrix, users: np.ndarray) -> None:
        assert self.counts_ is not None
        n = baskets.shape[1]
        grown = self.counts_.tolil()
        grown.resize((n, n))
        x = baskets.astype(np.float64)
        pairs = (x.T @ x).tolil()
        pairs.setdiag(0)
        self.counts_ = (grown.tocsr() + pairs.tocsr()).tocsr()
        self.n_items_known_ = n
