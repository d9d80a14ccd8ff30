"""Sales analysis: revenue over time, top products and categories, order value, returns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xsell.analytics.common import (
    item_frame,
    line_revenue,
    need_categories,
    need_prices,
    need_times,
)
from xsell.data import columns as C
from xsell.data.groups import MIN_CUSTOMERS, check_min_customers, customers_per_item
from xsell.data.presets import PRESETS
from xsell.data.shopdata import ShopData
from xsell.data.store import Store


def revenue_over_time(data: ShopData, freq: str = "W") -> pd.DataFrame:
    """Revenue, orders and customers per period (``freq``: a pandas period alias, e.g. W, M, D).

    Every period from the first order to the last is a row; periods without an
    order have zeros (a line chart would otherwise bridge a closed week).
    ``period`` is the start of the period.
    """
    revenue = need_prices(data, "revenue over time")
    need_times(data, "revenue over time")
    lines = data.lines
    frame = pd.DataFrame(
        {
            "period": lines["time"].dt.to_period(freq),
            "revenue": revenue,
            "basket": lines["basket"].to_numpy(),
            "user": lines["user"].where(lines["user"] >= 0),
        }
    ).dropna(subset=["period"])
    grouped = frame.groupby("period", sort=True)
    table = pd.DataFrame(
        {
            "revenue": grouped["revenue"].sum(),
            "orders": grouped["basket"].nunique(),
            "customers": grouped["user"].nunique(),
        }
    )
    every = pd.period_range(table.index.min(), table.index.max(), freq=freq)
    table = table.reindex(every, fill_value=0)
    table.index = pd.Index(every.start_time, name="period")
    return table.reset_index()


def top_products(data: ShopData, k: int = 20, min_customers: int = MIN_CUSTOMERS) -> pd.DataFrame:
    """The ``k`` items with the most revenue (``item_id``, ``name``, ``category``, ...).

    Items bought by fewer than ``min_customers`` distinct customers are left out.
    """
    revenue = need_prices(data, "top products by revenue")
    buyers = customers_per_item(data)
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
    table["customers"] = buyers[table.index.to_numpy()]
    table = table[table["customers"] >= check_min_customers(min_customers)].head(k)
    named = item_frame(data, table.index.to_numpy())
    return pd.concat([named, table.reset_index(drop=True)], axis=1)


def top_categories(data: ShopData, k: int = 20, min_customers: int = MIN_CUSTOMERS) -> pd.DataFrame:
    """Categories by revenue (``category``, ``revenue``, ``orders``, ``revenue_share``).

    Categories bought by fewer than ``min_customers`` distinct customers are left out.
    """
    revenue = need_prices(data, "top categories")
    categories = need_categories(data, "top categories")
    lines = data.lines
    frame = pd.DataFrame(
        {
            "category": categories[lines["item"].to_numpy()],
            "revenue": revenue,
            "basket": lines["basket"].to_numpy(),
            "user": lines["user"].where(lines["user"] >= 0).to_numpy(),
        }
    ).dropna(subset=["category"])
    grouped = frame.groupby("category")
    table = pd.DataFrame(
        {
            "revenue": grouped["revenue"].sum(),
            "orders": grouped["basket"].nunique(),
            "customers": grouped["user"].nunique(),
        }
    ).sort_values("revenue", ascending=False)
    table["revenue_share"] = table["revenue"] / np.nansum(revenue)
    table = table[table["customers"] >= check_min_customers(min_customers)]
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

    The value of a rejected line is read back from its raw row with the ingest's
    preset mapping: ``|quantity| * price``. Lines recorded without a price (or at
    price 0, as every negative-quantity line of Online Retail is: stock write-offs
    such as "damaged" or "check", not customer refunds) would count as worth
    nothing; they are valued at the item's usual price instead (catalog price, else
    the median price paid on kept lines), and the table says how many were.

    Returns
    -------
    pandas.DataFrame
        One row per reason (``cancellation``, ``return``): ``lines``,
        ``line_rate`` (``lines / (kept lines + lines)``), ``units`` (sum of
        ``|quantity|``), ``recorded_value`` (``|quantity| * price`` as recorded),
        ``repriced_lines`` (lines without a positive price, valued at the item's
        usual price), ``unvalued_lines`` (lines with no price at all, left out of
        the value), ``value`` (recorded or usual-price value) and ``value_rate``
        (``value / (kept revenue + value)``).
    """
    store = store if isinstance(store, Store) else Store(store)
    with store.connect() as con:
        rows = con.execute(
            "SELECT r.reason, r.raw, i.preset FROM rejected r "
            "LEFT JOIN ingests i USING (ingest_id) WHERE r.reason IN ('cancellation', 'return') "
            "ORDER BY r.ingest_id, r.source_line"
        ).fetchall()
    kept_value = float(np.nansum(line_revenue(data)))
    usual_price = dict(zip(data.items.ids.tolist(), data.item_prices().tolist(), strict=True))
    out = []
    for reason in ("cancellation", "return"):
        parsed = [_raw_line(raw, preset) for kind, raw, preset in rows if kind == reason]
        units = np.array([q for _, q, _ in parsed], dtype=np.float64)
        recorded = np.array([v for _, _, v in parsed], dtype=np.float64)
        usual = np.array([usual_price.get(i, np.nan) for i, _, _ in parsed], dtype=np.float64)
        repriced = ~(recorded > 0)
        value = np.where(repriced, units * usual, recorded)
        valued = np.isfinite(value)
        total_value = float(value[valued].sum())
        total_lines = len(data.lines) + len(parsed)
        out.append(
            {
                "reason": reason,
                "lines": len(parsed),
                "line_rate": len(parsed) / total_lines if total_lines else np.nan,
                "units": float(np.nansum(units)),
                "recorded_value": float(np.nansum(recorded)),
                "repriced_lines": int((repriced & valued).sum()),
                "unvalued_lines": int((~valued).sum()),
                "value": total_value,
                "value_rate": (
                    total_value / (kept_value + total_value)
                    if kept_value + total_value > 0
                    else np.nan
                ),
            }
        )
    return pd.DataFrame(out)


def _raw_line(raw: Any, preset: str | None) -> tuple[str | None, float, float]:
    """Item id, ``|quantity|`` and recorded value of a rejected row's raw JSON.

    The value is ``|quantity| * price`` (``|price|`` for presets whose price is the
    line total); NaN when the row has no readable price, as is the quantity.
    """
    spec = PRESETS.get(preset or "")
    mapping = spec.mapping if spec is not None else {}
    try:
        row = json.loads(raw) if isinstance(raw, str) else dict(raw)
    except (TypeError, ValueError):
        return None, np.nan, np.nan
    by_name = {str(k).lower(): v for k, v in row.items()}

    def field(role: str) -> Any:
        column = mapping.get(role, role)
        return row[column] if column in row else by_name.get(column.lower())

    item = _id_text(field(C.ITEM))
    quantity = _number(field(C.QUANTITY))
    price = _number(field(C.PRICE))
    units = abs(quantity) if np.isfinite(quantity) else np.nan
    if spec is not None and spec.price_is_line_total:
        return item, units, abs(price)
    return item, units, units * price


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _id_text(value: Any) -> str | None:
    """An id as the store keeps it: trimmed text, integral floats without ``.0``."""
    if value is None:
        return None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    text = str(value).strip()
    return text or None
