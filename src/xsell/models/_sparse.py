"""Sparse helpers shared by the neighbourhood models: pruning, weighting, scoring."""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp

from xsell.data.shopdata import ShopData


@numba.njit(cache=True)
def _top_k_mask(
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, k: int
) -> np.ndarray:  # pragma: no cover
    keep = np.ones(len(data), dtype=np.bool_)
    for row in range(len(indptr) - 1):
        start, end = indptr[row], indptr[row + 1]
        if end - start <= k:
            continue
        values = data[start:end]
        # A partition finds the k-th largest value in linear time (a full sort per row
        # took 4x longer on Instacart); ties at that value keep the lower columns.
        kth = -np.partition(-values, k - 1)[k - 1]
        room = k - int(np.sum(values > kth))
        ties = np.flatnonzero(values == kth)
        if len(ties) > room:
            order = np.argsort(indices[start:end][ties], kind="mergesort")
            keep[start + ties[order[room:]]] = False
        keep[start + np.flatnonzero(values < kth)] = False
    return keep


def prune_rows(matrix: sp.csr_matrix, k: int | None) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of every row (ties: lower column first); sorted indices."""
    matrix = sp.csr_matrix(matrix)
    if k is None or matrix.nnz == 0:
        matrix.sort_indices()
        return matrix
    keep = _top_k_mask(matrix.indptr.astype(np.int64), matrix.indices, matrix.data, int(k))
    # Masking the CSR arrays directly avoids a COO round trip (a sort of every entry).
    rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int32), np.diff(matrix.indptr))
    indptr = np.zeros(matrix.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows[keep], minlength=matrix.shape[0]), out=indptr[1:])
    out = sp.csr_matrix((matrix.data[keep], matrix.indices[keep], indptr), shape=matrix.shape)
    out.sort_indices()
    return out


def replace_rows(matrix: sp.csr_matrix, rows: np.ndarray, new_rows: sp.csr_matrix) -> sp.csr_matrix:
    """``matrix`` with ``rows`` (distinct) replaced by the rows of ``new_rows`` (``len(rows) x n``).

    Copies the untouched stretches between replaced rows as whole slices, so
    replacing a handful of rows of a large matrix costs a few memory copies, not a
    sparse sum or a LIL round trip (live updates on Instacart-sized matrices).
    """
    n = matrix.shape[0]
    rows = np.asarray(rows, dtype=np.int64)
    order = np.argsort(rows, kind="stable")
    rows = rows[order]
    new_rows = sp.csr_matrix(new_rows)[order]
    lengths = np.diff(matrix.indptr)
    lengths[rows] = np.diff(new_rows.indptr)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    data = np.empty(indptr[-1], dtype=np.result_type(matrix.data, new_rows.data))
    indices = np.empty(indptr[-1], dtype=np.result_type(matrix.indices, new_rows.indices))
    old = matrix.indptr

    def copy(into: int, source: sp.csr_matrix, lo: int, hi: int) -> None:
        data[into : into + hi - lo] = source.data[lo:hi]
        indices[into : into + hi - lo] = source.indices[lo:hi]

    first = 0  # first row of the untouched stretch before the next replaced row
    for j, row in enumerate(rows.tolist()):
        copy(int(indptr[first]), matrix, int(old[first]), int(old[row]))
        copy(int(indptr[row]), new_rows, int(new_rows.indptr[j]), int(new_rows.indptr[j + 1]))
        first = row + 1
    copy(int(indptr[first]), matrix, int(old[first]), int(old[n]))
    return sp.csr_matrix((data, indices, indptr), shape=matrix.shape)


def basket_weights(data: ShopData, half_life_days: float | None) -> np.ndarray:
    """Weight of every basket: ``0.5 ** (age / half_life_days)``, 1 without decay or time."""
    if not half_life_days:
        return np.ones(data.n_baskets, dtype=np.float64)
    times = data.basket_time
    if np.isnat(times).all():
        return np.ones(data.n_baskets, dtype=np.float64)
    reference = np.nanmax(times)
    delta = reference - times
    unknown = np.isnat(delta)
    seconds = np.where(unknown, 0, delta.astype("timedelta64[s]").astype(np.int64))
    return np.asarray(0.5 ** (np.maximum(seconds / 86400.0, 0.0) / half_life_days))


def sparse_scores(
    baskets: sp.csr_matrix, similarity: sp.csr_matrix, how: str = "sum"
) -> np.ndarray:
    """Dense ``n x n_items`` scores: sum (or max) over context items of their similarity rows.

    Items no context item points to get ``-inf``.
    """
    n, n_items = baskets.shape[0], similarity.shape[1]
    out = np.full((n, n_items), -np.inf, dtype=np.float64)
    baskets = sp.csr_matrix(baskets)
    if how == "max":
        for r in range(n):
            for a in baskets.indices[baskets.indptr[r] : baskets.indptr[r + 1]]:
                lo, hi = similarity.indptr[a], similarity.indptr[a + 1]
                cols = similarity.indices[lo:hi]
                out[r, cols] = np.maximum(out[r, cols], similarity.data[lo:hi])
        return out
    product = summed_evidence(baskets, similarity)
    rows = np.repeat(np.arange(n), np.diff(product.indptr))
    out[rows, product.indices] = product.data
    return out


def summed_evidence(baskets: sp.csr_matrix, similarity: sp.csr_matrix) -> sp.csr_matrix:
    """CSR of summed similarity rows per context; an absent entry means no evidence."""
    return sp.csr_matrix(sp.csr_matrix(baskets).astype(np.float64) @ similarity)
