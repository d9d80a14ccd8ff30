"""What fills a list the model cannot fill, and the words every answer uses for it.

When a model has fewer than ``k`` suggestions with evidence (an unknown item, a
new customer, a cart of rare items), the list is filled with best sellers the
business rules allow: first of the cart's own categories, then of the shop. The
reasons say why the model had nothing better.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xsell.models.items import ItemTable


def fill(
    table: ItemTable, cart: Sequence[int], allowed: np.ndarray, picked: Sequence[int], n: int
) -> tuple[list[int], list[bool]]:
    """Up to ``n`` best sellers not in ``picked``: (items, whether each shares a cart category).

    Ties of popularity go to the lower item index, so fills are deterministic.
    """
    free = allowed.copy()
    free[list(picked)] = False
    codes = table.category_codes()
    mine_codes = np.unique(codes[np.asarray(cart, dtype=np.int64)]) if len(cart) else codes[:0]
    mine_codes = mine_codes[mine_codes >= 0]
    items: list[int] = []
    same: list[bool] = []
    if len(mine_codes):
        for i in _best_sellers(table, free, n, mine_codes):
            items.append(i)
            same.append(True)
            free[i] = False
    for i in _best_sellers(table, free, n - len(items)):
        items.append(i)
        same.append(False)
    return items, same


def _best_sellers(
    table: ItemTable, free: np.ndarray, n: int, categories: np.ndarray | None = None
) -> list[int]:
    """The ``n`` most popular items ``free`` allows (of ``categories``' codes), best first.

    Walks the popularity order in growing chunks: the best sellers are nearly always
    allowed, so a request reads a few hundred items, not the whole catalog.
    """
    order = table.by_popularity()
    found: list[int] = []
    start, step = 0, 256
    while len(found) < n and start < len(order):
        chunk = order[start : start + step]
        keep = free[chunk]
        if categories is not None:
            keep &= (table.category_codes()[chunk, None] == categories[None, :]).any(axis=1)
        found.extend(chunk[keep][: n - len(found)].tolist())
        start, step = start + step, step * 4
    return found


def note(unknown_items: Sequence[str], customer: str | None, known_customer: bool) -> str:
    """What an answer says first about ids the model does not know."""
    text = f"unknown item {', '.join(unknown_items[:3])}; " if unknown_items else ""
    if customer is not None and not known_customer:
        text += f"unknown customer {customer}; "
    return text


def fill_reason(
    table: ItemTable,
    item: int,
    same_category: bool,
    has_cart: bool,
    unknown_items: Sequence[str],
    customer: str | None,
    known_customer: bool,
) -> str:
    """Why a best seller fills the list."""
    if unknown_items and not has_cart:
        why = f"unknown item {', '.join(unknown_items[:3])}; "
    elif customer is not None and not known_customer and not has_cart:
        why = f"unknown customer {customer}; "
    elif has_cart:
        why = "no co-purchase evidence; "
    else:
        why = ""
    if same_category:
        return f"{why}popular in {table.categories[item]}"
    return f"{why}popular in the shop ({int(table.popularity[item]):,} orders)"


def popular_reason(table: ItemTable, item: int) -> str:
    """The reason of a model that ranks an item by how often it sells."""
    return f"popular: in {int(table.popularity[item]):,} past orders"
