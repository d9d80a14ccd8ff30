"""A test double for the evaluation tests: a co-occurrence model that records what it is shown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.models.base import Recommender
from xsell.models.params import number, param


@dataclass
class SpyCooccurrence(Recommender):
    """Scores ``context @ (XᵀX)`` over the training baskets (plus a popularity tie-break).

    ``seen_baskets`` and ``seen_items`` let tests prove that nothing from the test
    side reached it.
    """

    name = "spy"

    weight: float = param(1.0, number(low=0))
    seen_baskets: list[str] = field(default_factory=list, init=False, repr=False)
    seen_items: set[int] = field(default_factory=set, init=False, repr=False)
    cooc_: Any = field(default=None, init=False, repr=False)

    def _fit(self, data: ShopData) -> None:
        self.seen_baskets.extend(data.baskets.ids.tolist())
        x = data.basket_item
        self.cooc_ = sp.csr_matrix(x.T @ x)
        self.cooc_.setdiag(0)

    def _score(self, baskets: sp.csr_matrix, users: np.ndarray | None) -> np.ndarray:
        self.seen_items.update(baskets.indices.tolist())
        popularity = self.require_fitted().popularity
        return np.asarray((baskets @ self.cooc_).todense()) * self.weight + 1e-6 * popularity
