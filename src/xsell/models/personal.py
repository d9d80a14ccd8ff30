"""A customer's own buying habits: repeat frequency with recency decay (next-basket baseline)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.models.base import Recommender
from xsell.models.params import number, param


@dataclass
class PersonalHistory(Recommender):
    """What this customer buys again and again, recent orders counting more.

    A known customer's own items (repeat purchases) rank first, scored
    ``1 + sum of 0.5 ** (age / half_life_days)`` over their orders holding the
    item; every other item follows by shop popularity (a score below 1), so
    repeat and new items are told apart by score and by reason. Guests and
    unknown customers get best sellers, and the reason says so.

    Parameters
    ----------
    half_life_days:
        Age (days before the newest order) at which an order counts half.
        ``None`` counts every order fully.
    """

    name = "personal"
    learns_live = True
    needs_customers = True

    half_life_days: float | None = param(90.0, number(low=0, low_open=True, none=True))

    habits_: sp.csr_matrix | None = field(default=None, init=False, repr=False)
    counts_: sp.csr_matrix | None = field(default=None, init=False, repr=False)

    def _fit(self, data: ShopData) -> None:
        counts = sp.csr_matrix(data.user_item, dtype=np.float64)
        weighted = (
            data.user_item_weighted(self.half_life_days)
            if self.half_life_days and not np.isnat(data.basket_time).all()
            else counts
        )
        self.habits_ = sp.csr_matrix(weighted, dtype=np.float64)
        self.counts_ = counts

    def _update(self, baskets: sp.csr_matrix, users: np.ndarray) -> None:
        assert self.habits_ is not None and self.counts_ is not None and self.users_ is not None
        shape = (len(self.users_), baskets.shape[1])
        mine = users >= 0
        owners = sp.csr_matrix(
            (np.ones(int(mine.sum())), (users[mine], np.arange(int(mine.sum())))),
            shape=(shape[0], int(mine.sum())),
        )
        added = sp.csr_matrix(owners @ sp.csr_matrix(baskets[mine], dtype=np.float64))
        for name in ("habits_", "counts_"):
            matrix = sp.csr_matrix(getattr(self, name), copy=True)
            matrix.resize(shape)
            setattr(self, name, sp.csr_matrix(matrix + added))

    def _score(self, baskets: sp.csr_matrix, users: np.ndarray | None) -> np.ndarray:
        table = self.require_fitted()
        assert self.habits_ is not None
        n = baskets.shape[1]
        popularity = table.popularity[:n]
        base = 0.999 * popularity / max(float(popularity.max(initial=0.0)), 1.0)
        out = np.tile(base, (baskets.shape[0], 1))
        if users is not None:
            for r, u in enumerate(np.asarray(users)):
                if 0 <= u < self.habits_.shape[0]:
                    lo, hi = self.habits_.indptr[u], self.habits_.indptr[u + 1]
                    out[r, self.habits_.indices[lo:hi]] = 1.0 + self.habits_.data[lo:hi]
        return out

    def _reasons(self, context: Sequence[int], user: int, items: Sequence[int]) -> list[str]:
        table = self.require_fitted()
        assert self.counts_ is not None
        known = 0 <= user < self.counts_.shape[0]
        out = []
        for i in items:
            times = float(self.counts_[user, i]) if known and i < self.counts_.shape[1] else 0.0
            if times > 0:
                out.append(f"repeat: you bought it in {int(times)} of your orders")
            elif known:
                out.append(
                    f"new for you: popular in the shop ({int(table.popularity[i]):,} orders)"
                )
            else:
                out.append(f"popular in the shop ({int(table.popularity[i]):,} orders)")
        return out
