"""Item-based k nearest neighbours: cosine similarity of item purchase vectors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError, require
from xsell.models._sparse import prune_rows, sparse_scores, summed_evidence
from xsell.models.base import Recommender

WEIGHTINGS: Final = ("none", "bm25", "tfidf")
SOURCES: Final = ("baskets", "customers")


def weighted_item_vectors(
    matrix: sp.csr_matrix, weighting: str, k1: float = 100.0, b: float = 0.8
) -> sp.csr_matrix:
    """Items x documents (baskets or customers), weighted like ``implicit``'s item-kNN models.

    Each item is a document whose terms are the baskets (or customers) holding it,
    so BM25 / TF-IDF discount baskets that hold many items.
    """
    items = sp.csr_matrix(matrix.T, dtype=np.float64)
    if weighting == "none":
        return items
    require("implicit", "models")
    from implicit.nearest_neighbours import bm25_weight, tfidf_weight

    if weighting == "bm25":
        return sp.csr_matrix(bm25_weight(items, K1=k1, B=b))
    return sp.csr_matrix(tfidf_weight(items))


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

    Parameters
    ----------
    weighting:
        ``none`` (plain cosine), ``bm25`` or ``tfidf`` (as in ``implicit``).
    neighbours:
        Most similar items kept per item.
    source:
        Item vectors over ``baskets`` (bought together) or ``customers`` (bought by
        the same people).
    k1, b:
        BM25 parameters.
    """

    name = "itemknn"

    weighting: str = "bm25"
    neighbours: int | None = 100
    source: str = "baskets"
    k1: float = 100.0
    b: float = 0.8

    similarity_: sp.csr_matrix | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.weighting not in WEIGHTINGS:
            raise ValidationError(
                f"weighting must be one of {list(WEIGHTINGS)}, got {self.weighting!r}"
            )
        if self.source not in SOURCES:
            raise ValidationError(f"source must be one of {list(SOURCES)}, got {self.source!r}")
        if self.neighbours is not None and self.neighbours < 1:
            raise ValidationError(f"neighbours must be at least 1 or None, got {self.neighbours}")

    def _fit(self, data: ShopData) -> None:
        matrix = data.basket_item if self.source == "baskets" else data.user_item
        vectors = weighted_item_vectors(matrix, self.weighting, self.k1, self.b)
        self.similarity_ = cosine_neighbours(vectors, self.neighbours)

    def score(self, baskets: sp.csr_matrix, users: np.ndarray | None = None) -> np.ndarray:
        self.require_fitted()
        assert self.similarity_ is not None
        return sparse_scores(baskets, self.similarity_)

    def score_sparse(
        self, baskets: sp.csr_matrix, users: np.ndarray | None = None
    ) -> sp.csr_matrix | None:
        self.require_fitted()
        assert self.similarity_ is not None
        return summed_evidence(baskets, self.similarity_)

    def reasons(self, context: Sequence[int], user: int, items: Sequence[int]) -> list[str]:
        table = self.require_fitted()
        assert self.similarity_ is not None
        ctx = np.asarray(list(context), dtype=np.int64)
        known = ctx[ctx < self.similarity_.shape[0]]
        out = []
        for i in items:
            if len(known) == 0 or i >= self.similarity_.shape[1]:
                out.append(f"popular: in {int(table.popularity[i]):,} past orders")
                continue
            strengths = np.asarray(self.similarity_[known, i].todense()).ravel()
            a = int(known[int(np.argmax(strengths))])
            label = table.names[a] if table.names[a] is not None else table.ids.ids[a]
            who = "baskets" if self.source == "baskets" else "customers"
            out.append(
                f"bought by the same {who} as '{label}' (cosine {float(strengths.max()):.2f})"
            )
        return out
