"""Models made of other models (the hybrid blend, the learned re-ranker): live learning for all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from xsell.data.shopdata import ShopData
from xsell.models.base import Recommender


@dataclass
class Ensemble(Recommender):
    """A model that answers through fitted components kept in ``components_``.

    Components are fitted on the same data as the ensemble, so their item and
    user maps grow in step with the ensemble's when new orders arrive.
    """

    components_: list[Recommender] = field(default_factory=list, init=False, repr=False)

    def update(
        self,
        baskets: Sequence[Sequence[str]],
        users: Sequence[str | None] | None = None,
        names: dict[str, str] | None = None,
    ) -> None:
        """Learn from new orders: the ensemble's tables grow and every component learns too."""
        super().update(baskets, users, names)
        for component in self.components_:
            component.update(baskets, users, names)
        self.n_items_known_ = self.n_items
        self.n_users_known_ = len(self.users_) if self.users_ is not None else 0


def hide_one_item(
    data: ShopData, mask: np.ndarray, max_queries: int, seed: int
) -> tuple[list[list[int]], np.ndarray, np.ndarray]:
    """Held-out baskets as queries with one random item hidden: (contexts, users, hidden).

    Only baskets of ``mask`` with two or more items qualify; at most ``max_queries``
    of them, a seeded sample.
    """
    rng = np.random.default_rng(seed)
    matrix = data.basket_item
    baskets = np.flatnonzero(mask & (np.diff(matrix.indptr) >= 2))
    if len(baskets) > max_queries:
        baskets = np.sort(rng.choice(baskets, max_queries, replace=False))
    contexts: list[list[int]] = []
    hidden = np.empty(len(baskets), dtype=np.int64)
    for j, b in enumerate(baskets):
        items = matrix.indices[matrix.indptr[b] : matrix.indptr[b + 1]]
        pick = int(rng.integers(len(items)))
        hidden[j] = items[pick]
        contexts.append(np.delete(items, pick).tolist())
    return contexts, data.basket_user[baskets].astype(np.int64), hidden
