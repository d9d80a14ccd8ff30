"""Minimum group sizes: an item set or group is shown only when enough distinct customers share it.

A "bundle" bought by one person is that person's basket: published, it tells
anyone who knows them what they bought. Shared artifacts (rules, bundles, top
pairs, segment profiles, reports) therefore keep only item sets bought together
by at least ``min_customers`` distinct known customers. Anonymous orders count
for nobody: they may all be one person.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Final

import numpy as np
import scipy.sparse as sp

from xsell.errors import ValidationError

if TYPE_CHECKING:
    from xsell.data.shopdata import ShopData

#: The default minimum number of distinct customers behind anything shown.
MIN_CUSTOMERS: Final = 5


def check_min_customers(min_customers: int) -> int:
    """Validate a ``min_customers`` setting (1 turns the guard off)."""
    if isinstance(min_customers, bool) or not isinstance(min_customers, int | np.integer):
        raise ValidationError(f"min_customers must be a whole number, got {min_customers!r}")
    if min_customers < 1:
        raise ValidationError(f"min_customers must be 1 or more, got {min_customers}")
    return int(min_customers)


def customers_per_item(data: ShopData) -> np.ndarray:
    """How many distinct known customers bought each item."""
    matrix = data.user_item
    return np.diff(matrix.tocsc().indptr).astype(np.int64)


def customers_of(data: ShopData, items: Sequence[int]) -> int:
    """Distinct known customers with a basket holding every item of ``items``."""
    csc = _csc(data)
    columns = sorted((csc.indices[csc.indptr[i] : csc.indptr[i + 1]] for i in items), key=len)
    if not columns:
        return 0
    baskets = columns[0]
    for other in columns[1:]:
        if not len(baskets):
            break
        baskets = np.intersect1d(baskets, other, assume_unique=True)
    owners = data.basket_user[baskets]
    return len(np.unique(owners[owners >= 0]))


def customers_per_itemset(data: ShopData, itemsets: Iterable[Sequence[int]]) -> np.ndarray:
    """:func:`customers_of` for each item set (item indices)."""
    return np.array([customers_of(data, s) for s in itemsets], dtype=np.int64)


def first_with_customers(
    data: ShopData,
    itemsets: Sequence[Sequence[int]],
    min_customers: int,
    k: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the first ``k`` item sets (in the order given) with enough customers.

    Returns the positions kept and their customer counts. Sets are checked in
    order and the search stops once ``k`` are found, so a ranked list of many
    candidates costs only what the top needs.
    """
    min_customers = check_min_customers(min_customers)
    kept: list[int] = []
    counts: list[int] = []
    for position, items in enumerate(itemsets):
        count = customers_of(data, items)
        if count >= min_customers:
            kept.append(position)
            counts.append(count)
            if k is not None and len(kept) >= k:
                break
    return np.array(kept, dtype=np.int64), np.array(counts, dtype=np.int64)


def _csc(data: ShopData) -> sp.csc_matrix:
    cached = data.__dict__.get("_basket_item_csc")
    if cached is None:
        cached = data.basket_item.tocsc()
        cached.sort_indices()
        data.__dict__["_basket_item_csc"] = cached
    return cached
