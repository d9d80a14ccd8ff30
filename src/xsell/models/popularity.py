"""The baseline every other model must beat: the shop's best sellers."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.models.base import Recommender


@dataclass
class Popularity(Recommender):
    """Scores each item by how many baskets hold it, optionally favouring recent ones.

    Parameters
    ----------
    half_life_days:
        When set, a basket counts ``0.5 ** (age / half_life_days)``.
    """

    name = "popularity"

    half_life_days: float | None = None
    counts_: np.ndarray = field(default_factory=lambda: np.zeros(0), init=False, repr=False)

    def _fit(self, data: ShopData) -> None:
        if self.half_life_days:
            weighted = data.user_item_weighted(self.half_life_days)
            anonymous = data.basket_item[data.basket_user < 0]
            self.counts_ = np.asarray(weighted.sum(axis=0)).ravel() + np.asarray(
                anonymous.sum(axis=0)
            ).ravel()
        else:
            self.counts_ = data.item_basket_count.astype(np.float64)

    def score(self, baskets: sp.csr_matrix, users: np.ndarray | None = None) -> np.ndarray:
        self.require_fitted()
        return np.tile(self.counts_, (baskets.shape[0], 1))
