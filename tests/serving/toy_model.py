"""A hand-checkable co-occurrence model that learns from live orders (test double).

Scores are plain pair counts, so every expected answer can be worked out by hand
or by brute force over the baskets; ``update`` grows the catalog for new items and
the customers' histories, like the interface's ``Recommender.update`` contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from xsell.data.idmap import IdMap
from xsell.data.shopdata import ShopData
from xsell.models.base import ItemTable, Recommender


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

    def update(self, baskets: Sequence[Sequence[str]], users: Sequence[str | None]) -> None:
        table = self.require_fitted()
        assert self.counts_ is not None and self.users_ is not None
        new_items = [i for i in dict.fromkeys(i for b in baskets for i in b) if i not in table.ids]
        if new_items:
            n = len(new_items)
            self.items_ = table = ItemTable(
                ids=IdMap([*table.ids.ids, *new_items]),
                names=np.concatenate([table.names, np.array([None] * n, dtype=object)]),
                categories=np.concatenate([table.categories, np.array([None] * n, dtype=object)]),
                prices=np.concatenate([table.prices, np.full(n, np.nan)]),
                in_stock=np.concatenate([table.in_stock, np.ones(n, dtype=bool)]),
                popularity=np.concatenate([table.popularity, np.zeros(n)]),
            )
            grown = self.counts_.tolil()
            grown.resize((len(table), len(table)))
            self.counts_ = grown.tocsr()
        new_users = [u for u in dict.fromkeys(users) if u is not None and u not in self.users_]
        if new_users:
            self.users_ = IdMap([*self.users_.ids, *new_users])
        history = sp.lil_matrix(
            self.history_ if self.history_ is not None else (0, 0), dtype=np.float64
        )
        history.resize((len(self.users_), len(table)))
        counts = self.counts_.tolil()
        for basket, user in zip(baskets, users, strict=True):
            idx = sorted(set(table.ids.to_index(list(basket)).tolist()))
            for a in idx:
                table.popularity[a] += 1
                for b in idx:
                    if a != b:
                        counts[a, b] += 1
                if user is not None:
                    history[self.users_.index_of(user), a] += 1
        self.counts_ = counts.tocsr()
        self.history_ = history.tocsr()
