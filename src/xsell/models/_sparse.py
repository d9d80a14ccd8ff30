"""Sparse helpers shared by the neighbourhood models: pruning, weighting, scoring."""

from __future__ import annotations

from typing import Any, Final

import numba
import numpy as np
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.mining import metrics

#: Pair measures :func:`measured_pairs` computes, by code (the formulas of mining.metrics).
PAIR_MEASURES: Final = ("count", "confidence", "lift", "jaccard", "cosine", "inclusion")
# Scalar versions of the same functions (compiled on first use), called inside the kernel.
_confidence: Any = numba.njit(metrics.confidence)
_lift: Any = numba.njit(metrics.lift)
_jaccard: Any = numba.njit(metrics.jaccard)
_cosine: Any = numba.njit(metrics.cosine)
_inclusion: Any = numba.njit(metrics.inclusion)


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


@numba.njit(cache=True)
def _measure_rows(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    support: np.ndarray,
    n: float,
    code: int,
    min_count: float,
    k: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
    """Per row: the measure of every off-diagonal pair seen at least ``min_count`` times,
    then the ``k`` largest (``k < 0``: all; ties at the k-th value keep the lower columns),
    in the input's column order, with the pair counts of the kept entries."""
    n_rows = len(indptr) - 1
    out_indptr = np.zeros(n_rows + 1, dtype=np.int64)
    out_indices = np.empty(len(indices), dtype=indices.dtype)
    out_data = np.empty(len(indices), dtype=np.float64)
    out_counts = np.empty(len(indices), dtype=data.dtype)
    at = 0
    for row in range(n_rows):
        start = at
        sa = support[row]
        for j in range(indptr[row], indptr[row + 1]):
            col = indices[j]
            c = np.float64(data[j])
            if col == row or c < min_count or c <= 0:
                continue
            sb = support[col]
            if code == 0:
                value = c
            elif code == 1:
                value = _confidence(sa, sb, c)
            elif code == 2:
                value = _lift(sa, sb, c * n)
            elif code == 3:
                value = _jaccard(sa, sb, c)
            elif code == 4:
                value = _cosine(sa, sb, c)
            else:
                value = _inclusion(sa, sb, c)
            out_indices[at] = col
            out_data[at] = value
            out_counts[at] = data[j]
            at += 1
        found = at - start
        if 0 <= k < found:
            values = out_data[start:at]
            kth = -np.partition(-values, k - 1)[k - 1]
            room = k - int(np.sum(values > kth))
            # Among the entries tied with the k-th value, the lowest columns are kept.
            cut = np.inf
            tied = np.flatnonzero(values == kth)
            if len(tied) > room:
                cut = np.sort(out_indices[start:at][tied])[room - 1] if room > 0 else -1.0
            write = start
            for j in range(start, at):
                v = out_data[j]
                if v > kth or (v == kth and out_indices[j] <= cut):
                    out_indices[write] = out_indices[j]
                    out_data[write] = v
                    out_counts[write] = out_counts[j]
                    write += 1
            at = write
        out_indptr[row + 1] = at
    return out_indptr, out_indices[:at], out_data[:at], out_counts[:at]


def measured_pairs(
    counts: sp.csr_matrix, n_baskets: float, measure: str, min_count: float, k: int | None
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Item x item measures from pair counts (supports on the diagonal), top ``k`` per row.

    One pass over the counts: no matrix of every pair's measure is built before
    pruning (on Instacart's 11.5 M pairs that took three times the product itself).
    Returns the measures and, entry for entry, the pairs' counts. Rows are sorted
    by column.
    """
    counts = sp.csr_matrix(counts)
    support = counts.diagonal().astype(np.float64)
    indptr, indices, data, together = _measure_rows(
        counts.indptr.astype(np.int64),
        counts.indices,
        counts.data,
        support,
        float(n_baskets),
        PAIR_MEASURES.index(measure),
        float(min_count),
        -1 if k is None else int(k),
    )
    similarity = sp.csr_matrix((data, indices, indptr), shape=counts.shape)
    pairs = sp.csr_matrix((together, indices.copy(), indptr.copy()), shape=counts.shape)
    if counts.has_sorted_indices:
        similarity.has_sorted_indices = pairs.has_sorted_indices = True
    else:  # reasons look pairs up by binary search in these rows
        similarity.sort_indices()
        pairs.sort_indices()
    return similarity, pairs


def pair_values(
    measure: str,
    support_a: np.ndarray,
    support_b: np.ndarray,
    together: np.ndarray,
    n_baskets: float,
) -> np.ndarray:
    """The measure of pairs ``(a, b)`` from their counts, vectorised: what :func:`measured_pairs`
    computes entry by entry (the same functions of :mod:`xsell.mining.metrics`, in float64)."""
    sa = np.asarray(support_a, dtype=np.float64)
    sb = np.asarray(support_b, dtype=np.float64)
    c = np.asarray(together, dtype=np.float64)
    if measure == "count":
        return c
    if measure == "lift":
        return np.asarray(metrics.lift(sa, sb, c * float(n_baskets)), dtype=np.float64)
    function = {
        "confidence": metrics.confidence,
        "jaccard": metrics.jaccard,
        "cosine": metrics.cosine,
        "inclusion": metrics.inclusion,
    }[measure]
    return np.asarray(function(sa, sb, c), dtype=np.float64)


def entry_positions(matrix: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Where ``matrix[rows[i], cols[i]]`` is stored in ``matrix.data`` (``-1`` when absent).

    With sorted rows, one binary search of all pairs over the asked rows laid end to
    end (keyed by row rank, then column); else one slice and sort per distinct row
    (short rows: pruned neighbour lists).
    """
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    out = np.full(len(rows), -1, dtype=np.int64)
    if len(rows) == 0:
        return out
    if matrix.has_sorted_indices:
        distinct, which = np.unique(rows, return_inverse=True)
        lo = matrix.indptr[distinct].astype(np.int64)
        lengths = matrix.indptr[distinct + 1].astype(np.int64) - lo
        total = int(lengths.sum())
        if total == 0:
            return out
        firsts = np.cumsum(lengths) - lengths
        positions = np.arange(total, dtype=np.int64) + np.repeat(lo - firsts, lengths)
        width = int(matrix.shape[1])
        keys = np.repeat(np.arange(len(distinct), dtype=np.int64), lengths) * width
        keys += matrix.indices[positions]
        wanted = which.astype(np.int64) * width + cols
        at = np.minimum(np.searchsorted(keys, wanted), total - 1)
        hit = keys[at] == wanted
        out[hit] = positions[at[hit]]
        return out
    for row in set(rows.tolist()):
        mine = np.flatnonzero(rows == row)
        lo, hi = int(matrix.indptr[row]), int(matrix.indptr[row + 1])
        if hi == lo:
            continue
        found = matrix.indices[lo:hi]
        order = np.argsort(found, kind="stable")
        ordered = found[order]
        pos = np.minimum(np.searchsorted(ordered, cols[mine]), hi - lo - 1)
        hit = ordered[pos] == cols[mine]
        out[mine[hit]] = lo + order[pos[hit]]
    return out


def entries(matrix: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``matrix[rows[i], cols[i]]`` as float64 (0 where absent)."""
    pos = entry_positions(matrix, rows, cols)
    return np.where(pos >= 0, matrix.data[np.maximum(pos, 0)], 0.0).astype(np.float64)


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
