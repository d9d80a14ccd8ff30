"""What a fitted model knows about items, and contexts as sparse rows over them."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp

from xsell.data import columns as C
from xsell.data.idmap import IdMap
from xsell.data.shopdata import ShopData


@dataclass
class ItemTable:
    """Item ids, names, categories, prices, stock, popularity (orders holding the item), margins.

    Kept in every bundle (``items.parquet``), so a served model maps ids and applies
    business rules without the store. ``margins`` (what one unit earns) and
    ``stock`` (units on hand) are NaN where the catalog does not say.
    """

    ids: IdMap
    names: np.ndarray
    categories: np.ndarray
    prices: np.ndarray
    in_stock: np.ndarray
    popularity: np.ndarray
    margins: np.ndarray = field(default_factory=lambda: np.empty(0))
    stock: np.ndarray = field(default_factory=lambda: np.empty(0))

    def __post_init__(self) -> None:
        # Not given (an older bundle, a table built by hand): unknown for every item.
        for name in ("margins", "stock"):
            values = np.asarray(getattr(self, name), dtype=np.float64)
            setattr(self, name, values if len(values) else np.full(len(self.ids), np.nan))

    @classmethod
    def from_data(cls, data: ShopData) -> ItemTable:
        return cls(
            ids=data.items,
            names=data.item_names(),
            categories=data.item_categories(),
            prices=data.item_prices(),
            in_stock=data.in_stock(),
            popularity=data.item_basket_count.astype(np.float64),
            margins=data.item_margins(),
            stock=data.item_stock(),
        )

    def __len__(self) -> int:
        return len(self.ids)

    def by_popularity(self) -> np.ndarray:
        """Item indices, best sellers first (ties: lower index); kept while ``popularity`` is."""
        cached = self.__dict__.get("_by_popularity")
        if cached is None or cached[0] is not self.popularity:
            order = np.lexsort((np.arange(len(self)), -self.popularity))
            cached = self.__dict__["_by_popularity"] = (self.popularity, order)
        return cached[1]

    def category_codes(self) -> np.ndarray:
        """An integer per category (``-1``: none), kept while ``categories`` is."""
        cached = self.__dict__.get("_category_codes")
        if cached is None or cached[0] is not self.categories:
            codes, _ = pd.factorize(pd.Series(self.categories, dtype=object), use_na_sentinel=True)
            cached = self.__dict__["_category_codes"] = (self.categories, codes.astype(np.int64))
        return cached[1]

    def grown(self, new_ids: Sequence[str], names: dict[str, str]) -> ItemTable:
        """This table with ``new_ids`` appended (no category, no price, in stock, popularity 0)."""
        n = len(new_ids)
        return ItemTable(
            ids=IdMap([*self.ids.ids, *new_ids]),
            names=np.concatenate(
                [self.names, np.array([names.get(i) for i in new_ids], dtype=object)]
            ),
            categories=np.concatenate([self.categories, np.full(n, None, dtype=object)]),
            prices=np.concatenate([self.prices, np.full(n, np.nan)]),
            in_stock=np.concatenate([self.in_stock, np.ones(n, dtype=bool)]),
            popularity=np.concatenate([self.popularity, np.zeros(n)]),
            margins=np.concatenate([self.margins, np.full(n, np.nan)]),
            stock=np.concatenate([self.stock, np.full(n, np.nan)]),
        )

    def label(self, index: int) -> str:
        """The item's name, or its id when it has none (for reasons)."""
        name = self.names[index]
        return str(name) if name is not None and not pd.isna(name) else str(self.ids.ids[index])

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                C.ITEM: pd.Series(self.ids.ids, dtype=object),
                C.NAME: pd.Series(self.names, dtype=object),
                C.CATEGORY: pd.Series(self.categories, dtype=object),
                C.PRICE: np.asarray(self.prices, dtype=np.float64),
                C.IN_STOCK: np.asarray(self.in_stock, dtype=bool),
                "popularity": np.asarray(self.popularity, dtype=np.float64),
                C.MARGIN: self.margins,
                C.STOCK: self.stock,
            }
        )

    def to_arrow(self) -> pa.Table:
        """The table as Arrow columns (names and categories keep their Python types)."""
        return pa.table(
            {
                C.ITEM: pa.array([str(i) for i in self.ids.ids], pa.string()),
                C.NAME: pa.array(list(self.names)),
                C.CATEGORY: pa.array(list(self.categories)),
                C.PRICE: pa.array(np.asarray(self.prices, dtype=np.float64)),
                C.IN_STOCK: pa.array(np.asarray(self.in_stock, dtype=bool)),
                "popularity": pa.array(np.asarray(self.popularity, dtype=np.float64)),
                C.MARGIN: pa.array(self.margins),
                C.STOCK: pa.array(self.stock),
            }
        )

    @classmethod
    def from_arrow(cls, table: pa.Table) -> ItemTable:
        """The table written by :meth:`to_arrow` (margins and stock unknown when absent)."""

        def numbers(column: str) -> np.ndarray:
            if column not in table.column_names:
                return np.empty(0)
            return table.column(column).to_numpy().astype(np.float64)

        def objects(column: str) -> np.ndarray:
            out = np.empty(table.num_rows, dtype=object)
            out[:] = table.column(column).to_pylist()
            return out

        return cls(
            ids=IdMap(table.column(C.ITEM).to_pylist()),
            names=objects(C.NAME),
            categories=objects(C.CATEGORY),
            prices=table.column(C.PRICE).to_numpy().astype(np.float64),
            in_stock=np.asarray(table.column(C.IN_STOCK).to_pylist(), dtype=bool),
            popularity=table.column("popularity").to_numpy().astype(np.float64),
            margins=numbers(C.MARGIN),
            stock=numbers(C.STOCK),
        )


def basket_rows(contexts: Sequence[Sequence[int]], n_items: int) -> sp.csr_matrix:
    """Contexts (lists of item indices) as a binary CSR matrix of ``len(contexts) x n_items``."""
    if len(contexts) == 1:  # one request
        indices = np.unique(np.asarray(contexts[0], dtype=np.int32))
        return one_row(indices, np.ones(len(indices), np.float32), n_items)
    indptr = np.zeros(len(contexts) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(c) for c in contexts])
    indices = (
        np.concatenate([np.asarray(c, dtype=np.int32) for c in contexts])
        if len(contexts)
        else np.empty(0, np.int32)
    )
    data = np.ones(len(indices), dtype=np.float32)
    matrix = sp.csr_matrix((data, indices, indptr), shape=(len(contexts), n_items))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


#: Empty ``1 x n`` rows by width: :func:`one_row` copies one instead of validating anew.
_EMPTY_ROWS: dict[int, sp.csr_matrix] = {}


def one_row(indices: np.ndarray, values: np.ndarray, n_items: int) -> sp.csr_matrix:
    """A ``1 x n_items`` CSR row of ``values`` at ``indices`` (ascending, distinct).

    Built on a copy of an empty row: scipy's constructor checks its arrays every time,
    which cost about 17 µs of each served answer (two rows per request).
    """
    empty = _EMPTY_ROWS.get(n_items)
    if empty is None:
        empty = _EMPTY_ROWS[n_items] = sp.csr_matrix((1, n_items), dtype=np.float32)
    indices = np.asarray(indices, dtype=np.int32)
    row = copy.copy(empty)
    row.data = np.asarray(values)
    row.indices = indices
    row.indptr = np.array([0, len(indices)], dtype=np.int32)
    row.has_canonical_format = True
    return row


def as_dense(scores: np.ndarray | sp.csr_matrix) -> np.ndarray:
    """Scores as a dense float64 array; absent entries of a sparse answer become ``-inf``."""
    if not sp.issparse(scores):
        return np.asarray(scores, dtype=np.float64)
    sparse = sp.csr_matrix(scores)
    out = np.full(sparse.shape, -np.inf)
    rows = np.repeat(np.arange(sparse.shape[0]), np.diff(sparse.indptr))
    out[rows, sparse.indices] = sparse.data
    return out


def grow_history(
    history: sp.csr_matrix | None, users: np.ndarray, baskets: sp.csr_matrix, n_users: int
) -> sp.csr_matrix:
    """Users x items purchase counts with the new baskets of known users added."""
    n_items = baskets.shape[1]
    old = history if history is not None else sp.csr_matrix((0, 0), dtype=np.float32)
    old = sp.csr_matrix(old, dtype=np.float32, copy=True)
    old.resize((n_users, n_items))
    mine = users >= 0
    if not mine.any():
        return old
    owners = sp.csr_matrix(
        (np.ones(int(mine.sum()), dtype=np.float32), (users[mine], np.arange(int(mine.sum())))),
        shape=(n_users, int(mine.sum())),
    )
    return sp.csr_matrix(old + owners @ baskets[mine], dtype=np.float32)
