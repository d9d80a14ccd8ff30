"""Item-based k nearest neighbours: cosine similarity of item purchase vectors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.models._sparse import prune_rows, summed_evidence
from xsell.models.base import Recommender
from xsell.models.fallback import popular_reason
from xsell.models.params import integer, number, one_of, param
from xsell.models.weighting import WEIGHTINGS, weighted

SOURCES: Final = ("baskets", "customers")


def cosine_neighbours(vectors: sp.csr_matrix, neighbours: int | None) -> sp.csr_matrix:
    """Row x row cosine similarities of ``vectors``, no diagonal, top ``neighbours`` per row."""
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
    inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    unit = sp.csr_matrix(sp.diags(inverse) @ vectors)
    similarity = sp.csr_matrix(unit @ unit.T)
    similarity.setdiag(0.0)
    similarity.eliminate_zeros()
    return prune_rows(similarity, neighbours)


@dataclass
class ItemKNN(Recommender):
    """Items whose buyers (baskets or customers) look like those of the cart's items.

    Each item is a document whose terms are the baskets (or customers) holding it,
    so BM25 / TF-IDF (as in ``implicit``) discount baskets that hold many items.

    Parameters
    ----------
    weighting:
        ``none`` (plain cosine), ``bm25`` or ``tfidf``.
    neighbours:
        Most similar items kept per item.
    source:
        Item vectors over ``baskets`` (bought together) or ``customers`` (bought by
        the same people).
    k1, b:
        BM25 parameters.
    """

    name = "itemknn"

    weighting: str = param("bm25", one_of(*WEIGHTINGS))
    neighbours: int | None = param(100, integer(low=1, none=True))
    source: str = param("baskets", one_of(*SOURCES))
    k1: float = param(100.0, number(low=0))
    b: float = param(0.8, number(low=0, high=1))

    similarity_: sp.csr_matrix | None = field(default=None, init=False, repr=False)

    def _fit(self, data: ShopData) -> None:
        matrix = data.basket_item if self.source == "baskets" else data.user_item
        vectors = weighted(matrix.T, self.weighting, self.k1, self.b)
        self.similarity_ = cosine_neighbours(vectors, self.neighbours)

    def _score(self, baskets: sp.csr_matrix, users: np.ndarray | None) -> sp.csr_matrix:
        assert self.similarity_ is not None
        return summed_evidence(baskets, self.similarity_)

    def _reasons(self, context: Sequence[int], user: int, items: Sequence[int]) -> list[str]:
        table = self.require_fitted()
        assert self.similarity_ is not None
        known = np.asarray(list(context), dtype=np.int64)
        out = []
        for i in items:
            if len(known) == 0 or i >= self.similarity_.shape[1]:
                out.append(popular_reason(table, i))
                continue
            strengths = np.asarray(self.similarity_[known, i].todense()).ravel()
            a = int(known[int(np.argmax(strengths))])
            who = "baskets" if self.source == "baskets" else "customers"
            out.append(
                f"bought by the same {who} as '{table.label(a)}' "
                f"(cosine {float(strengths.max()):.2f})"
            )
        return out
