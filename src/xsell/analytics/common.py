"""What every analysis shares: the "cannot compute this" error and small column helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from xsell.data.shopdata import ShopData
from xsell.errors import XsellError


class Unavailable(XsellError):
    """The data cannot answer this analysis (the message says which input is missing)."""


def line_revenue(data: ShopData) -> np.ndarray:
    """Revenue of every order line (``quantity * price``; NaN where the price is unknown)."""
    return data.lines["quantity"].to_numpy(np.float64) * data.lines["price"].to_numpy(np.float64)


def need_prices(data: ShopData, what: str) -> np.ndarray:
    """Line revenue, or :class:`Unavailable` when no line has a price."""
    revenue = line_revenue(data)
    if not np.isfinite(revenue).any():
        raise Unavailable(f"{what} needs prices, and no order line has a price")
    return revenue


def need_times(data: ShopData, what: str) -> np.ndarray:
    """Basket times, or :class:`Unavailable` when no basket has a time."""
    times = data.basket_time
    if np.isnat(times).all():
        raise Unavailable(f"{what} needs order times, and no order has a time")
    return times


def need_customers(data: ShopData, what: str) -> np.ndarray:
    """Customer index of every basket, or :class:`Unavailable` when every basket is anonymous."""
    owners = data.basket_user
    if not (owners >= 0).any():
        raise Unavailable(f"{what} needs customer ids, and every order is anonymous")
    return owners


def need_categories(data: ShopData, what: str) -> np.ndarray:
    """Category of every item, or :class:`Unavailable` when the catalog has none."""
    categories = data.item_categories()
    if all(c is None for c in categories):
        raise Unavailable(f"{what} needs item categories, and the catalog has none")
    return categories


def item_frame(data: ShopData, items: np.ndarray) -> pd.DataFrame:
    """External id, readable name and category of item indices."""
    items = np.asarray(items, dtype=np.int64)
    return pd.DataFrame(
        {
            "item_id": data.items.ids[items] if len(items) else np.empty(0, object),
            "name": data.item_names()[items] if len(items) else np.empty(0, object),
            "category": data.item_categories()[items] if len(items) else np.empty(0, object),
        }
    )


def category_codes(categories: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense codes of item categories (-1 for unknown) and the category names."""
    values = pd.Series(categories, dtype=object)
    codes, names = pd.factorize(values, sort=True)
    return codes.astype(np.int64), np.asarray(names, dtype=object)
