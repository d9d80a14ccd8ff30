"""User-based k nearest neighbours: what customers like this one (or this cart) bought."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.models.base import Recommender
from xsell.models.params import flag, integer, param


@dataclass
class UserKNN(Recommender):
    """Scores items by the cosine-weighted purchases of the most similar customers.

    The query is the cart plus, for a known customer, their own history; the
    customer is never their own neighbour.

    Parameters
    ----------
    neighbours:
        How many most similar customers vote.
    idf:
        Weight items by ``log(n_users / buyers)`` so best sellers say less about taste.
    """

    name = "userknn"
    needs_customers = True

    neighbours: int = param(50, integer(low=1))
    idf: bool = param(True, flag())

    profiles_: sp.csr_matrix | None = field(default=None, init=False, repr=False)
    bought_: sp.csr_matrix | None = field(default=None, init=False, repr=False)
    item_weight_: np.ndarray | None = field(default=None, init=False, repr=False)

    def _fit(self, data: ShopData) -> None:
        bought = sp.csr_matrix(data.user_item, dtype=np.float64)
        bought.data[:] = 1.0
        buyers = np.asarray(bought.sum(axis=0)).ravel()
        if self.idf:
            weight = np.log1p(max(data.n_users, 1) / np.maximum(buyers, 1.0))
        else:
            weight = np.ones(data.n_items)
        self.item_weight_ = weight
        self.bought_ = bought
        self.profiles_ = _unit_rows(sp.csr_matrix(bought @ sp.diags(weight)))

    def _neighbours(self, query: sp.csr_matrix, users: np.ndarray | None) -> list[np.ndarray]:
        """Per query row: (neighbour user indices, cosine) of the best ``neighbours`` customers."""
        assert self.profiles_ is not None and self.item_weight_ is not None
        q = _unit_rows(sp.csr_matrix(query @ sp.diags(self.item_weight_)))
        # Sparse: only customers sharing an item with the query are candidates.
        sims = sp.csr_matrix(q @ self.profiles_.T)
        out = []
        for r in range(sims.shape[0]):
            lo, hi = sims.indptr[r], sims.indptr[r + 1]
            who, value = sims.indices[lo:hi], sims.data[lo:hi]
            keep = value > 0
            if users is not None and users[r] >= 0:
                keep &= who != users[r]
            who, value = who[keep], value[keep]
            # Ties go to the lower customer index, so answers are reproducible.
            best = np.lexsort((who, -value))[: self.neighbours]
            out.append(np.stack([who[best].astype(np.float64), value[best]]))
        return out

    def _query(self, baskets: sp.csr_matrix, users: np.ndarray | None) -> sp.csr_matrix:
        query = sp.csr_matrix(baskets, dtype=np.float64)
        if users is not None and self.bought_ is not None:
            owners = np.where(users >= 0, users, 0)
            own = sp.diags((users >= 0).astype(np.float64)) @ self.bought_[owners]
            query = sp.csr_matrix(query + own)
            query.data[:] = 1.0
        return query

    def _score(self, baskets: sp.csr_matrix, users: np.ndarray | None) -> np.ndarray:
        assert self.bought_ is not None
        found = self._neighbours(self._query(baskets, users), users)
        out = np.full((baskets.shape[0], baskets.shape[1]), -np.inf)
        for r, pair in enumerate(found):
            who, weight = pair[0].astype(np.int64), pair[1]
            if len(who) == 0:
                continue
            votes = sp.csr_matrix(weight[None, :]) @ self.bought_[who]
            votes = sp.csr_matrix(votes)
            out[r, votes.indices] = votes.data
        return out

    def _reasons(self, context: Sequence[int], user: int, items: Sequence[int]) -> list[str]:
        self.require_fitted()
        assert self.bought_ is not None
        known_user = 0 <= user < self.bought_.shape[0]
        users = np.array([user]) if known_user else None
        n = self.bought_.shape[1]
        mine = [int(c) for c in context if c < n]
        rows = sp.csr_matrix((np.ones(len(mine)), ([0] * len(mine), mine)), shape=(1, n))
        who = self._neighbours(self._query(rows, users), users)[0][0].astype(np.int64)
        subject = "customers like you" if known_user else "customers with similar carts"
        out = []
        for i in items:
            voters = int(self.bought_[who, i].sum()) if i < n and len(who) else 0
            out.append(f"bought by {voters} of the {len(who)} {subject}")
        return out


def _unit_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(inverse) @ matrix)
