"""Term weighting of sparse rows (BM25, TF-IDF) through ``implicit``, one home for both kNN and MF.

Training rows are weighted by :func:`implicit.nearest_neighbours.bm25_weight`
itself. A row seen later (a cart folded into a factor model) must be weighted
with the *training* statistics (document frequencies and mean row length), which
implicit's function cannot take: :meth:`Bm25.weigh` applies the same formula
with the statistics kept from training, and a test checks that it reproduces
implicit's weights of the training rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import scipy.sparse as sp

from xsell.errors import require

WEIGHTINGS: Final = ("none", "bm25", "tfidf")


def weighted(
    matrix: sp.csr_matrix, weighting: str, k1: float = 100.0, b: float = 0.8
) -> sp.csr_matrix:
    """``matrix`` (documents x terms) weighted by ``none``, ``bm25`` or ``tfidf`` (as implicit)."""
    matrix = sp.csr_matrix(matrix, dtype=np.float64)
    if weighting == "none":
        return matrix
    require("implicit", "models")
    from implicit.nearest_neighbours import bm25_weight, tfidf_weight

    if weighting == "bm25":
        return sp.csr_matrix(bm25_weight(matrix, K1=k1, B=b))
    return sp.csr_matrix(tfidf_weight(matrix))


@dataclass(frozen=True)
class Bm25:
    """BM25 statistics of a training matrix, to weigh its rows and new rows alike."""

    idf: np.ndarray
    mean_length: float
    k1: float
    b: float

    @classmethod
    def of(cls, matrix: sp.csr_matrix, k1: float, b: float) -> Bm25:
        """The statistics implicit's ``bm25_weight`` derives from ``matrix``."""
        matrix = sp.csr_matrix(matrix)
        rows = max(matrix.shape[0], 1)
        counts = np.bincount(matrix.indices, minlength=matrix.shape[1])
        lengths = np.asarray(matrix.sum(axis=1)).ravel()
        mean = float(lengths.mean()) if len(lengths) else 1.0
        return cls(np.log(float(rows)) - np.log1p(counts.astype(np.float64)), mean, k1, b)

    def weigh(self, rows: sp.csr_matrix) -> sp.csr_matrix:
        """``rows`` weighted as training rows holding the same entries were."""
        rows = sp.csr_matrix(rows, dtype=np.float64, copy=True)
        lengths = np.asarray(rows.sum(axis=1)).ravel()
        norm = (1.0 - self.b) + self.b * lengths / self.mean_length
        row_of = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
        rows.data = (
            rows.data
            * (self.k1 + 1.0)
            / (self.k1 * norm[row_of] + rows.data)
            * self.idf[rows.indices]
        )
        return rows
