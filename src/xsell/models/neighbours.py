"""Time-decayed customer neighbours (TIFU-KNN, Hu et al., SIGIR 2020): repeat and explore at once.

Each customer becomes a vector over items built from their baskets in time
order. The baskets are cut into groups of ``group_size`` (counted back from the
newest, so the oldest group may be short); inside a group the ``j``-th newest
basket weighs ``within_decay ** j``, and the ``g``-th newest group weighs
``group_decay ** g``::

    group_g = (1 / |group_g|) * sum_j within_decay ** j * basket_j
    u       = (1 / n_groups)  * sum_g group_decay ** g  * group_g

The prediction blends the customer's own vector with the mean vector of their
``neighbours`` nearest customers by cosine::

    p = alpha * u + (1 - alpha) * mean(v for v in nearest(u))

With ``half_life_days`` every basket also counts ``0.5 ** (age / half_life_days)``
(age before the newest basket of the shop), so what customers bought lately in
calendar time, not only lately in their own history, weighs more.

The first term is the repeat part (what the customer buys often and lately);
the second, restricted to what the customer never bought, is the explore part.
Everything is sparse: customer vectors are a CSR matrix, neighbours are found by
a sparse product in row blocks pruned to the top ``neighbours`` per customer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.models._sparse import basket_weights, prune_rows
from xsell.models.base import Recommender
from xsell.models.params import integer, number, param

#: Customer rows per block of the customer x customer similarity product.
_BLOCK_ROWS: Final = 1024


@dataclass
class Neighbours(Recommender):
    """What the customer buys again (time-decayed) plus what their nearest customers buy.

    Parameters
    ----------
    neighbours:
        How many nearest customers (cosine of the decayed vectors) vote.
    group_size:
        Baskets per group (``m`` of TIFU-KNN).
    within_decay:
        Decay from one basket to the one before it inside a group (``r_b``).
    group_decay:
        Decay from one group to the one before it (``r_g``).
    alpha:
        Weight of the customer's own vector; ``1 - alpha`` goes to the neighbours.
    half_life_days:
        Calendar-time decay of every basket (``None``: none, as in TIFU-KNN).
    """

    name = "neighbours"
    needs_customers = True

    neighbours: int = param(300, integer(low=1))
    group_size: int = param(7, integer(low=1))
    within_decay: float = param(0.9, number(low=0, high=1, low_open=True))
    group_decay: float = param(0.7, number(low=0, high=1, low_open=True))
    alpha: float = param(0.7, number(low=0, high=1))
    half_life_days: float | None = param(None, number(low=0, low_open=True, none=True))

    vectors_: sp.csr_matrix | None = field(default=None, init=False, repr=False)
    unit_: sp.csr_matrix | None = field(default=None, init=False, repr=False)
    nearest_: sp.csr_matrix | None = field(default=None, init=False, repr=False)
    groups_: np.ndarray = field(default_factory=lambda: np.zeros(0), init=False, repr=False)

    def _fit(self, data: ShopData) -> None:
        users = data.basket_user
        known = np.flatnonzero(users >= 0)
        if len(known) == 0:
            raise ValidationError(
                "neighbours: needs baskets of known customers, and every basket is anonymous"
            )
        weight, n_groups = self._basket_weights(data, known)
        owners = sp.csr_matrix(
            (weight, (users[known], np.arange(len(known)))), shape=(data.n_users, len(known))
        )
        vectors = sp.csr_matrix(owners @ data.basket_item[known], dtype=np.float64)
        vectors.sort_indices()
        self.vectors_ = vectors
        self.groups_ = n_groups.astype(np.float64)
        self.unit_ = _unit_rows(vectors)
        self.nearest_ = self._nearest(self.unit_, np.arange(data.n_users))

    def _basket_weights(self, data: ShopData, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """TIFU weight of every basket in ``known`` and each customer's number of groups."""
        users = data.basket_user[known].astype(np.int64)
        stamps = data.basket_time[known].astype("datetime64[ns]")
        # Baskets without a time count as the oldest.
        times = np.where(np.isnat(stamps), np.iinfo(np.int64).min + 1, stamps.astype(np.int64))
        # Newest first per customer (ties: the later basket in the data is newer).
        order = np.lexsort((-np.arange(len(known)), -times, users))
        ordered = users[order]
        starts = np.r_[0, np.flatnonzero(ordered[1:] != ordered[:-1]) + 1]
        counts = np.diff(np.r_[starts, len(ordered)])
        age = np.arange(len(ordered)) - np.repeat(starts, counts)  # 0 = newest basket
        total = np.repeat(counts, counts)
        group = age // self.group_size
        n_groups = -(-total // self.group_size)
        # The oldest group holds what is left over: between 1 and group_size baskets.
        last = group == n_groups - 1
        size = np.where(last, total - self.group_size * (n_groups - 1), self.group_size)
        within = age % self.group_size
        weight = np.empty(len(known), dtype=np.float64)
        weight[order] = self.within_decay**within / size * self.group_decay**group / n_groups
        weight *= basket_weights(data, self.half_life_days)[known]
        per_user = np.zeros(data.n_users, dtype=np.float64)
        per_user[ordered[starts]] = n_groups[starts]
        return weight, per_user

    def _nearest(self, query: sp.csr_matrix, exclude: np.ndarray) -> sp.csr_matrix:
        """Rows of neighbour weights (``1 / found`` each: their mean) of each query vector.

        ``exclude[r]`` is a customer who may not be row ``r``'s neighbour (itself),
        ``-1`` for none.
        """
        assert self.unit_ is not None
        blocks = []
        for start in range(0, query.shape[0], _BLOCK_ROWS):
            block = sp.csr_matrix(query[start : start + _BLOCK_ROWS] @ self.unit_.T)
            rows = np.repeat(np.arange(block.shape[0]), np.diff(block.indptr))
            mine = exclude[start : start + _BLOCK_ROWS][rows]
            block.data[(block.indices == mine) | (block.data <= 0)] = 0.0
            block.eliminate_zeros()
            blocks.append(prune_rows(block, self.neighbours))
        shape = (query.shape[0], self.unit_.shape[0])
        nearest = sp.csr_matrix(sp.vstack(blocks)) if blocks else sp.csr_matrix(shape)
        found = np.diff(nearest.indptr)
        nearest.data[:] = np.repeat(1.0 / np.maximum(found, 1), found)
        return nearest

    def _query(
        self, baskets: sp.csr_matrix, users: np.ndarray | None
    ) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
        """Each row's vector, its customer (``-1``: none) and whether a cart changed it.

        A cart counts as the customer's newest group of baskets; without a known
        customer the cart alone is the vector (one group of one basket). Cart items
        the customer bought before are already in the vector.
        """
        assert self.vectors_ is not None
        carts = sp.csr_matrix(baskets, dtype=np.float64)
        n_known = self.vectors_.shape[0]
        who = np.full(carts.shape[0], -1) if users is None else np.asarray(users, dtype=np.int64)
        who = np.where(who < n_known, who, -1)
        mine = np.maximum(who, 0)
        owned = sp.csr_matrix(sp.diags((who >= 0).astype(np.float64)) @ self.vectors_[mine])
        if self.history_ is not None:
            bought = sp.csr_matrix(self.history_[mine][:, : carts.shape[1]], dtype=np.float64)
            bought = sp.csr_matrix(sp.diags((who >= 0).astype(np.float64)) @ bought)
            bought.data[:] = 1.0
            carts = sp.csr_matrix(carts - carts.multiply(bought))
            carts.eliminate_zeros()
        size = np.maximum(np.diff(carts.indptr), 1).astype(np.float64)
        groups = np.where(who >= 0, self.groups_[mine], 0.0)
        has_cart = np.diff(carts.indptr) > 0
        # With a cart: n old groups decay one step and the cart is the newest of n + 1.
        old = np.where(has_cart, self.group_decay * groups / (groups + 1.0), 1.0)
        new = 1.0 / (size * (groups + 1.0))
        return sp.csr_matrix(sp.diags(old) @ owned + sp.diags(new) @ carts), who, has_cart

    def _neighbours_of(
        self, query: sp.csr_matrix, who: np.ndarray, has_cart: np.ndarray
    ) -> sp.csr_matrix:
        """Neighbour weights per row: fitted ones for a known customer without a new cart."""
        assert self.nearest_ is not None
        fitted = (who >= 0) & ~has_cart
        nearest = sp.csr_matrix(self.nearest_[np.maximum(who, 0)])
        nearest = sp.csr_matrix(sp.diags(fitted.astype(np.float64)) @ nearest)
        asked = np.flatnonzero(~fitted)
        if len(asked):
            found = self._nearest(_unit_rows(query[asked]), who[asked])
            pick = sp.csr_matrix(
                (np.ones(len(asked)), (asked, np.arange(len(asked)))),
                shape=(query.shape[0], len(asked)),
            )
            nearest = sp.csr_matrix(nearest + pick @ found)
        nearest.eliminate_zeros()
        return nearest

    def _score(self, baskets: sp.csr_matrix, users: np.ndarray | None) -> sp.csr_matrix:
        assert self.vectors_ is not None
        query, who, has_cart = self._query(baskets, users)
        nearest = self._neighbours_of(query, who, has_cart)
        scores = sp.csr_matrix(self.alpha * query + (1.0 - self.alpha) * (nearest @ self.vectors_))
        scores.eliminate_zeros()
        return scores

    def _reasons(self, context: Sequence[int], user: int, items: Sequence[int]) -> list[str]:
        self.require_fitted()
        assert self.vectors_ is not None
        n = self.vectors_.shape[1]
        mine = [int(c) for c in context if c < n]
        rows = sp.csr_matrix((np.ones(len(mine)), ([0] * len(mine), mine)), shape=(1, n))
        users = np.array([user]) if user >= 0 else None
        query, customer, has_cart = self._query(rows, users)
        who = self._neighbours_of(query, customer, has_cart).indices
        bought = set(self.history_items(user).tolist())
        subject = "customers like you" if user >= 0 else "customers with similar carts"
        out = []
        for item in items:
            voters = int((self.vectors_[who, item] > 0).sum()) if item < n and len(who) else 0
            tail = f"bought by {voters} of the {len(who)} {subject}"
            out.append(f"repeat: you buy it regularly; {tail}" if item in bought else tail)
        return out


def _unit_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(inverse) @ matrix)
