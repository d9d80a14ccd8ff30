"""Kernels of the itemset miner: Eclat on vertical tid-lists or bitsets, compiled ahead of time.

The data arrive as *ranks*: frequent items renumbered ``0..n-1`` by ascending
support (Eclat's classic order, which keeps the intersected lists short).

* :func:`project` drops infrequent items and builds both layouts: baskets as
  rank lists (rows) and items as sorted basket lists (tid-lists).
* :func:`count_pairs` counts every pair ``a < b`` in one pass per item ``a`` over
  the baskets holding it, with a dense counter: the work is the number of item
  pairs inside baskets (what ``X.T @ X`` costs) without materialising the product.
* :func:`mine` runs the depth-first Eclat from level 3 on, on an explicit stack:
  the tid-lists of a class live in a LIFO arena, so memory is bounded by the
  depth of the search, never by the number of itemsets found. Sparse data use
  sorted tid-lists (merge intersection); dense data use bitsets (AND + popcount).

Found itemsets are written as a forest: ``(parent node, item rank, count)``, which
needs three numbers per itemset whatever its length; :func:`level_rows` turns it
into one matrix of item indices per itemset length.

The kernels are C (``_eclat.c``, built by ``pip install``), not Numba: mining a file
from the command line then costs no JIT start-up (importing Numba and setting up its
compiler take about 0.45 s, more than reading and mining FIMI ``retail.dat``). These
wrappers check dtypes and turn the kernels' bytearrays into NumPy arrays (no copy).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from xsell.mining import _eclat

#: What :func:`mine` and :func:`count_pairs` return as their count when they passed ``cap``.
OVERFLOW = -1


def _i64(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.int64)


def _i32(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.int32)


def project(
    indptr: np.ndarray,
    indices: np.ndarray,
    rank_of: np.ndarray,
    n_ranks: int,
    keep_row: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rank lists per basket (sorted) and tid-lists per rank (sorted).

    Returns ``(row_ptr, row_items, col_ptr, col_tids)``: the baskets kept by
    ``keep_row`` as rows of ranks (items with ``rank_of < 0`` dropped), and each
    rank's baskets in ascending order.
    """
    row_ptr, row_items, col_ptr, col_tids = _eclat.project(
        _i64(indptr),
        _i32(indices),
        _i32(rank_of),
        int(n_ranks),
        np.ascontiguousarray(keep_row, dtype=np.bool_),
    )
    return (
        np.frombuffer(row_ptr, np.int64),
        np.frombuffer(row_items, np.int32),
        np.frombuffer(col_ptr, np.int64),
        np.frombuffer(col_tids, np.int32),
    )


class Pairs(NamedTuple):
    """Frequent pairs ``a < b`` as neighbour lists, and a histogram of all their counts."""

    nb_ptr: np.ndarray  # int64, n_ranks + 1
    nb_item: np.ndarray  # int32, the partners b of each a, ascending
    nb_count: np.ndarray  # int32, their basket counts
    histogram: np.ndarray  # int64: histogram[c] = frequent pairs seen in exactly c baskets
    found: int  # frequent pairs, or OVERFLOW when more than cap were listed


def count_pairs(
    row_ptr: np.ndarray,
    row_items: np.ndarray,
    col_ptr: np.ndarray,
    col_tids: np.ndarray,
    n_ranks: int,
    min_count: int,
    cap: int,
) -> Pairs:
    """Every pair seen in at least ``min_count`` baskets.

    The lists stop growing past ``cap`` pairs (``found`` is then ``OVERFLOW`` and
    the lists are incomplete), but the pass runs to the end, so ``histogram``
    always counts every frequent pair: how many pairs there are at any higher
    floor is known even after an overflow.
    """
    nb_ptr, nb_item, nb_count, histogram, found = _eclat.count_pairs(
        _i64(row_ptr), _i32(row_items), _i64(col_ptr), _i32(col_tids),
        int(n_ranks), int(min_count), int(cap),
    )  # fmt: skip
    return Pairs(
        np.frombuffer(nb_ptr, np.int64),
        np.frombuffer(nb_item, np.int32),
        np.frombuffer(nb_count, np.int32),
        np.frombuffer(histogram, np.int64),
        int(found),
    )


def pair_bits(nb_ptr: np.ndarray, nb_item: np.ndarray, n_ranks: int) -> np.ndarray:
    """Bit matrix: bit ``b`` of row ``a`` is set when the pair ``a < b`` is frequent."""
    words = (n_ranks + 63) // 64
    bits = _eclat.pair_bits(_i64(nb_ptr), _i32(nb_item), int(n_ranks))
    return np.frombuffer(bits, np.uint64).reshape(n_ranks, words)


def tid_bitsets(col_ptr: np.ndarray, col_tids: np.ndarray, n_ranks: int, n_rows: int) -> np.ndarray:
    """One bitset of baskets per rank (dense layout)."""
    words = (n_rows + 63) // 64
    bits = _eclat.tid_bitsets(_i64(col_ptr), _i32(col_tids), int(n_ranks), int(n_rows))
    return np.frombuffer(bits, np.uint64).reshape(n_ranks, words)


class Forest(NamedTuple):
    """Found itemsets: node ``i`` is node ``parent[i]``'s itemset (``-1``: none) + ``item[i]``."""

    parent: np.ndarray  # int64
    item: np.ndarray  # int32 ranks
    counts: np.ndarray  # int32 basket counts
    found: int  # nodes, or OVERFLOW when more than cap were found


def mine(
    roots: np.ndarray,
    counts: np.ndarray,
    pairs: Pairs,
    row_ptr: np.ndarray,
    row_items: np.ndarray,
    col_ptr: np.ndarray,
    col_tids: np.ndarray,
    bits: np.ndarray | None,
    pairs_ok: np.ndarray | None,
    min_count: int,
    max_len: int,
    cap: int,
) -> Forest:
    """Every frequent itemset whose smallest rank is one of ``roots``, class by class.

    ``counts`` are the ranks' basket counts; ``pairs`` the frequent pairs (listed
    at ``min_count`` or below: pairs and roots under ``min_count`` are skipped);
    ``bits`` the tid bitsets for the dense layout (``None``: tid-lists);
    ``pairs_ok`` the :func:`pair_bits` matrix to skip candidates holding an
    infrequent pair (``None``: no pruning). ``max_len`` 0 means no limit.
    """
    dense = bits is not None
    prune = pairs_ok is not None
    no_bits = np.zeros((1, 1), np.uint64)
    bits_ = np.ascontiguousarray(bits if dense else no_bits, dtype=np.uint64)
    pairs_ok_ = np.ascontiguousarray(pairs_ok if prune else no_bits, dtype=np.uint64)
    parent, item, count, found = _eclat.mine(
        _i64(roots), _i32(counts), _i64(pairs.nb_ptr), _i32(pairs.nb_item),
        _i32(pairs.nb_count), _i64(row_ptr), _i32(row_items), _i64(col_ptr), _i32(col_tids),
        bits_, int(bits_.shape[1]), dense, prune, pairs_ok_, int(pairs_ok_.shape[1]),
        int(min_count), int(max_len), int(cap),
    )  # fmt: skip
    return Forest(
        np.frombuffer(parent, np.int64),
        np.frombuffer(item, np.int32),
        np.frombuffer(count, np.int32),
        int(found),
    )


def level_rows(
    parent: np.ndarray, item: np.ndarray, count: np.ndarray, item_of_rank: np.ndarray
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per itemset length L: ``(rows, counts)``, rows an ``(n_L, L)`` int32 matrix of item
    indices ``item_of_rank[rank]``, each row ascending, in the forest's order."""
    flat_b, found_b, sizes_b = _eclat.level_rows(
        _i64(parent), _i32(item), _i32(count), _i32(item_of_rank)
    )
    flat = np.frombuffer(flat_b, np.int32)
    found = np.frombuffer(found_b, np.int64)
    sizes = np.frombuffer(sizes_b, np.int64)
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    row = start = 0
    for size, n in enumerate(sizes.tolist()):
        if n:
            out[size] = (
                flat[start : start + n * size].reshape(n, size),
                found[row : row + n],
            )
        row += n
        start += n * size
    return out


def level_counts(parent: np.ndarray) -> np.ndarray:
    """How many nodes of the forest have each itemset length (index = length)."""
    return np.frombuffer(_eclat.level_counts(_i64(parent)), np.int64)
