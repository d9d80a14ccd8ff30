"""The baseline every other model must beat: the shop's best sellers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.models._sparse import basket_weights
from xsell.models.base import Recommender
from xsell.models.params import flag, number, param


@dataclass
class Popularity(Recommender):
    """Best sellers: baskets holding each item, optionally recent ones, cart's categories first.

    Parameters
    ----------
    half_life_days:
        When set, a basket counts ``0.5 ** (age / half_life_days)`` (age from the
        newest basket): recent best sellers.
    per_category:
        Best sellers of the cart's categories first, then the rest of the shop.
    """

    name = "popularity"
    learns_live = True

    half_life_days: float | None = param(None, number(low=0, low_open=True, none=True))
    per_category: bool = param(False, flag())
    counts_: np.ndarray = field(default_factory=lambda: np.zeros(0), init=False, repr=False)

    def _fit(self, data: ShopData) -> None:
        weights = basket_weights(data, self.half_life_days)
        self.counts_ = np.asarray(data.basket_item.T @ weights, dtype=np.float64).ravel()

    def _update(self, baskets: sp.csr_matrix, users: np.ndarray) -> None:
        counts = np.zeros(baskets.shape[1])
        counts[: len(self.counts_)] = self.counts_
        self.counts_ = counts + np.asarray(baskets.sum(axis=0)).ravel()

    def _score(self, baskets: sp.csr_matrix, users: np.ndarray | None) -> np.ndarray:
        table = self.require_fitted()
        out = np.tile(self.counts_, (baskets.shape[0], 1))
        if self.per_category:
            # Shift the cart's categories above every other item.
            bonus = float(self.counts_.max(initial=0.0)) + 1.0
            baskets = sp.csr_matrix(baskets)
            for r in range(baskets.shape[0]):
                mine = baskets.indices[baskets.indptr[r] : baskets.indptr[r + 1]]
                cats = {table.categories[i] for i in mine if table.categories[i] is not None}
                if cats:
                    same = np.isin(
                        table.categories[: out.shape[1]], np.array(sorted(cats), dtype=object)
                    )
                    out[r, same] += bonus
        return out

    def _reasons(self, context: Sequence[int], user: int, items: Sequence[int]) -> list[str]:
        table = self.require_fitted()
        cats = {table.categories[i] for i in context if table.categories[i] is not None}
        recent = " recent" if self.half_life_days else ""
        out = []
        for i in items:
            where = (
                f"in {table.categories[i]}, a category of the cart"
                if self.per_category and table.categories[i] in cats
                else "in the shop"
            )
            out.append(f"popular{recent} {where}: in {int(table.popularity[i]):,} past orders")
        return out
