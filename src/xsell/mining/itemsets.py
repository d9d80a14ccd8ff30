"""Frequent itemsets: exact, with a memory budget, on ShopData or any basket x item matrix."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np

from xsell.errors import MemoryBudgetError, ValidationError
from xsell.mining import eclat
from xsell.mining.budget import (
    MemoryBudget,
    budget_error,
    fitting_min_count,
    parse_budget,
)
from xsell.mining.lookup import ItemsetIndex
from xsell.progress import Reporter, SilentReporter

if TYPE_CHECKING:
    import pandas as pd
    import scipy.sparse as sp

    from xsell.data.shopdata import ShopData

#: A basket with more distinct items than this is called giant in the mining notes.
GIANT_BASKET: Final = 100
#: Kinds of itemset tables: every frequent itemset, the closed ones, the maximal ones.
KINDS: Final = ("all", "closed", "maximal")
#: Pair pruning needs an n x n bit matrix of frequent pairs; above this many frequent
#: items (about 50 MB of bits) the miner intersects without it.
_MAX_PRUNE_ITEMS: Final = 20_000
#: ``frequent_itemsets`` advances a reporter by this much in total.
PROGRESS_TOTAL: Final = 100.0
ITEMSET_COLUMNS: Final = ("itemset", "items", "count", "support", "length")

MinSupport = int | float
Kind = Literal["all", "closed", "maximal"]
Layout = Literal["auto", "tidlist", "bitset"]
LAYOUTS: Final = ("auto", "tidlist", "bitset")


@dataclass(frozen=True)
class MiningInfo:
    """How an itemset table was mined; stored in ``table.attrs["mining"]``.

    ``notes`` says in words what was done about giant baskets and the data.
    ``item_names`` / ``item_categories`` map the external ids of frequent items to
    their catalog name / category (``None`` when the data carried no catalog).
    """

    n_baskets: int
    min_count: int
    min_support: float
    max_len: int | None
    kind: str
    algorithm: str
    n_items: int
    n_frequent_items: int
    giant_baskets: int
    largest_basket: int
    dropped_baskets: int
    seconds: float
    notes: tuple[str, ...] = ()
    item_names: dict[str, str] | None = field(default=None, repr=False)
    item_categories: dict[str, str | None] | None = field(default=None, repr=False)


def mining_info(table: pd.DataFrame) -> MiningInfo | None:
    """The :class:`MiningInfo` of a table made by :func:`frequent_itemsets` (or ``None``)."""
    info = table.attrs.get("mining")
    return info if isinstance(info, MiningInfo) else None


def frequent_itemsets(
    data: ShopData | sp.spmatrix | sp.sparray,
    min_support: MinSupport,
    *,
    max_len: int | None = None,
    kind: Kind = "all",
    max_basket_size: int | None = None,
    memory_budget: int | str | MemoryBudget | None = None,
    item_ids: Any = None,
    layout: Layout = "auto",
    reporter: Reporter | None = None,
    rules_limit: tuple[int | None, int] | None = None,
) -> pd.DataFrame:
    """Every itemset bought together in at least ``min_support`` of the baskets.

    Parameters
    ----------
    data:
        A :class:`~xsell.data.shopdata.ShopData` (its ``basket_item`` matrix, item
        ids, names and categories are used), or a sparse baskets x items matrix
        whose non-zero entries mark the items of each basket.
    min_support:
        A float in (0, 1]: the fraction of baskets; or an int >= 1: a number of
        baskets. An itemset is frequent when ``count / n_baskets >= min_support``
        (resp. ``count >= min_support``).
    max_len:
        Longest itemset to mine (``None``: no limit).
    kind:
        ``"all"``; ``"closed"``: no superset within the mined table has the same
        count; ``"maximal"``: no superset within the mined table is frequent.
        With ``max_len`` these are judged among itemsets up to ``max_len`` items.
    max_basket_size:
        Leave baskets with more distinct items than this out of the mining (and of
        ``n_baskets``). By default every basket counts exactly: the vertical
        counting costs time linear in a basket's size, so giant baskets are safe
        and the notes only report them.
    memory_budget:
        Bytes (or ``"512MB"``) the output may take; default 1 GB. Mining stops
        with a :class:`~xsell.errors.MemoryBudgetError` naming a ``min_support``
        that fits as soon as the output would exceed it.
    item_ids:
        External ids of the matrix columns (matrix input only; default
        ``"0".."n-1"``).
    layout:
        How baskets are stored per item while mining: ``"tidlist"`` (sorted basket
        lists, best for sparse data), ``"bitset"`` (best for dense data) or
        ``"auto"`` (bitsets when an average frequent item is in > 1/32 of baskets).
    reporter:
        Progress reporter (advanced by :data:`PROGRESS_TOTAL` in all).
    rules_limit:
        ``(max_consequent_len, max_rules)`` when the itemsets are mined for rules:
        a ``min_support`` suggested at a budget stop then also gives at most
        ``max_rules`` rules (see :func:`~xsell.mining.rules.mine_rules`).

    Returns
    -------
    pandas.DataFrame
        One row per itemset, by length then count (descending): ``itemset``
        (tuple of external item ids), ``items`` (tuple of dense item indices,
        ascending), ``count`` (baskets holding every item), ``support``
        (``count / n_baskets``) and ``length``. ``attrs["mining"]`` holds a
        :class:`MiningInfo`.
    """
    started = time.perf_counter()
    matrix, ids, names, categories = basket_matrix(data, item_ids)
    mined = mine_levels(
        matrix.indptr,
        matrix.indices,
        matrix.shape[1],
        min_support,
        max_len=max_len,
        kind=kind,
        max_basket_size=max_basket_size,
        memory_budget=memory_budget,
        layout=layout,
        reporter=reporter,
        rules_limit=rules_limit,
    )
    table = _table(mined.levels, mined.counts, ids, mined.n_baskets)
    used = mined.frequent.tolist()
    table.attrs["mining"] = MiningInfo(
        n_baskets=mined.n_baskets,
        min_count=mined.min_count,
        min_support=mined.min_count / mined.n_baskets,
        max_len=max_len,
        kind=kind,
        algorithm=mined.algorithm,
        n_items=matrix.shape[1],
        n_frequent_items=len(used),
        giant_baskets=mined.giant_baskets,
        largest_basket=mined.largest_basket,
        dropped_baskets=mined.dropped_baskets,
        seconds=time.perf_counter() - started,
        notes=mined.notes,
        item_names={ids[i]: str(names[i]) for i in used} if names is not None else None,
        item_categories=(
            {ids[i]: (None if categories[i] is None else str(categories[i])) for i in used}
            if categories is not None
            else None
        ),
    )
    (reporter or SilentReporter()).step("done", 5)
    return table


@dataclass(frozen=True)
class ItemsetLevels:
    """Frequent itemsets as arrays: ``levels[L]`` rows of sorted item indices, ``counts[L]``."""

    levels: dict[int, np.ndarray]
    counts: dict[int, np.ndarray]
    n_baskets: int
    min_count: int
    algorithm: str
    frequent: np.ndarray  # item indices of the frequent items
    notes: tuple[str, ...]
    giant_baskets: int
    largest_basket: int
    dropped_baskets: int

    def __len__(self) -> int:
        return sum(len(c) for c in self.counts.values())


def mine_levels(
    indptr: np.ndarray,
    indices: np.ndarray,
    n_items: int,
    min_support: MinSupport,
    *,
    max_len: int | None = None,
    kind: Kind = "all",
    max_basket_size: int | None = None,
    memory_budget: int | str | MemoryBudget | None = None,
    layout: Layout = "auto",
    reporter: Reporter | None = None,
    rules_limit: tuple[int | None, int] | None = None,
) -> ItemsetLevels:
    """:func:`frequent_itemsets` on a binary CSR given as arrays (sorted, distinct rows).

    The same checks, budget and result, as arrays instead of a DataFrame: NumPy
    and the C kernels only, for callers that want neither pandas nor SciPy.
    """
    reporter = reporter or SilentReporter()
    if max_len is not None and (
        isinstance(max_len, bool) or int(max_len) != max_len or max_len < 1
    ):
        raise ValidationError(f"max_len must be a whole number >= 1 or None, got {max_len!r}")
    if kind not in KINDS:
        raise ValidationError(f"unknown kind {kind!r}; choose one of {list(KINDS)}")
    if layout not in LAYOUTS:
        raise ValidationError(f"unknown layout {layout!r}; choose one of {list(LAYOUTS)}")
    if max_basket_size is not None and (isinstance(max_basket_size, bool) or max_basket_size < 1):
        raise ValidationError(f"max_basket_size must be >= 1 or None, got {max_basket_size!r}")
    budget = parse_budget(memory_budget)
    reporter.step("counting items", 5)

    n_rows = len(indptr) - 1
    sizes = np.diff(indptr)
    keep_row = np.ones(n_rows, dtype=np.bool_)
    if max_basket_size is not None:
        keep_row = sizes <= max_basket_size
    n_baskets = int(keep_row.sum())
    if n_baskets == 0:
        raise ValidationError(
            f"no baskets left to mine: all {n_rows:,} baskets have more than "
            f"max_basket_size={max_basket_size} items"
        )
    min_count = min_count_of(min_support, n_baskets)
    kept_indices = indices if keep_row.all() else indices[np.repeat(keep_row, sizes)]
    item_counts = np.bincount(kept_indices, minlength=n_items)
    notes = _basket_notes(sizes, keep_row, max_basket_size)

    def mine(count: int, progress: Reporter | None = None) -> Any:
        return _mine_ranks(
            indptr, indices, n_items, keep_row, item_counts, count, max_len,
            budget.max_itemsets, layout, progress,
        )  # fmt: skip

    def fits(count: int) -> bool:
        mined = mine(count)
        if mined is None:
            return False
        return (
            rules_limit is None
            or rule_count(mined[1], mined[2], rules_limit[0]) <= (rules_limit[1])
        )

    result = mine(min_count, reporter)
    if result is None:
        found = budget.max_itemsets
        suggestion = fitting_min_count(fits, min_count, n_baskets)
        raise budget_error("itemsets", found, budget, min_count, n_baskets, suggestion)
    frequent, parent, item, count, algorithm = result
    reporter.step("building the table", 5)

    by_length = eclat.level_rows(parent, item, count, frequent)
    levels = {size: rows for size, (rows, _) in by_length.items()}
    level_counts = {size: found for size, (_, found) in by_length.items()}
    if kind != "all":
        levels, level_counts = _closed_or_maximal(levels, level_counts, kind)
    return ItemsetLevels(
        levels=levels,
        counts=level_counts,
        n_baskets=n_baskets,
        min_count=min_count,
        algorithm=algorithm,
        frequent=frequent,
        notes=notes,
        giant_baskets=int((sizes > GIANT_BASKET).sum()),
        largest_basket=int(sizes.max()) if len(sizes) else 0,
        dropped_baskets=int((~keep_row).sum()),
    )


def rule_count(parent: np.ndarray, item: np.ndarray, max_consequent_len: int | None) -> int:
    """How many rules the mined forest ``(parent, item)`` gives (every split of each itemset)."""
    sizes = eclat.level_counts(parent)
    total = 0
    for size, n in enumerate(sizes.tolist()):
        longest = size - 1 if max_consequent_len is None else min(size - 1, max_consequent_len)
        total += n * sum(math.comb(size, s) for s in range(1, longest + 1))
    return total


def min_count_of(min_support: MinSupport, n_baskets: int) -> int:
    """The smallest basket count meeting ``min_support`` (a fraction or a count)."""
    expected = "a fraction in (0, 1] or a whole number of baskets >= 1"
    if isinstance(min_support, bool) or not isinstance(min_support, int | float | np.number):
        raise ValidationError(f"min_support must be {expected}, got {min_support!r}")
    if isinstance(min_support, int | np.integer):
        if min_support < 1:
            raise ValidationError(f"min_support must be {expected}, got {min_support!r}")
        return int(min_support)
    value = float(min_support)
    if math.isnan(value) or not 0.0 < value <= 1.0:
        hint = " (write an int for a number of baskets)" if value > 1 and value.is_integer() else ""
        raise ValidationError(f"min_support must be {expected}, got {min_support!r}{hint}")
    # The same float test as `count / n >= min_support`, so results match other tools.
    count = max(1, math.ceil(value * n_baskets))
    while count > 1 and (count - 1) / n_baskets >= value:
        count -= 1
    while count / n_baskets < value:
        count += 1
    return count


def basket_matrix(
    data: Any, item_ids: Any
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The binary baskets x items CSR of ``data``, its item ids, names and categories."""
    import scipy.sparse as sp

    from xsell.data.shopdata import ShopData

    if isinstance(data, ShopData):
        if data.n_baskets == 0 or len(data.lines) == 0:
            raise ValidationError("no baskets to mine: the ShopData holds no order lines")
        return (
            _binary_csr(data.basket_item),
            data.items.ids,
            data.item_names(),
            data.item_categories(),
        )
    if sp.issparse(data):
        matrix = _binary_csr(data)
        if matrix.shape[0] == 0 or matrix.nnz == 0:
            raise ValidationError(
                f"no baskets to mine: the basket x item matrix of shape {matrix.shape} is empty"
            )
        if item_ids is None:
            ids = np.array([str(i) for i in range(matrix.shape[1])], dtype=object)
        else:
            ids = np.asarray(item_ids, dtype=object)
            if ids.shape != (matrix.shape[1],):
                raise ValidationError(
                    f"item_ids has {len(ids)} ids but the matrix has {matrix.shape[1]} item columns"
                )
        return matrix, ids, None, None
    raise ValidationError(
        "data must be a ShopData or a scipy sparse baskets x items matrix, "
        f"got {type(data).__name__}"
    )


def _binary_csr(matrix: Any) -> sp.csr_matrix:
    import scipy.sparse as sp

    csr = sp.csr_matrix(matrix)
    csr.sum_duplicates()
    csr.eliminate_zeros()
    csr.sort_indices()
    return sp.csr_matrix(
        (np.ones(csr.nnz, np.int8), csr.indices.astype(np.int32), csr.indptr.astype(np.int64)),
        shape=csr.shape,
    )


def _basket_notes(
    sizes: np.ndarray, keep_row: np.ndarray, max_basket_size: int | None
) -> tuple[str, ...]:
    giant = sizes > GIANT_BASKET
    notes = []
    if max_basket_size is not None and (~keep_row).any():
        notes.append(
            f"{int((~keep_row).sum()):,} baskets with more than {max_basket_size} items were left "
            f"out (largest {int(sizes.max()):,} items); supports are over the other "
            f"{int(keep_row.sum()):,} baskets"
        )
    elif giant.any():
        notes.append(
            f"{int(giant.sum()):,} giant baskets (more than {GIANT_BASKET} items, largest "
            f"{int(sizes.max()):,}) counted exactly: vertical counting costs time linear in "
            "basket size; pass max_basket_size to leave them out"
        )
    return tuple(notes)


def _mine_ranks(
    indptr: np.ndarray,
    indices: np.ndarray,
    n_items: int,
    keep_row: np.ndarray,
    item_counts: np.ndarray,
    min_count: int,
    max_len: int | None,
    cap: int,
    layout: str = "auto",
    reporter: Reporter | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str] | None:
    """Mine in rank space; ``None`` when more than ``cap`` itemsets exist."""
    reporter = reporter or SilentReporter()
    candidates = np.flatnonzero(item_counts >= min_count)
    # Ascending support (ties by index) keeps Eclat's intersected lists short.
    frequent = candidates[np.lexsort((candidates, item_counts[candidates]))]
    n_ranks = len(frequent)
    if n_ranks > cap:
        return None
    empty = np.empty(0, np.int64)
    if n_ranks == 0:
        return frequent, empty, empty.astype(np.int32), empty.astype(np.int32), "none"
    rank_of = np.full(n_items, -1, np.int32)
    rank_of[frequent] = np.arange(n_ranks, dtype=np.int32)
    counts = item_counts[frequent].astype(np.int32)
    row_ptr, row_items, col_ptr, col_tids = eclat.project(
        indptr, indices, rank_of, n_ranks, keep_row
    )
    reporter.step("counting pairs", 10)
    limit = max_len if max_len is not None else 0
    if limit == 1:
        pairs = eclat.Pairs(
            np.zeros(n_ranks + 1, np.int64), empty.astype(np.int32), empty.astype(np.int32),
            np.zeros(1, np.int64), 0,
        )  # fmt: skip
    else:
        pairs = eclat.count_pairs(
            row_ptr, row_items, col_ptr, col_tids, n_ranks, min_count, cap - n_ranks
        )
        if pairs.found == eclat.OVERFLOW:
            return None
    reporter.step("mining itemsets", 10)
    n_rows = len(indptr) - 1
    # Bitsets win once an average frequent item is in more than ~1/32 of the baskets:
    # a merge step then costs more than AND+popcount over all words.
    dense = layout == "bitset" or (layout == "auto" and bool(counts.mean() * 32 > n_rows))
    dense = dense and limit != 2
    bits = eclat.tid_bitsets(col_ptr, col_tids, n_ranks, n_rows) if dense else None
    prune = n_ranks <= _MAX_PRUNE_ITEMS and limit != 2
    pairs_ok = eclat.pair_bits(pairs.nb_ptr, pairs.nb_item, n_ranks) if prune else None
    parents, items, found = [], [], []
    total = 0
    n_chunks = min(n_ranks, 20)
    bounds = np.linspace(0, n_ranks, n_chunks + 1).astype(np.int64)
    for first, last in pairwise(bounds):
        forest = eclat.mine(
            np.arange(first, last, dtype=np.int64), counts, pairs, row_ptr, row_items,
            col_ptr, col_tids, bits, pairs_ok, min_count, limit, cap - total,
        )  # fmt: skip
        if forest.found == eclat.OVERFLOW:
            return None
        parents.append(np.where(forest.parent >= 0, forest.parent + total, -1))
        items.append(forest.item)
        found.append(forest.counts)
        total += len(forest.parent)
        reporter.step("mining itemsets", 65 / n_chunks)
    return (
        frequent,
        np.concatenate(parents),
        np.concatenate(items),
        np.concatenate(found),
        "eclat-bitset" if dense else "eclat-tidlist",
    )


def _closed_or_maximal(
    levels: dict[int, np.ndarray], counts: dict[int, np.ndarray], kind: str
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    index = ItemsetIndex(levels)
    keep = {size: np.ones(len(rows), bool) for size, rows in levels.items()}
    for size, rows in levels.items():
        if size == 1:
            continue
        for drop in range(size):
            subsets = np.delete(rows, drop, axis=1)
            found = index.find(subsets)
            if kind == "maximal":
                keep[size - 1][found] = False
            else:
                same = counts[size - 1][found] == counts[size]
                keep[size - 1][found[same]] = False
    return (
        {s: r[keep[s]] for s, r in levels.items() if keep[s].any()},
        {s: c[keep[s]] for s, c in counts.items() if keep[s].any()},
    )


def _table(
    levels: dict[int, np.ndarray], counts: dict[int, np.ndarray], ids: np.ndarray, n_baskets: int
) -> pd.DataFrame:
    """The itemsets table, its two list columns held by Arrow.

    Arrow lists cost about 30 bytes an itemset of three where tuples of Python
    objects cost 260: millions of itemsets fit in the memory budget, and the
    table is built in a second instead of ten.
    """
    import pandas as pd

    sizes = sorted(levels)
    flats, founds, lengths = [], [], []
    for size in sizes:
        rows, found = levels[size], counts[size]
        order = np.lexsort((*[rows[:, k] for k in range(size - 1, -1, -1)], -found))
        flats.append(rows[order].ravel())
        founds.append(found[order].astype(np.int64))
        lengths.append(np.full(len(rows), size, np.int64))
    flat = np.concatenate(flats) if flats else np.empty(0, np.int32)
    found = np.concatenate(founds) if founds else np.empty(0, np.int64)
    length = np.concatenate(lengths) if lengths else np.empty(0, np.int64)
    itemset, items = _list_columns(ids, flat.astype(np.int32, copy=False), length)
    return pd.DataFrame(
        {
            "itemset": itemset,
            "items": items,
            "count": found,
            "support": found / n_baskets,
            "length": length,
        }
    )


def _list_columns(ids: np.ndarray, flat: np.ndarray, length: np.ndarray) -> tuple[Any, Any]:
    """``itemset`` (ids) and ``items`` (dense indices) as Arrow-backed list columns."""
    import pandas as pd
    import pyarrow as pa

    try:
        id_values = pa.array(ids.tolist())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Ids of mixed types: their text, as every other output of xsell writes them.
        id_values = pa.array([str(i) for i in ids.tolist()], pa.string())
    offsets = np.zeros(len(length) + 1, np.int64)
    np.cumsum(length, out=offsets[1:])
    large = len(flat) >= 2**31 - 1
    offsets_array = pa.array(offsets if large else offsets.astype(np.int32))
    make = pa.LargeListArray if large else pa.ListArray
    indices = pa.array(flat, pa.int32())
    itemset = make.from_arrays(offsets_array, id_values.take(indices))
    items = make.from_arrays(offsets_array, indices)
    return pd.arrays.ArrowExtensionArray(itemset), pd.arrays.ArrowExtensionArray(items)


def _flat_lists(column: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """The values of an Arrow-backed list column, flat, and where each row starts."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    if not isinstance(column.dtype, pd.ArrowDtype):
        return None
    array = pa.array(column.array)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not (pa.types.is_list(array.type) or pa.types.is_large_list(array.type)):
        return None
    lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False).astype(np.int64)
    starts = np.cumsum(lengths) - lengths
    return pc.list_flatten(array).to_numpy(zero_copy_only=False), starts


def itemset_table(
    itemsets: Sequence[Sequence[int]],
    counts: Sequence[int],
    item_ids: np.ndarray,
    n_baskets: int,
    info: MiningInfo,
) -> pd.DataFrame:
    """An itemset table (the shape :func:`frequent_itemsets` returns) from itemsets counted
    elsewhere, e.g. on a Spark cluster: dense item indices into ``item_ids``, their basket
    counts. Rows are ordered as :func:`frequent_itemsets` orders them; ``info`` becomes
    ``attrs["mining"]``."""
    by_size: dict[int, list[int]] = {}
    for position, items in enumerate(itemsets):
        by_size.setdefault(len(items), []).append(position)
    found = np.asarray(counts, dtype=np.int64)
    levels = {
        size: np.sort(np.array([list(itemsets[p]) for p in at], dtype=np.int64), axis=1)
        for size, at in by_size.items()
    }
    level_counts = {size: found[np.array(at, dtype=np.int64)] for size, at in by_size.items()}
    table = _table(levels, level_counts, np.asarray(item_ids, dtype=object), n_baskets)
    table.attrs["mining"] = info
    return table


def table_levels(table: pd.DataFrame) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Level matrices (sorted dense indices) and counts of an itemset table, for rules."""
    levels: dict[int, np.ndarray] = {}
    counts: dict[int, np.ndarray] = {}
    lengths = table["length"].to_numpy(np.int64)
    found = table["count"].to_numpy()
    flat = _flat_lists(table["items"])
    # Tables built by hand may hold tuples instead.
    items = table["items"].to_numpy() if flat is None else np.empty(0, dtype=object)
    for size in np.unique(lengths):
        mask = lengths == size
        if flat is not None:
            values, starts = flat
            rows = values[starts[mask][:, None] + np.arange(size)].astype(np.int64)
        else:
            rows = np.array(list(items[mask]), dtype=np.int64).reshape(int(mask.sum()), int(size))
        levels[int(size)] = np.sort(rows, axis=1)
        counts[int(size)] = found[mask].astype(np.int64)
    return levels, counts


__all__ = [
    "GIANT_BASKET",
    "ITEMSET_COLUMNS",
    "KINDS",
    "PROGRESS_TOTAL",
    "ItemsetLevels",
    "MemoryBudgetError",
    "MiningInfo",
    "frequent_itemsets",
    "itemset_table",
    "min_count_of",
    "mine_levels",
    "mining_info",
    "table_levels",
]
