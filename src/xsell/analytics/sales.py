"""Sales analysis: revenue over time, top products and categories, order value, returns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xsell.analytics.common import item_frame, need_categories, need_prices, need_times
from xsell.data import columns as C
from xsell.data.presets import PRESETS
from xsell.data.shopdata import ShopData
from xsell.data.store import Store


def revenue_over_time(data: ShopData, freq: str = "W") -> pd.DataFrame:
    """Revenue, orders and customers per period (``freq``: a pandas period alias, e.g. W, M, D)."""
    revenue = need_prices(data, "revenue over time")
    need_times(data, "revenue over time")
    lines = data.lines
    frame = pd.DataFrame(
        {
            "period": lines["time"].dt.to_period(freq).dt.start_time,
            "revenue": revenue,
            "basket": lines["basket"].to_numpy(),
            "user": lines["user"].where(lines["user"] >= 0),
        }
    ).dropna(subset=["period"])
    grouped = frame.groupby("period", sort=True)
    return pd.DataFrame(
        {
            "revenue": grouped["revenue"].sum(),
            "orders": grouped["basket"].nunique(),
            "customers": grouped["user"].nunique(),
        }
    ).reset_index()


def top_products(data: ShopData, k: int = 20) -> pd.DataFrame:
    """The ``k`` items with the most revenue (``item_id``, ``name``, ``category``, ...)."""
    revenue = need_prices(data, "top products by revenue")
    lines = data.lines
    per_item = pd.DataFrame(
        {"item": lines["item"].to_numpy(), "revenue": revenue, "quantity": lines["quantity"]}
    ).groupby("item")
    table = pd.DataFrame(
        {
            "revenue": per_item["revenue"].sum(),
            "quantity": per_item["quantity"].sum(),
            "orders": per_item.size(),
        }
    ).sort_values("revenue", ascending=False)
    table = table.head(k)
    named = item_frame(data, table.index.to_numpy())
    return pd.concat([named, table.reset_index(drop=True)], axis=1)


def top_categories(data: ShopData, k: int = 20) -> pd.DataFrame:
    """Categories by revenue (``category``, ``revenue``, ``orders``, ``revenue_share``)."""
    revenue = need_prices(data, "top categories")
    categories = need_categories(data, "top categories")
    lines = data.lines
    frame = pd.DataFrame(
        {
            "category": categories[lines["item"].to_numpy()],
            "revenue": revenue,
            "basket": lines["basket"].to_numpy(),
        }
    ).dropna(subset=["category"])
    grouped = frame.groupby("category")
    table = pd.DataFrame(
        {"revenue": grouped["revenue"].sum(), "orders": grouped["basket"].nunique()}
    ).sort_values("revenue", ascending=False)
    table["revenue_share"] = table["revenue"] / np.nansum(revenue)
    return table.head(k).reset_index()


def order_figures(data: ShopData) -> dict[str, float]:
    """Orders, revenue, average order value, items (distinct and units) per order, customers."""
    lines = data.lines
    sizes = np.diff(data.basket_item.indptr)
    revenue = lines["quantity"].to_numpy(np.float64) * lines["price"].to_numpy(np.float64)
    priced = bool(np.isfinite(revenue).any())
    total = float(np.nansum(revenue)) if priced else float("nan")
    n = max(data.n_baskets, 1)
    return {
        "orders": float(data.n_baskets),
        "lines": float(len(lines)),
        "customers": float(len(np.unique(data.basket_user[data.basket_user >= 0]))),
        "anonymous_orders": float(int((data.basket_user < 0).sum())),
        "items": float(int((data.item_basket_count > 0).sum())),
        "revenue": total,
        "average_order_value": total / n if priced else float("nan"),
        "items_per_order": float(sizes.mean()) if len(sizes) else float("nan"),
        "units_per_order": float(lines["quantity"].sum()) / n,
    }


def return_rates(store: Store | str | Path, data: ShopData) -> pd.DataFrame:
    """Cancelled and returned lines (from the store's rejected rows) against kept lines.

    Returns
    -------
    pandas.DataFrame
        One row per reason (``cancellation``, ``return``): ``lines``,
        ``line_rate`` (``lines / (kept lines + lines)``), ``value`` (sum of
        ``|quantity| * price`` read back from the raw rows with the ingest's
        preset mapping; NaN when the columns are unknown) and ``value_rate``
        (``value / (kept revenue + value)``).
    """
    store = store if isinstance(store, Store) else Store(store)
    with store.connect() as con:
        rows = con.execute(
            "SELECT r.reason, r.raw, i.preset FROM rejected r "
            "LEFT JOIN ingests i USING (ingest_id) WHERE r.reason IN ('cancellation', 'return')"
        ).fetchall()
    kept_revenue = data.lines["quantity"].to_numpy(np.float64) * data.lines["price"].to_numpy(
        np.float64
    )
    kept_value = float(np.nansum(kept_revenue))
    out = []
    for reason in ("cancellation", "return"):
        mine = [r for r in rows if r[0] == reason]
        values = np.array([_raw_value(raw, preset) for _, raw, preset in mine], dtype=np.float64)
        known = np.isfinite(values)
        value = float(values[known].sum()) if known.any() or not mine else float("nan")
        total_lines = len(data.lines) + len(mine)
        out.append(
            {
                "reason": reason,
                "lines": len(mine),
                "line_rate": len(mine) / total_lines if total_lines else float("nan"),
                "value": value,
                "value_rate": value / (kept_value + value) if kept_value + value > 0 else np.nan,
            }
        )
    return pd.DataFrame(out)


def _raw_value(raw: Any, preset: str | None) -> float:
    """``|quantity| * price`` of a rejected row's raw JSON (NaN when the columns are unknown)."""
    spec = PRESETS.get(preset or "")
    mapping = spec.mapping if spec is not None else {}
    quantity_key = mapping.get(C.QUANTITY, C.QUANTITY)
    price_key = mapping.get(C.PRICE, C.PRICE)
    try:
        row = json.loads(raw) if isinstance(raw, str) else dict(raw)
        value = abs(float(row[quantity_key])) * float(row[price_key])
    except (KeyError, TypeError, ValueError):
        return float("nan")
    if spec is not None and spec.price_is_line_total:
        value = abs(float(row[price_key]))
    return value
