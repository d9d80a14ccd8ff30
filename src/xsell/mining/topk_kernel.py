"""Numba kernel of the top-k rule search: branch and bound over rules ``A -> c``.

The search never lists every frequent itemset. It keeps the ``k`` best rules
found so far in a heap and skips every part of the search that cannot beat the
``k``-th of them.

* **Order.** Rules are ranked by a key (lift, confidence, support or count)
  descending, then ``count`` descending, then shorter rules first, then the
  antecedent's item indices and the consequent's index ascending: a total order,
  the same one :func:`xsell.mining.association_rules` sorts by.
* **Bound.** Every rule ``A' -> c`` with ``A' ⊇ A`` has ``n(A'c) <= n(Ac)`` and
  confidence at most 1, so its key is at most the key of a confidence-1 rule seen
  in ``n(Ac)`` baskets: ``n / n(c)`` for lift, ``1`` for confidence, ``n(Ac)``
  for count. Keys are exact fractions rounded once (:func:`rule_key`) and
  rounding is monotone, so a bound never falls below a key it bounds and an
  exact tie is a real tie (decided by count, then length).
* **Search.** Per consequent ``c`` (most promising first) the antecedents are
  mined depth-first inside the baskets of ``c`` (where ``n(Ac)`` is counted),
  while their baskets in the whole data give ``n(A)``. The antecedent length
  limit grows one item per round (iterative deepening), so short rules fill the
  heap first and a round that finds nothing could grow stops the search.

Items arrive as ranks ``0..F-1`` (frequent items by ascending count), with
baskets as sorted rank lists (``row_ptr``, ``row_items``) and items as sorted
basket lists (``col_ptr``, ``col_tids``), as built by
:func:`xsell.mining.eclat.project`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from xsell.mining.metrics import confidence, lift
from xsell.mining.significance import fisher_greater

#: Keys the search can rank by (their bounds are proven above).
KEY_LIFT, KEY_CONFIDENCE, KEY_SUPPORT, KEY_COUNT = 0, 1, 2, 3
#: Status of a search: finished, or stopped at the cap on examined itemsets.
DONE, OVER_CAP = 0, 1

# The registry's own formulas, compiled for scalars, so min_confidence and min_lift filter
# exactly as association_rules does (one home per formula). Numba's cache tracks this
# file only: after editing mining/metrics.py, touch this file to recompile.
_lift = njit(cache=True)(lift)
_confidence = njit(cache=True)(confidence)


@njit(cache=True)
def rule_key(kind, n_ac, n_a, n_c, n):
    """The ranking key of a rule from its basket counts: the exact fraction, rounded once.

    Lift ``n(AC) n / (n(A) n(C))``, confidence ``n(AC) / n(A)``, support
    ``n(AC) / n``, count: numerator and denominator are whole numbers held
    exactly in a float (below 2**53), so one correctly rounded division makes
    equal fractions equal keys and keeps their order. The table's metric columns
    come from :mod:`xsell.mining.metrics`, whose float formulas may differ from
    this key in the last bit; ranking by the key makes ties real ties.
    """
    if kind == KEY_LIFT:
        return float(n_ac * n) / float(n_a * n_c)
    if kind == KEY_CONFIDENCE:
        return float(n_ac) / float(n_a)
    if kind == KEY_SUPPORT:
        return float(n_ac) / float(n)
    return float(n_ac)


@njit(cache=True)
def _bound(kind, x, n_c, n):
    # The key of a confidence-1 rule seen in x baskets: the best any rule below can do.
    return rule_key(kind, x, x, n_c, n)


@njit(cache=True)
def _worse(key, count, length, w_key, w_count, w_length):
    """Is ``(key, count, length)`` strictly behind ``(w_key, w_count, w_length)``?"""
    if key != w_key:
        return key < w_key
    if count != w_count:
        return count < w_count
    return length > w_length


@njit(cache=True)
def _slot_better(a, b, h_key, h_count, h_len, h_cons, h_ante):
    """Does heap slot ``a`` rank before slot ``b`` (the full total order)?"""
    if h_key[a] != h_key[b]:
        return h_key[a] > h_key[b]
    if h_count[a] != h_count[b]:
        return h_count[a] > h_count[b]
    if h_len[a] != h_len[b]:
        return h_len[a] < h_len[b]
    for p in range(h_len[a] - 1):
        if h_ante[a, p] != h_ante[b, p]:
            return h_ante[a, p] < h_ante[b, p]
    return h_cons[a] < h_cons[b]


@njit(cache=True)
def _sift_down(heap, size, h_key, h_count, h_len, h_cons, h_ante):
    # Worst rule at the root: a parent is never better than its children.
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            return
        worst = left
        right = left + 1
        if right < size and _slot_better(
            heap[worst], heap[right], h_key, h_count, h_len, h_cons, h_ante
        ):
            worst = right
        if _slot_better(heap[i], heap[worst], h_key, h_count, h_len, h_cons, h_ante):
            heap[i], heap[worst] = heap[worst], heap[i]
            i = worst
        else:
            return


@njit(cache=True)
def _sift_up(heap, pos, h_key, h_count, h_len, h_cons, h_ante):
    while pos > 0:
        parent = (pos - 1) // 2
        if _slot_better(heap[parent], heap[pos], h_key, h_count, h_len, h_cons, h_ante):
            heap[parent], heap[pos] = heap[pos], heap[parent]
            pos = parent
        else:
            return


@njit(cache=True)
def _count_common(arena, a_off, a_len, b_off, b_len, need):
    """Size of the intersection of two sorted arena lists (galloping when lopsided).

    Gives up (returns something below ``need``) as soon as ``need`` is out of reach.
    """
    if a_len > b_len:
        a_off, a_len, b_off, b_len = b_off, b_len, a_off, a_len
    if a_len < need:
        return 0
    n = 0
    if b_len > 16 * a_len:
        lo = b_off
        b_end = b_off + b_len
        for i in range(a_off, a_off + a_len):
            x = arena[i]
            hi = b_end
            while lo < hi:
                mid = (lo + hi) >> 1
                if arena[mid] < x:
                    lo = mid + 1
                else:
                    hi = mid
            if lo == b_end:
                break
            if arena[lo] == x:
                n += 1
                lo += 1
            elif n + a_off + a_len - i - 1 < need:
                return n
        return n
    i = a_off
    j = b_off
    a_end = a_off + a_len
    b_end = b_off + b_len
    # Misses allowed on each side before need is out of reach.
    slack_a = a_len - need
    slack_b = b_len - need
    while i < a_end and j < b_end:
        x = arena[i]
        y = arena[j]
        if x == y:
            n += 1
            i += 1
            j += 1
        elif x < y:
            i += 1
            slack_a -= 1
            if slack_a < 0:
                return n
        else:
            j += 1
            slack_b -= 1
            if slack_b < 0:
                return n
    return n


@njit(cache=True)
def _count_capped(arena, a_off, a_len, b_off, b_len, limit):
    """Size of the intersection of two sorted arena lists, or ``limit + 1`` once it passes limit."""
    if a_len > b_len:
        a_off, a_len, b_off, b_len = b_off, b_len, a_off, a_len
    n = 0
    if b_len > 16 * a_len:
        lo = b_off
        b_end = b_off + b_len
        for i in range(a_off, a_off + a_len):
            x = arena[i]
            hi = b_end
            while lo < hi:
                mid = (lo + hi) >> 1
                if arena[mid] < x:
                    lo = mid + 1
                else:
                    hi = mid
            if lo == b_end:
                break
            if arena[lo] == x:
                n += 1
                lo += 1
                if n > limit:
                    return n
        return n
    i = a_off
    j = b_off
    a_end = a_off + a_len
    b_end = b_off + b_len
    while i < a_end and j < b_end:
        x = arena[i]
        y = arena[j]
        if x == y:
            n += 1
            if n > limit:
                return n
            i += 1
            j += 1
        elif x < y:
            i += 1
        else:
            j += 1
    return n


@njit(cache=True)
def _most_baskets(kind, together, n_c, n, t_key, t_len):
    """The most baskets an antecedent seen with c in ``together`` baskets may have and still rank.

    Only lift and confidence fall as the antecedent grows more common; a margin
    keeps the limit on the safe side of rounding (the exact test comes after).
    """
    if t_len == 0 or t_key <= 0.0:
        return n
    if kind == KEY_LIFT:
        limit = together * (n / n_c) / t_key
    elif kind == KEY_CONFIDENCE:
        limit = together / t_key
    else:
        return n
    return min(n, int(limit * (1.0 + 1e-9)) + 1)


@njit(cache=True)
def _intersect(arena, a_off, a_len, b_off, b_len, out_off, need):
    """Write the intersection of two sorted arena lists at ``out_off``; returns its length.

    Gives up (returns something below ``need``) as soon as ``need`` is out of reach.
    """
    if a_len > b_len:
        a_off, a_len, b_off, b_len = b_off, b_len, a_off, a_len
    n = 0
    if a_len < need:
        return 0
    if b_len > 16 * a_len:
        lo = b_off
        b_end = b_off + b_len
        for i in range(a_off, a_off + a_len):
            x = arena[i]
            hi = b_end
            while lo < hi:
                mid = (lo + hi) >> 1
                if arena[mid] < x:
                    lo = mid + 1
                else:
                    hi = mid
            if lo == b_end:
                break
            if arena[lo] == x:
                arena[out_off + n] = x
                n += 1
                lo += 1
            elif n + a_off + a_len - i - 1 < need:
                return n
        return n
    i = a_off
    j = b_off
    a_end = a_off + a_len
    b_end = b_off + b_len
    slack_a = a_len - need
    slack_b = b_len - need
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
            slack_a -= 1
            if slack_a < 0:
                return n
        else:
            j += 1
            slack_b -= 1
            if slack_b < 0:
                return n
    return n


@njit(cache=True)
def _ensure(arena, need):
    if need <= len(arena):
        return arena
    bigger = np.empty(max(need, 2 * len(arena)), arena.dtype)
    bigger[: len(arena)] = arena
    return bigger


@njit(cache=True)
def _grow_rows(matrix, width):
    bigger = np.zeros((matrix.shape[0], width), matrix.dtype)
    bigger[:, : matrix.shape[1]] = matrix
    return bigger


@njit(cache=True)
def _offer(
    kind,
    c,
    together,
    n_a,
    n_c,
    n,
    min_confidence,
    min_lift,
    max_p,
    dense_of,
    path,
    length,
    k,
    size,
    free,
    heap,
    h_key,
    h_count,
    h_na,
    h_len,
    h_cons,
    h_ante,
    floor_key,
    floor_count,
    floor_len,
):
    """Rank the rule ``path[:length] -> c`` among the k best; returns ``(size, free, h_ante)``.

    ``free`` is the one slot outside the heap; the rule is written there and
    swapped in when it beats the worst rule (which then becomes the free slot).
    """
    key = rule_key(kind, together, n_a, n_c, n)
    t_key, t_count, t_len = _threshold(
        size, k, heap, h_key, h_count, h_len, floor_key, floor_count, floor_len
    )
    if t_len > 0 and _worse(key, together, length + 1, t_key, t_count, t_len):
        return size, free, h_ante
    s_ac = together / n
    s_a = n_a / n
    s_c = n_c / n
    if _confidence(s_a, s_c, s_ac) < min_confidence or _lift(s_a, s_c, s_ac) < min_lift:
        return size, free, h_ante
    if max_p < 1.0 and fisher_greater(together, n_a, n_c, n) > max_p:
        return size, free, h_ante
    if h_ante.shape[1] < length:
        h_ante = _grow_rows(h_ante, max(length, 2 * h_ante.shape[1]))
    h_key[free] = key
    h_count[free] = together
    h_na[free] = n_a
    h_len[free] = length + 1
    h_cons[free] = dense_of[c]
    for p in range(length):
        h_ante[free, p] = dense_of[path[p]]
    h_ante[free, :length].sort()
    if size < k:
        heap[size] = free
        _sift_up(heap, size, h_key, h_count, h_len, h_cons, h_ante)
        return size + 1, size + 1, h_ante
    w = heap[0]
    if _slot_better(free, w, h_key, h_count, h_len, h_cons, h_ante):
        heap[0] = free
        _sift_down(heap, size, h_key, h_count, h_len, h_cons, h_ante)
        return size, w, h_ante
    return size, free, h_ante


@njit(cache=True)
def _threshold(size, k, heap, h_key, h_count, h_len, floor_key, floor_count, floor_len):
    """The rule to beat: the k-th best so far, else the floor (``length 0``: none yet)."""
    if size == k:
        w = heap[0]
        return h_key[w], h_count[w], h_len[w]
    return floor_key, floor_count, floor_len


@njit(cache=True)
def _need(kind, n_c, n, length, min_count, t_key, t_count, t_len):
    """Fewest baskets a rule of ``length`` or more items with consequent c needs to rank.

    ``n + 1`` when none can: the bound of every such rule is behind the rule to beat
    ``(t_key, t_count, t_len)``.
    """
    if t_len == 0:
        return min_count
    if kind in (KEY_LIFT, KEY_CONFIDENCE):
        # The bound does not depend on the count: it decides, or ties and the count does.
        bound = _bound(kind, n_c, n_c, n)
        if bound > t_key:
            return min_count
        if bound < t_key:
            return n + 1
    # A tie on the key (or a key that grows with the count): beat the count to beat.
    need = t_count if length <= t_len else t_count + 1
    if kind in (KEY_SUPPORT, KEY_COUNT):
        while need > min_count and not _worse(
            _bound(kind, need - 1, n_c, n), need - 1, length, t_key, t_count, t_len
        ):
            need -= 1
        while need <= n and _worse(_bound(kind, need, n_c, n), need, length, t_key, t_count, t_len):
            need += 1
    return max(need, min_count)


@njit(cache=True)
def _hopeless(kind, together, n_c, n, length, t_key, t_count, t_len):
    """Can no rule of ``length`` or more items, seen in at most ``together`` baskets, rank?"""
    if t_len == 0:
        return False
    return _worse(_bound(kind, together, n_c, n), together, length, t_key, t_count, t_len)


@njit(cache=True)
def top_rules(
    k,
    kind,
    counts,
    dense_of,
    row_ptr,
    row_items,
    col_ptr,
    col_tids,
    cons_order,
    cons_ok,
    ante_ok,
    n,
    min_count,
    max_ante,
    min_confidence,
    min_lift,
    max_p,
    cap,
    floor_key,
    floor_count,
    floor_len,
):
    """The ``k`` best rules ``A -> c`` (single-item consequent) with ``n(Ac) >= min_count``.

    ``cons_order`` lists the consequent ranks by descending ``(bound, count)``;
    ``max_ante`` is the longest antecedent (``>= 1``). Rules failing
    ``min_confidence``, ``min_lift`` or ``max_p`` (one-sided Fisher p-value;
    ``>= 1`` turns it off) are never ranked. Returns ``(consequent, antecedents,
    count, antecedent_count, examined, status)``, best rule first, as dense item
    indices (antecedent rows padded with ``-1``); ``examined`` counts the
    itemsets looked at, ``status`` is ``OVER_CAP`` when that passed ``cap``, and
    ``rounds`` is the longest antecedent searched to the end, ``filled`` the
    rules the heap held then.
    """
    n_ranks = len(counts)
    h_key = np.empty(k + 1, np.float64)
    h_count = np.empty(k + 1, np.int64)
    h_na = np.empty(k + 1, np.int64)
    h_len = np.empty(k + 1, np.int64)
    h_cons = np.empty(k + 1, np.int64)
    h_ante = np.full((k + 1, 2), -1, np.int64)
    heap = np.zeros(k + 1, np.int64)
    size = 0
    free = 0

    counter = np.zeros(n_ranks, np.int64)
    touched = np.empty(n_ranks, np.int64)
    slot_of = np.full(n_ranks, -1, np.int64)
    # LIFO arenas of basket lists: inside c's baskets (proj) and in all baskets (full);
    # full starts with every item's own list.
    proj = np.empty(1024, np.int32)
    full = np.empty(len(col_tids) + 1024, np.int32)
    full[: len(col_tids)] = col_tids
    base = len(col_tids)
    m_item = np.empty(256, np.int64)
    m_poff = np.empty(256, np.int64)
    m_plen = np.empty(256, np.int64)
    m_foff = np.empty(256, np.int64)
    m_flen = np.empty(256, np.int64)
    examined = 0
    status = DONE
    rounds = 0
    filled = 0

    d = 0
    while d < max_ante:
        d += 1
        deeper = False
        f_start = np.empty(d + 1, np.int64)
        f_end = np.empty(d + 1, np.int64)
        f_pos = np.empty(d + 1, np.int64)
        f_ptop = np.empty(d + 1, np.int64)
        f_ftop = np.empty(d + 1, np.int64)
        path = np.empty(d + 1, np.int64)
        for ci in range(len(cons_order)):
            c = cons_order[ci]
            if not cons_ok[c]:
                continue
            n_c = counts[c]
            t_key, t_count, t_len = _threshold(
                size, k, heap, h_key, h_count, h_len, floor_key, floor_count, floor_len
            )
            need = _need(kind, n_c, n, d + 1, min_count, t_key, t_count, t_len)
            if need > n_c:
                break  # cons_order is by descending (bound, count): no later one can rank
            # Items bought with c at least min_count times: the possible antecedent items.
            n_touched = 0
            for q in range(col_ptr[c], col_ptr[c + 1]):
                t = col_tids[q]
                for p in range(row_ptr[t], row_ptr[t + 1]):
                    x = row_items[p]
                    if x == c or not ante_ok[x]:
                        continue
                    if counter[x] == 0:
                        touched[n_touched] = x
                        n_touched += 1
                    counter[x] += 1
            n_members = 0
            for q in range(n_touched):
                x = touched[q]
                together = counter[x]
                if together < min_count:
                    continue
                examined += 1
                if d == 1:
                    path[0] = x
                    size, free, h_ante = _offer(
                        kind, c, together, counts[x], n_c, n, min_confidence, min_lift, max_p,
                        dense_of, path, 1, k, size, free, heap, h_key, h_count, h_na, h_len,
                        h_cons, h_ante, floor_key, floor_count, floor_len,
                    )  # fmt: skip
                    if max_ante >= 2 and n_touched >= 2:
                        t_key, t_count, t_len = _threshold(
                            size, k, heap, h_key, h_count, h_len, floor_key, floor_count, floor_len
                        )
                        if not _hopeless(kind, together, n_c, n, 3, t_key, t_count, t_len):
                            deeper = True
                    continue
                if together < need:
                    continue
                m_item = _ensure(m_item, n_members + 1)
                m_item[n_members] = x
                n_members += 1
            if d == 1 or n_members < 2:
                for q in range(n_touched):
                    counter[touched[q]] = 0
                continue
            # Members in rank order, each with its baskets among c's (proj) and in all (full).
            m_item[:n_members].sort()
            m_poff = _ensure(m_poff, n_members)
            m_plen = _ensure(m_plen, n_members)
            m_foff = _ensure(m_foff, n_members)
            m_flen = _ensure(m_flen, n_members)
            top = 0
            for q in range(n_members):
                x = m_item[q]
                slot_of[x] = q
                m_poff[q] = top
                m_plen[q] = 0
                top += counter[x]
                m_foff[q] = col_ptr[x]
                m_flen[q] = counts[x]
            for q in range(n_touched):
                counter[touched[q]] = 0
            proj = _ensure(proj, top)
            for q in range(col_ptr[c], col_ptr[c + 1]):
                t = col_tids[q]
                for p in range(row_ptr[t], row_ptr[t + 1]):
                    s = slot_of[row_items[p]]
                    if s >= 0:
                        proj[m_poff[s] + m_plen[s]] = t
                        m_plen[s] += 1
            for q in range(n_members):
                slot_of[m_item[q]] = -1
            ptop = top
            ftop = base
            level = 0
            f_start[0] = 0
            f_end[0] = n_members
            f_pos[0] = 0
            f_ptop[0] = ptop
            f_ftop[0] = ftop
            m_top = n_members
            # The frame at `level` holds antecedents of level + 1 items (prefix: path[:level]).
            while level >= 0:
                i = f_pos[level]
                end = f_end[level]
                if i >= end - 1:
                    m_top = f_start[level]
                    ptop = f_ptop[level]
                    ftop = f_ftop[level]
                    level -= 1
                    continue
                f_pos[level] = i + 1
                if examined > cap:
                    status = OVER_CAP
                    break
                t_key, t_count, t_len = _threshold(
                    size, k, heap, h_key, h_count, h_len, floor_key, floor_count, floor_len
                )
                need = _need(kind, n_c, n, d + 1, min_count, t_key, t_count, t_len)
                if m_plen[i] < need:
                    continue
                if level + 2 == d:
                    # Leaves: antecedent = prefix + members i and j, d items.
                    path[level] = m_item[i]
                    for j in range(i + 1, end):
                        examined += 1
                        together = _count_common(
                            proj, m_poff[i], m_plen[i], m_poff[j], m_plen[j], need
                        )
                        if together < need:
                            continue
                        t_key, t_count, t_len = _threshold(
                            size, k, heap, h_key, h_count, h_len, floor_key, floor_count, floor_len
                        )
                        most = _most_baskets(kind, together, n_c, n, t_key, t_len)
                        n_a = _count_capped(full, m_foff[i], m_flen[i], m_foff[j], m_flen[j], most)
                        if n_a > most:
                            continue  # so common an antecedent cannot lift or confirm enough
                        path[level + 1] = m_item[j]
                        size, free, h_ante = _offer(
                            kind, c, together, n_a, n_c, n, min_confidence, min_lift, max_p,
                            dense_of, path, d, k, size, free, heap, h_key, h_count, h_na, h_len,
                            h_cons, h_ante, floor_key, floor_count, floor_len,
                        )  # fmt: skip
                        if d < max_ante and j + 1 < end and not deeper:
                            t_key, t_count, t_len = _threshold(
                                size, k, heap, h_key, h_count, h_len, floor_key, floor_count,
                                floor_len,
                            )  # fmt: skip
                            if not _hopeless(kind, together, n_c, n, d + 2, t_key, t_count, t_len):
                                deeper = True
                    continue
                # Inner node: the members after i, intersected with i, form the next frame.
                child_start = m_top
                child_ptop = ptop
                child_ftop = ftop
                for j in range(i + 1, end):
                    proj = _ensure(proj, ptop + min(m_plen[i], m_plen[j]))
                    examined += 1
                    together = _intersect(
                        proj, m_poff[i], m_plen[i], m_poff[j], m_plen[j], ptop, need
                    )
                    if together < need:
                        continue
                    full = _ensure(full, ftop + min(m_flen[i], m_flen[j]))
                    n_a = _intersect(full, m_foff[i], m_flen[i], m_foff[j], m_flen[j], ftop, 0)
                    # Each member array grows on its own: they need not share a length.
                    m_item = _ensure(m_item, m_top + 1)
                    m_poff = _ensure(m_poff, m_top + 1)
                    m_plen = _ensure(m_plen, m_top + 1)
                    m_foff = _ensure(m_foff, m_top + 1)
                    m_flen = _ensure(m_flen, m_top + 1)
                    m_item[m_top] = m_item[j]
                    m_poff[m_top] = ptop
                    m_plen[m_top] = together
                    m_foff[m_top] = ftop
                    m_flen[m_top] = n_a
                    m_top += 1
                    ptop += together
                    ftop += n_a
                if m_top - child_start >= 2:
                    path[level] = m_item[i]
                    level += 1
                    f_start[level] = child_start
                    f_end[level] = m_top
                    f_pos[level] = child_start
                    f_ptop[level] = child_ptop
                    f_ftop[level] = child_ftop
                else:
                    m_top = child_start
                    ptop = child_ptop
                    ftop = child_ftop
            if status == OVER_CAP:
                break
        if status == OVER_CAP:
            break
        rounds = d
        filled = size
        if not deeper:
            break

    # Best first: pop the worst rule size times.
    order = np.empty(size, np.int64)
    remaining = size
    while remaining > 0:
        order[remaining - 1] = heap[0]
        remaining -= 1
        heap[0] = heap[remaining]
        _sift_down(heap, remaining, h_key, h_count, h_len, h_cons, h_ante)
    width = 1
    for r in range(size):
        width = max(width, h_len[order[r]] - 1)
    antecedents = np.full((size, width), -1, np.int64)
    for r in range(size):
        s = order[r]
        for p in range(h_len[s] - 1):
            antecedents[r, p] = h_ante[s, p]
    return (
        h_cons[order],
        antecedents,
        h_count[order],
        h_na[order],
        examined,
        status,
        rounds,
        filled,
    )
