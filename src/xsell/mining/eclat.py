"""Numba kernels of the itemset miner: Eclat on vertical tid-lists or bitsets.

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
needs three numbers per itemset whatever its length.
"""

from __future__ import annotations

import numpy as np
from numba import njit

OVERFLOW = -1


@njit(cache=True)
def project(indptr, indices, rank_of, n_ranks, keep_row):
    """Rank lists per basket (sorted) and tid-lists per rank (sorted)."""
    n_rows = len(indptr) - 1
    row_ptr = np.zeros(n_rows + 1, np.int64)
    col_count = np.zeros(n_ranks + 1, np.int64)
    for r in range(n_rows):
        kept = 0
        if keep_row[r]:
            for k in range(indptr[r], indptr[r + 1]):
                rank = rank_of[indices[k]]
                if rank >= 0:
                    kept += 1
                    col_count[rank + 1] += 1
        row_ptr[r + 1] = row_ptr[r] + kept
    row_items = np.empty(row_ptr[n_rows], np.int32)
    col_ptr = np.cumsum(col_count)
    col_fill = col_ptr[:-1].copy()
    col_tids = np.empty(col_ptr[n_ranks], np.int32)
    for r in range(n_rows):
        if not keep_row[r]:
            continue
        pos = row_ptr[r]
        for k in range(indptr[r], indptr[r + 1]):
            rank = rank_of[indices[k]]
            if rank >= 0:
                row_items[pos] = rank
                pos += 1
                col_tids[col_fill[rank]] = r
                col_fill[rank] += 1
        row_items[row_ptr[r] : pos].sort()
    return row_ptr, row_items, col_ptr, col_tids


@njit(cache=True)
def count_pairs(row_ptr, row_items, col_ptr, col_tids, n_ranks, min_count, cap):
    """Frequent pairs ``a < b`` as neighbour lists ``(nb_ptr, nb_item, nb_count)``.

    Returns ``nb_ptr[0] == OVERFLOW`` when more than ``cap`` pairs are frequent.
    """
    counter = np.zeros(n_ranks, np.int32)
    touched = np.empty(n_ranks, np.int32)
    nb_ptr = np.zeros(n_ranks + 1, np.int64)
    nb_item = np.empty(1024, np.int32)
    nb_count = np.empty(1024, np.int32)
    size = 0
    for a in range(n_ranks):
        n_touched = 0
        for k in range(col_ptr[a], col_ptr[a + 1]):
            t = col_tids[k]
            # Rows are sorted by rank: walk back from the largest until b <= a.
            for j in range(row_ptr[t + 1] - 1, row_ptr[t] - 1, -1):
                b = row_items[j]
                if b <= a:
                    break
                if counter[b] == 0:
                    touched[n_touched] = b
                    n_touched += 1
                counter[b] += 1
        start = size
        for k in range(n_touched):
            b = touched[k]
            if counter[b] >= min_count:
                if size == len(nb_item):
                    nb_item = _grow_i32(nb_item, size)
                    nb_count = _grow_i32(nb_count, size)
                nb_item[size] = b
                size += 1
        # Only the frequent partners need sorting, and their counts follow them.
        nb_item[start:size].sort()
        for k in range(start, size):
            nb_count[k] = counter[nb_item[k]]
        for k in range(n_touched):
            counter[touched[k]] = 0
        nb_ptr[a + 1] = size
        if size > cap:
            nb_ptr[0] = OVERFLOW
            return nb_ptr, nb_item[:size], nb_count[:size]
    return nb_ptr, nb_item[:size], nb_count[:size]


@njit(cache=True)
def pair_bits(nb_ptr, nb_item, n_ranks):
    """Bit matrix: bit ``b`` of row ``a`` is set when the pair ``a < b`` is frequent."""
    words = (n_ranks + 63) // 64
    bits = np.zeros((n_ranks, words), np.uint64)
    for a in range(n_ranks):
        for k in range(nb_ptr[a], nb_ptr[a + 1]):
            b = nb_item[k]
            bits[a, b >> 6] |= np.uint64(1) << np.uint64(b & 63)
    return bits


@njit(cache=True)
def tid_bitsets(col_ptr, col_tids, n_ranks, n_rows):
    """One bitset of baskets per rank (dense layout)."""
    words = (n_rows + 63) // 64
    bits = np.zeros((n_ranks, words), np.uint64)
    for a in range(n_ranks):
        for k in range(col_ptr[a], col_ptr[a + 1]):
            t = col_tids[k]
            bits[a, t >> 6] |= np.uint64(1) << np.uint64(t & 63)
    return bits


@njit(cache=True, inline="always")
def _popcount(x):
    # SWAR popcount (Hacker's Delight 5-2), branch-free on uint64.
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@njit(cache=True)
def _grow_i32(array, size):
    bigger = np.empty(max(2 * len(array), 1024), array.dtype)
    bigger[:size] = array[:size]
    return bigger


@njit(cache=True)
def _grow_i64(array, size):
    bigger = np.empty(max(2 * len(array), 1024), array.dtype)
    bigger[:size] = array[:size]
    return bigger


@njit(cache=True)
def _grow_u64(array, size):
    bigger = np.empty(max(2 * len(array), 1024), array.dtype)
    bigger[:size] = array[:size]
    return bigger


@njit(cache=True)
def _intersect(arena, a_off, a_len, b_off, b_len, out_off):
    """Merge two sorted tid-lists of the arena into the arena at ``out_off``; returns the length."""
    i = a_off
    j = b_off
    a_end = a_off + a_len
    b_end = b_off + b_len
    n = 0
    while i < a_end and j < b_end:
        x = arena[i]
        y = arena[j]
        if x == y:
            arena[out_off + n] = x
            n += 1
            i += 1
            j += 1
        elif x < y:
            i += 1
        else:
            j += 1
    return n


@njit(cache=True)
def _count_common(arena, a_off, a_len, b_off, b_len):
    i = a_off
    j = b_off
    a_end = a_off + a_len
    b_end = b_off + b_len
    n = 0
    while i < a_end and j < b_end:
        x = arena[i]
        y = arena[j]
        if x == y:
            n += 1
            i += 1
            j += 1
        elif x < y:
            i += 1
        else:
            j += 1
    return n


@njit(cache=True)
def mine(
    first,
    last,
    counts,
    nb_ptr,
    nb_item,
    nb_count,
    row_ptr,
    row_items,
    col_ptr,
    col_tids,
    bits,
    dense,
    prune,
    pairs_ok,
    min_count,
    max_len,
    cap,
):
    """Every frequent itemset whose smallest rank is in ``[first, last)``.

    Returns ``(parent, item, count, n)``: node ``i`` is the itemset of node
    ``parent[i]`` (``-1`` for none) plus rank ``item[i]``, supported by ``count[i]``
    baskets. ``n == OVERFLOW`` when more than ``cap`` itemsets were found.
    """
    parent = np.empty(1024, np.int64)
    item = np.empty(1024, np.int32)
    count = np.empty(1024, np.int32)
    n_out = 0
    words = bits.shape[1]
    # Arenas (LIFO): tid-lists (sparse) or bitsets (dense) of the open classes.
    tids = np.empty(1024 if dense else max(1024, 4 * len(col_tids) // 3), np.int32)
    if not dense:
        tids[: len(col_tids)] = col_tids
    bitarena = np.empty(1024 if not dense else 64 * words, np.uint64)
    base = 0 if dense else len(col_tids)
    # Members of open classes: rank, offset + length of its tid-list/bitset, node.
    m_item = np.empty(256, np.int32)
    m_off = np.empty(256, np.int64)
    m_len = np.empty(256, np.int64)
    m_node = np.empty(256, np.int64)
    # Frames: a class = members [start, end), next member to extend, arena top, depth.
    depth_cap = 2 + (max_len if max_len > 0 else len(counts))
    f_start = np.empty(depth_cap, np.int64)
    f_end = np.empty(depth_cap, np.int64)
    f_pos = np.empty(depth_cap, np.int64)
    f_top = np.empty(depth_cap, np.int64)
    f_len = np.empty(depth_cap, np.int64)
    slot_of = np.full(len(counts), -1, np.int64)
    for a in range(first, last):
        if n_out + 1 > len(parent):
            parent = _grow_i64(parent, n_out)
            item = _grow_i32(item, n_out)
            count = _grow_i32(count, n_out)
        node_a = n_out
        parent[n_out] = -1
        item[n_out] = a
        count[n_out] = counts[a]
        n_out += 1
        if max_len == 1:
            continue
        n_members = 0
        top = base
        for k in range(nb_ptr[a], nb_ptr[a + 1]):
            if n_out + 1 > len(parent):
                parent = _grow_i64(parent, n_out)
                item = _grow_i32(item, n_out)
                count = _grow_i32(count, n_out)
            b = nb_item[k]
            parent[n_out] = node_a
            item[n_out] = b
            count[n_out] = nb_count[k]
            n_out += 1
            if max_len == 2:
                continue
            if n_members + 1 > len(m_item):
                m_item = _grow_i32(m_item, n_members)
                m_off = _grow_i64(m_off, n_members)
                m_len = _grow_i64(m_len, n_members)
                m_node = _grow_i64(m_node, n_members)
            if dense:
                if top + words > len(bitarena):
                    bitarena = _grow_u64(bitarena, top)
                for w in range(words):
                    bitarena[top + w] = bits[a, w] & bits[b, w]
                m_off[n_members] = top
                m_len[n_members] = nb_count[k]
                top += words
            else:
                # Filled below in one scan of a's baskets.
                slot_of[b] = n_members
                m_off[n_members] = top
                m_len[n_members] = 0
                top += nb_count[k]
            m_item[n_members] = b
            m_node[n_members] = n_out - 1
            n_members += 1
        if n_out > cap:
            return parent[:n_out], item[:n_out], count[:n_out], OVERFLOW
        if max_len != 2 and not dense and n_members > 0:
            # Projected database: the baskets of a, scanned once, give every tid(a ∪ b)
            # without merging a short list against a long one.
            if top > len(tids):
                tids = _grow_i32(tids, base)
                while top > len(tids):
                    tids = _grow_i32(tids, base)
            for k in range(col_ptr[a], col_ptr[a + 1]):
                t = col_tids[k]
                for j in range(row_ptr[t + 1] - 1, row_ptr[t] - 1, -1):
                    b = row_items[j]
                    if b <= a:
                        break
                    slot = slot_of[b]
                    if slot >= 0:
                        tids[m_off[slot] + m_len[slot]] = t
                        m_len[slot] += 1
            for k in range(n_members):
                slot_of[m_item[k]] = -1
        if max_len == 2 or n_members < 2:
            continue
        depth = 0
        f_start[0] = 0
        f_end[0] = n_members
        f_pos[0] = 0
        f_top[0] = base
        f_len[0] = 2
        m_top = n_members
        while depth >= 0:
            i = f_pos[depth]
            end = f_end[depth]
            if i >= end - 1:
                # Class done: free its members and their tid-lists.
                m_top = f_start[depth]
                top = f_top[depth]
                depth -= 1
                continue
            f_pos[depth] = i + 1
            new_len = f_len[depth] + 1
            keep = max_len <= 0 or new_len < max_len
            child_start = m_top
            child_top = top
            mi = m_item[i]
            for j in range(i + 1, end):
                mj = m_item[j]
                if prune and not (pairs_ok[mi, mj >> 6] >> np.uint64(mj & 63)) & np.uint64(1):
                    continue
                if dense:
                    if top + words > len(bitarena):
                        bitarena = _grow_u64(bitarena, top)
                    c = 0
                    oi = m_off[i]
                    oj = m_off[j]
                    for w in range(words):
                        x = bitarena[oi + w] & bitarena[oj + w]
                        bitarena[top + w] = x
                        c += _popcount(x)
                else:
                    if keep:
                        need = min(m_len[i], m_len[j])
                        if top + need > len(tids):
                            tids = _grow_i32(tids, top)
                        c = _intersect(tids, m_off[i], m_len[i], m_off[j], m_len[j], top)
                    else:
                        c = _count_common(tids, m_off[i], m_len[i], m_off[j], m_len[j])
                if c < min_count:
                    continue
                if n_out + 1 > len(parent):
                    parent = _grow_i64(parent, n_out)
                    item = _grow_i32(item, n_out)
                    count = _grow_i32(count, n_out)
                parent[n_out] = m_node[i]
                item[n_out] = mj
                count[n_out] = c
                n_out += 1
                if n_out > cap:
                    return parent[:n_out], item[:n_out], count[:n_out], OVERFLOW
                if not keep:
                    continue
                if m_top + 1 > len(m_item):
                    m_item = _grow_i32(m_item, m_top)
                    m_off = _grow_i64(m_off, m_top)
                    m_len = _grow_i64(m_len, m_top)
                    m_node = _grow_i64(m_node, m_top)
                m_item[m_top] = mj
                m_off[m_top] = top
                m_len[m_top] = c
                m_node[m_top] = n_out - 1
                m_top += 1
                top += words if dense else c
            if m_top - child_start >= 2:
                depth += 1
                f_start[depth] = child_start
                f_end[depth] = m_top
                f_pos[depth] = child_start
                f_top[depth] = child_top
                f_len[depth] = new_len
            else:
                m_top = child_start
                top = child_top
    return parent[:n_out], item[:n_out], count[:n_out], n_out


@njit(cache=True)
def paths(parent, item):
    """Length of every node's itemset and its ranks, flat, in root-to-leaf order."""
    n = len(parent)
    length = np.empty(n, np.int64)
    for i in range(n):
        length[i] = 1 if parent[i] < 0 else length[parent[i]] + 1
    offsets = np.zeros(n + 1, np.int64)
    for i in range(n):
        offsets[i + 1] = offsets[i] + length[i]
    flat = np.empty(offsets[n], np.int32)
    for i in range(n):
        node = i
        pos = offsets[i + 1] - 1
        while node >= 0:
            flat[pos] = item[node]
            pos -= 1
            node = parent[node]
    return length, offsets, flat
