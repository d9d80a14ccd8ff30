"""ShopData: clean order lines with stable id maps and lazily built sparse matrices.

Every model, miner and report in xsell reads a :class:`ShopData`. Rows are order
lines of purchases (one item of one basket); browsing events (views, cart adds)
are kept apart in :attr:`ShopData.events`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from xsell.data import columns as C
from xsell.data.idmap import IdMap
from xsell.data.store import Store
from xsell.errors import SchemaError, ValidationError

#: Columns of :attr:`ShopData.catalog`, one row per item.
CATALOG_COLUMNS = (
    C.ITEM,
    C.NAME,
    C.CATEGORY,
    C.BRAND,
    C.PRICE,
    C.IN_STOCK,
    C.COST,
    C.MARGIN,
    C.STOCK,
)


class ShopData:
    """Order lines of a shop, indexed densely.

    Parameters
    ----------
    lines:
        One row per order line with integer columns ``basket``, ``user`` (-1 when
        anonymous), ``item`` and ``time`` (datetime64, may be NaT), ``quantity``,
        ``price`` (float, may be NaN).
    items, users, baskets:
        Id maps giving the external ids of the dense indices.
    catalog:
        One row per item index (``len(items)`` rows) with ``item_id``, ``name``,
        ``category``, ``brand``, ``price``, ``in_stock``, ``cost``, ``margin``
        (per unit) and ``stock`` (units on hand).
    events:
        Browsing events with integer ``user``, ``item``, ``time`` and ``event``.

    Use :meth:`from_store`, :meth:`from_frame` or :meth:`from_baskets` to build one.
    """

    def __init__(
        self,
        lines: pd.DataFrame,
        items: IdMap,
        users: IdMap,
        baskets: IdMap,
        catalog: pd.DataFrame,
        events: pd.DataFrame | None = None,
    ) -> None:
        self.lines = lines.reset_index(drop=True)
        self.items = items
        self.users = users
        self.baskets = baskets
        self.catalog = catalog
        self.events = events if events is not None else _empty_events()
        #: Set when customer ids are keyed pseudonyms: tells the key apart, reveals nothing.
        self.pseudonym_check: str | None = None

    # ------------------------------------------------------------------ builders

    @classmethod
    def from_store(cls, store: Store | str | Path) -> ShopData:
        """Load every kept purchase line, browsing event, item and customer of a store.

        Ids are turned into dense indices inside DuckDB (joins on small id tables),
        which is several times faster than factorizing strings in pandas.
        """
        store = store if isinstance(store, Store) else Store(store)
        with store.connect() as con:
            return cls.from_connection(con, str(store.path))

    @classmethod
    def from_connection(cls, con: Any, name: str = "the store") -> ShopData:
        """Like :meth:`from_store`, over an open store connection (e.g. inside a transaction)."""
        if not con.execute("SELECT count(*) FROM lines").fetchall()[0][0]:
            raise ValidationError(f"{name}: the store holds no order lines yet; ingest some")
        try:
            _dense_ids(con)
            items = IdMap.from_index(
                pd.Index(con.execute("SELECT item_id FROM item_ids ORDER BY idx").df()[C.ITEM])
            )
            users = IdMap.from_index(
                pd.Index(con.execute("SELECT user_id FROM user_ids ORDER BY idx").df()[C.USER])
            )
            baskets = IdMap.from_index(
                pd.Index(
                    con.execute("SELECT basket_id FROM basket_ids ORDER BY idx").df()[C.BASKET]
                )
            )
            joined = (
                "FROM lines l JOIN item_ids i USING (item_id) LEFT JOIN user_ids u USING (user_id) "
            )
            frame = con.execute(
                "SELECT b.idx AS basket, COALESCE(u.idx, -1) AS user, i.idx AS item, "
                "l.time AS time, l.quantity AS quantity, l.price AS price "
                f"{joined} JOIN basket_ids b USING (basket_id) "
                "WHERE l.event = 'purchase' ORDER BY l.ingest_id, l.source_line"
            ).df()
            events = con.execute(
                "SELECT COALESCE(u.idx, -1) AS user, i.idx AS item, l.time AS time, l.event "
                f"{joined} WHERE l.event <> 'purchase' ORDER BY l.ingest_id, l.source_line"
            ).df()
            present = {
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE table_name = 'items'"
                ).fetchall()
            }
            # A store written before cost, margin and stock existed has no such columns.
            wanted = [c if c in present else f"NULL AS {c}" for c in CATALOG_COLUMNS]
            catalog = con.execute(f"SELECT {', '.join(wanted)} FROM items").df()
            has_meta = con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'xsell_meta'"
            ).fetchall()[0][0]
            check = (
                con.execute(
                    "SELECT value FROM xsell_meta WHERE key = 'pseudonym_key_check'"
                ).fetchall()
                if has_meta
                else []
            )
        finally:
            for table in ("item_ids", "user_ids", "basket_ids"):
                con.execute(f"DROP TABLE IF EXISTS {table}")
        frame = frame.astype({"basket": np.int32, "user": np.int32, "item": np.int32})
        events = events.astype({"user": np.int32, "item": np.int32})
        data = cls(frame, items, users, baskets, _catalog_frame(items, catalog, frame), events)
        data.pseudonym_check = str(check[0][0]) if check else None
        return data

    @classmethod
    def from_frame(
        cls,
        frame: Any,
        *,
        basket: str = C.BASKET,
        item: str = C.ITEM,
        user: str | None = C.USER,
        time: str | None = C.TIME,
        quantity: str | None = C.QUANTITY,
        price: str | None = C.PRICE,
        event: str | None = C.EVENT,
        catalog: Any = None,
    ) -> ShopData:
        """Build from a pandas or Polars DataFrame of order lines.

        Column arguments name the frame's columns; optional ones that are absent
        from the frame are ignored. ``catalog`` is an optional frame with at least
        an ``item_id`` column and any of name, category, brand, price, in_stock,
        cost, margin (per unit) and stock (units on hand).
        """
        df = _to_pandas(frame)
        for role, column in (("basket", basket), ("item", item)):
            if column not in df.columns:
                raise SchemaError(
                    f"DataFrame: no {role} column {column!r}; columns are {list(df.columns)}"
                )
        source = {
            C.BASKET: basket,
            C.USER: user,
            C.ITEM: item,
            C.TIME: time,
            C.QUANTITY: quantity,
            C.PRICE: price,
            C.EVENT: event,
        }
        lines = pd.DataFrame(
            {
                role: (df[col] if col is not None and col in df.columns else None)
                for role, col in source.items()
            }
        )
        for role in (C.BASKET, C.USER, C.ITEM):
            lines[role] = _as_id_strings(lines[role])
        cat = _to_pandas(catalog) if catalog is not None else None
        if cat is not None:
            if C.ITEM not in cat.columns:
                raise SchemaError(
                    f"catalog DataFrame: no {C.ITEM!r} column; columns are {list(cat.columns)}"
                )
            cat = cat.copy()
            cat[C.ITEM] = _as_id_strings(cat[C.ITEM])
        return cls._build(lines, cat)

    @classmethod
    def from_baskets(cls, baskets: Iterable[Iterable[Any]]) -> ShopData:
        """Build from plain baskets (lists of item ids); basket ids are their positions."""
        rows = [(str(b), str(i)) for b, items in enumerate(baskets) for i in items]
        frame = pd.DataFrame(rows, columns=[C.BASKET, C.ITEM])
        return cls.from_frame(frame)

    @classmethod
    def _build(
        cls,
        lines: pd.DataFrame,
        catalog: pd.DataFrame | None,
        extra_users: Sequence[str] = (),
    ) -> ShopData:
        lines = lines.copy()
        for column in (C.TIME, C.QUANTITY, C.PRICE, C.EVENT, C.USER):
            if column not in lines.columns:
                lines[column] = None
        lines[C.EVENT] = lines[C.EVENT].fillna(C.PURCHASE).astype(str).str.lower()
        purchase = lines[C.EVENT] == C.PURCHASE
        # Browsing events need no basket; purchases need one.
        lines = lines[lines[C.ITEM].notna() & (lines[C.BASKET].notna() | ~purchase)]
        purchase = lines[C.EVENT] == C.PURCHASE
        lines[C.TIME] = pd.to_datetime(lines[C.TIME], errors="coerce")
        catalog_ids: list[str] = (
            catalog[C.ITEM].dropna().astype(str).tolist() if catalog is not None else []
        )
        items = IdMap(sorted(set(lines[C.ITEM].astype(str)) | set(catalog_ids)))
        user_values = lines[C.USER].dropna().astype(str)
        users = IdMap(sorted(set(user_values) | {str(u) for u in extra_users if u is not None}))
        bought = lines[purchase]
        baskets = IdMap(pd.unique(bought[C.BASKET].astype(str)))
        frame = pd.DataFrame(
            {
                "basket": baskets.to_index(bought[C.BASKET].astype(str).to_numpy()).astype(
                    np.int32
                ),
                "user": _user_index(users, bought[C.USER]),
                "item": items.to_index(bought[C.ITEM].astype(str).to_numpy()).astype(np.int32),
                "time": bought[C.TIME].to_numpy(dtype="datetime64[ns]"),
                "quantity": pd.to_numeric(bought[C.QUANTITY], errors="coerce")
                .fillna(1.0)
                .to_numpy(dtype=np.float64),
                "price": pd.to_numeric(bought[C.PRICE], errors="coerce").to_numpy(dtype=np.float64),
            }
        )
        browsing = lines[~purchase]
        events = pd.DataFrame(
            {
                "user": _user_index(users, browsing[C.USER]),
                "item": items.to_index(browsing[C.ITEM].astype(str).to_numpy()).astype(np.int32),
                "time": browsing[C.TIME].to_numpy(dtype="datetime64[ns]"),
                "event": browsing[C.EVENT].to_numpy(dtype=object),
            }
        )
        return cls(frame, items, users, baskets, _catalog_frame(items, catalog, frame), events)

    # ------------------------------------------------------------------ sizes

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_baskets(self) -> int:
        return len(self.baskets)

    def __repr__(self) -> str:
        return (
            f"ShopData({len(self.lines):,} lines, {self.n_baskets:,} baskets, "
            f"{self.n_users:,} users, {self.n_items:,} items, {len(self.events):,} events)"
        )

    # ------------------------------------------------------------------ per basket

    @cached_property
    def basket_user(self) -> np.ndarray:
        """User index of every basket (-1 when anonymous)."""
        out = np.full(self.n_baskets, -1, dtype=np.int32)
        out[self.lines["basket"].to_numpy()] = self.lines["user"].to_numpy()
        return out

    @cached_property
    def basket_time(self) -> np.ndarray:
        """Time of every basket (its earliest line; NaT when unknown)."""
        times = self.lines.groupby("basket", sort=True)["time"].min()
        out = np.full(self.n_baskets, np.datetime64("NaT"), dtype="datetime64[ns]")
        out[times.index.to_numpy()] = times.to_numpy()
        return out

    @cached_property
    def basket_item(self) -> sp.csr_matrix:
        """Baskets x items, 1.0 where the basket holds the item (float32 CSR)."""
        matrix = sp.csr_matrix(
            (
                np.ones(len(self.lines), dtype=np.float32),
                (self.lines["basket"].to_numpy(), self.lines["item"].to_numpy()),
            ),
            shape=(self.n_baskets, self.n_items),
        )
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        matrix.sort_indices()
        return matrix

    @cached_property
    def user_item(self) -> sp.csr_matrix:
        """Users x items: in how many baskets the user bought the item (anonymous ones left out)."""
        return self._user_item(np.ones(self.n_baskets, dtype=np.float32))

    def user_item_weighted(
        self, half_life_days: float, now: np.datetime64 | None = None
    ) -> sp.csr_matrix:
        """Users x items where each basket counts ``0.5 ** (age_days / half_life_days)``."""
        if half_life_days <= 0:
            raise ValidationError(f"half_life_days must be positive, got {half_life_days}")
        times = self.basket_time
        reference = now if now is not None else np.nanmax(times)
        delta = reference - times
        unknown = np.isnat(delta)
        age = np.where(unknown, 0, delta.astype("timedelta64[s]").astype(np.int64)) / 86400.0
        # Baskets without a time count fully (age 0).
        weights = 0.5 ** (np.maximum(age, 0.0) / half_life_days)
        return self._user_item(weights.astype(np.float32))

    def _user_item(self, basket_weight: np.ndarray) -> sp.csr_matrix:
        known = self.basket_user >= 0
        per_basket = sp.diags(basket_weight[known]) @ self.basket_item[known]
        owners = sp.csr_matrix(
            (
                np.ones(int(known.sum()), dtype=np.float32),
                (self.basket_user[known], np.arange(int(known.sum()))),
            ),
            shape=(self.n_users, int(known.sum())),
        )
        return sp.csr_matrix(owners @ per_basket, dtype=np.float32)

    def basket_items(self, basket: int) -> np.ndarray:
        """Item indices of one basket."""
        matrix = self.basket_item
        return matrix.indices[matrix.indptr[basket] : matrix.indptr[basket + 1]]

    @cached_property
    def item_basket_count(self) -> np.ndarray:
        """In how many baskets each item appears."""
        return np.asarray(self.basket_item.sum(axis=0)).ravel().astype(np.int64)

    # ------------------------------------------------------------------ items

    def item_names(self) -> np.ndarray:
        """Name of every item (its id when the name is unknown)."""
        names = self.catalog[C.NAME].astype(object)
        return np.where(names.isna(), self.catalog[C.ITEM], names).astype(object)

    def item_categories(self) -> np.ndarray:
        """Category of every item (``None`` when unknown)."""
        return (
            self.catalog[C.CATEGORY]
            .astype(object)
            .where(self.catalog[C.CATEGORY].notna(), None)
            .to_numpy()
        )

    def item_prices(self) -> np.ndarray:
        """Price of every item: catalog price, else median price paid, else NaN."""
        return self.catalog[C.PRICE].to_numpy(dtype=np.float64)

    def in_stock(self) -> np.ndarray:
        """Whether each item is in stock (unknown counts as in stock)."""
        values = self.catalog[C.IN_STOCK].to_numpy(dtype=object)
        return np.where(pd.isna(values), True, values).astype(bool)

    def item_margins(self) -> np.ndarray:
        """What the shop earns on one unit of each item: the catalog margin, else price - cost.

        NaN where neither the margin nor the cost is known.
        """
        margin = pd.to_numeric(self.catalog[C.MARGIN], errors="coerce").to_numpy(np.float64)
        cost = pd.to_numeric(self.catalog[C.COST], errors="coerce").to_numpy(np.float64)
        return np.where(np.isnan(margin), self.item_prices() - cost, margin)

    def item_stock(self) -> np.ndarray:
        """Units on hand of each item (NaN when the catalog does not say)."""
        return pd.to_numeric(self.catalog[C.STOCK], errors="coerce").to_numpy(np.float64)

    # ------------------------------------------------------------------ subsets

    def subset_baskets(self, mask: np.ndarray) -> ShopData:
        """The baskets where ``mask`` is true, keeping the item and user maps.

        Basket indices are renumbered densely; items and users keep their indices
        so that matrices from both sides of a split line up.
        """
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (self.n_baskets,):
            raise ValidationError(f"mask needs {self.n_baskets} entries, got {mask.shape}")
        keep = mask[self.lines["basket"].to_numpy()]
        lines = self.lines[keep].copy()
        renumber = np.cumsum(mask) - 1
        lines["basket"] = renumber[lines["basket"].to_numpy()].astype(np.int32)
        baskets = IdMap.from_index(pd.Index(self.baskets.ids[mask]))
        subset = ShopData(lines, self.items, self.users, baskets, self.catalog, self.events)
        subset.pseudonym_check = self.pseudonym_check
        return subset

    def fingerprint(self) -> str:
        """A short hash of the lines and maps: two equal fingerprints mean the same data."""
        return _fingerprint(
            [self.lines[c].to_numpy() for c in ("basket", "user", "item")],
            len(self.items),
            list(self.items.ids[:1000]),
        )


def _fingerprint(columns: Sequence[np.ndarray], n_items: int, first_ids: Sequence[Any]) -> str:
    """SHA-256 of the basket, user and item indices, the number of items and the first ids."""
    digest = hashlib.sha256()
    for column in columns:
        digest.update(np.ascontiguousarray(column, dtype=np.int32).tobytes())
    digest.update(str(n_items).encode())
    digest.update("\x1f".join(map(str, first_ids)).encode())
    return digest.hexdigest()[:16]


def _dense_ids(con: Any) -> None:
    """Temp tables ``item_ids``, ``user_ids``, ``basket_ids``: each external id's dense index."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE item_ids AS SELECT item_id, "
        "CAST(row_number() OVER (ORDER BY item_id) - 1 AS INTEGER) AS idx "
        "FROM (SELECT item_id FROM items UNION SELECT item_id FROM lines)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE user_ids AS SELECT user_id, "
        "CAST(row_number() OVER (ORDER BY user_id) - 1 AS INTEGER) AS idx FROM "
        "(SELECT user_id FROM customers UNION SELECT user_id FROM lines "
        "WHERE user_id IS NOT NULL)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE basket_ids AS SELECT basket_id, "
        "CAST(row_number() OVER (ORDER BY first_seen) - 1 AS INTEGER) AS idx FROM "
        "(SELECT basket_id, min(ingest_id * 4294967296 + source_line) AS first_seen "
        "FROM lines WHERE event = 'purchase' GROUP BY basket_id)"
    )


def store_fingerprint(con: Any) -> str | None:
    """:meth:`ShopData.fingerprint` of the data of an open store, without building a ShopData.

    ``None`` when the store holds no order lines.
    """
    if not con.execute("SELECT count(*) FROM lines").fetchall()[0][0]:
        return None
    try:
        _dense_ids(con)
        arrays = con.execute(
            "SELECT b.idx AS basket, COALESCE(u.idx, -1) AS user, i.idx AS item "
            "FROM lines l JOIN item_ids i USING (item_id) LEFT JOIN user_ids u USING (user_id) "
            "JOIN basket_ids b USING (basket_id) "
            "WHERE l.event = 'purchase' ORDER BY l.ingest_id, l.source_line"
        ).fetchnumpy()
        item_ids = [
            r[0]
            for r in con.execute("SELECT item_id FROM item_ids ORDER BY idx LIMIT 1000").fetchall()
        ]
        n_items = con.execute("SELECT count(*) FROM item_ids").fetchall()[0][0]
    finally:
        for table in ("item_ids", "user_ids", "basket_ids"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
    return _fingerprint([arrays[c] for c in ("basket", "user", "item")], int(n_items), item_ids)


def _to_pandas(frame: Any) -> pd.DataFrame:
    if isinstance(frame, pd.DataFrame):
        return frame
    if hasattr(frame, "to_pandas"):
        return frame.to_pandas()
    raise ValidationError(f"expected a pandas or Polars DataFrame, got {type(frame).__name__}")


def _as_id_strings(values: pd.Series | None) -> pd.Series | None:
    if values is None:
        return None
    if pd.api.types.is_float_dtype(values):
        whole = values.dropna()
        if (whole == np.trunc(whole)).all():
            return values.astype("Int64").astype(str).where(values.notna(), None)
    return (
        values.astype(object)
        .where(values.notna(), None)
        .map(lambda v: None if v is None else str(v))
    )


def _user_index(users: IdMap, values: pd.Series) -> np.ndarray:
    present = values.notna().to_numpy()
    out = np.full(len(values), -1, dtype=np.int32)
    if present.any():
        out[present] = users.to_index(values[present].astype(str).to_numpy())
    return out


def _empty_events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user": np.empty(0, np.int32),
            "item": np.empty(0, np.int32),
            "time": np.empty(0, "datetime64[ns]"),
            "event": np.empty(0, object),
        }
    )


def _catalog_frame(items: IdMap, catalog: pd.DataFrame | None, lines: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame({C.ITEM: items.ids})
    if catalog is not None and len(catalog):
        known = catalog.drop_duplicates(C.ITEM, keep="last").set_index(C.ITEM)
        for column in CATALOG_COLUMNS[1:]:
            if column in known.columns:
                frame[column] = known[column].reindex(frame[C.ITEM]).to_numpy()
    for column in CATALOG_COLUMNS[1:]:
        if column not in frame.columns:
            frame[column] = None
    paid = lines.groupby("item")["price"].median()
    fallback = pd.Series(np.nan, index=range(len(items)))
    fallback[paid.index.to_numpy()] = paid.to_numpy()
    frame[C.PRICE] = pd.to_numeric(frame[C.PRICE], errors="coerce").fillna(fallback)
    for column in (C.COST, C.MARGIN, C.STOCK):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(np.float64)
    # Units on hand say whether an item is in stock where no yes/no value does.
    counted = frame[C.IN_STOCK].isna() & frame[C.STOCK].notna()
    frame[C.IN_STOCK] = frame[C.IN_STOCK].astype(object)
    frame.loc[counted, C.IN_STOCK] = (frame.loc[counted, C.STOCK] > 0).to_numpy()
    return frame
