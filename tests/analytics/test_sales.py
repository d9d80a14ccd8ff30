"""Sales figures of the tiny shop (tests/analytics/conftest.py) against hand computations."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from xsell.analytics.sales import (
    order_figures,
    return_rates,
    revenue_over_time,
    top_categories,
    top_products,
)
from xsell.data.ingest import ingest_lines
from xsell.data.shopdata import ShopData
from xsell.data.store import Store


def test_order_figures_by_hand(tiny: ShopData) -> None:
    assert order_figures(tiny) == {
        "orders": 5.0,
        "lines": 10.0,
        "customers": 3.0,
        "anonymous_orders": 1.0,
        "items": 4.0,
        "revenue": 48.0,  # 5.0 + 13.5 + 14.0 + 10.5 + 5.0
        "average_order_value": 9.6,
        "items_per_order": 2.0,  # (2 + 2 + 2 + 3 + 1) / 5
        "units_per_order": 3.0,  # 15 units / 5
    }


def test_revenue_per_month_by_hand(tiny: ShopData) -> None:
    table = revenue_over_time(tiny, "M")
    assert table["period"].tolist() == list(
        pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"])
    )
    assert table["revenue"].tolist() == [18.5, 24.5, 5.0]
    assert table["orders"].tolist() == [2, 2, 1]
    # February: u2 and one anonymous order, which is no customer.
    assert table["customers"].tolist() == [1, 1, 1]


def test_revenue_per_week_has_a_row_for_weeks_without_orders(tiny: ShopData) -> None:
    table = revenue_over_time(tiny, "W")
    # Weeks start on Monday: 1 Jan 2024 to the week of 11 March, eleven weeks.
    assert table["period"].tolist() == list(pd.date_range("2024-01-01", "2024-03-11", freq="7D"))
    weekly = dict(zip(table["period"].dt.strftime("%m-%d"), table["revenue"], strict=True))
    assert weekly == {
        "01-01": 5.0,
        "01-08": 13.5,
        "01-15": 0.0,
        "01-22": 0.0,
        "01-29": 14.0,  # Saturday 3 February belongs to the week of 29 January
        "02-05": 10.5,
        "02-12": 0.0,
        "02-19": 0.0,
        "02-26": 0.0,
        "03-04": 0.0,
        "03-11": 5.0,
    }
    assert table["orders"].sum() == 5


def test_top_products_by_hand(tiny: ShopData) -> None:
    table = top_products(tiny, k=3, min_customers=1)
    assert table["item_id"].tolist() == ["c", "d", "b"]
    assert table["name"].tolist() == ["Candle", "Dish", "Bread"]
    assert table["category"].tolist() == ["Lighting", "Table", "Kitchen"]
    assert table["revenue"].tolist() == [20.0, 15.0, 7.0]  # c: 12 + 4 + 4; d: 10 + 5; b: 2 + 5
    assert table["quantity"].tolist() == [5.0, 3.0, 3.0]
    assert table["orders"].tolist() == [3, 2, 2]


def test_top_categories_by_hand(tiny: ShopData) -> None:
    table = top_categories(tiny, min_customers=1)
    assert table["category"].tolist() == ["Lighting", "Table", "Kitchen"]
    assert table["revenue"].tolist() == [20.0, 15.0, 13.0]  # Kitchen: a 6.0 + b 7.0
    assert table["orders"].tolist() == [3, 2, 3]
    assert table["revenue_share"].tolist() == pytest.approx([20 / 48, 15 / 48, 13 / 48])


RETAIL_CSV = """InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID
536365,85123A,WHITE HANGING HEART,6,12/1/2010 8:26,2.55,17850
536365,71053,WHITE METAL LANTERN,2,12/1/2010 8:26,3.39,17850
536370,85123A,WHITE HANGING HEART,4,12/1/2010 8:45,2.65,12583
C536379,85123A,WHITE HANGING HEART,-2,12/1/2010 9:41,2.55,17850
C536380,71053,WHITE METAL LANTERN,-1,12/1/2010 9:42,3.39,17850
536381,71053,WHITE METAL LANTERN,-3,12/1/2010 9:50,3.39,17850
536382,85123A,damaged,-10,12/1/2010 10:00,0,
536383,99999,lost,-5,12/1/2010 10:05,0,
"""


def test_return_rates_value_rejected_lines_from_their_raw_rows(tmp_path: Path) -> None:
    path = tmp_path / "retail.csv"
    path.write_text(RETAIL_CSV)
    store = Store(tmp_path / "s.duckdb")
    ingest_lines(store, path, preset="online-retail")
    data = ShopData.from_store(store)
    table = return_rates(store, data).set_index("reason")
    kept = 6 * 2.55 + 2 * 3.39 + 4 * 2.65  # 32.68 over 3 kept lines
    cancel = table.loc["cancellation"]
    assert (cancel["lines"], cancel["units"]) == (2, 3.0)
    assert cancel["line_rate"] == pytest.approx(2 / 5)
    assert cancel["recorded_value"] == pytest.approx(2 * 2.55 + 1 * 3.39)
    assert cancel["value"] == pytest.approx(8.49)
    assert (cancel["repriced_lines"], cancel["unvalued_lines"]) == (0, 0)
    assert cancel["value_rate"] == pytest.approx(8.49 / (kept + 8.49))
    returned = table.loc["return"]
    assert (returned["lines"], returned["units"]) == (3, 18.0)
    assert returned["line_rate"] == pytest.approx(3 / 6)
    # Only 536381 has a price; 536382 is recorded at price 0 and is valued at the median
    # price paid for 85123A (2.55 and 2.65: 2.60); 99999 was never sold at a price.
    assert returned["recorded_value"] == pytest.approx(3 * 3.39)
    assert (returned["repriced_lines"], returned["unvalued_lines"]) == (1, 1)
    assert returned["value"] == pytest.approx(3 * 3.39 + 10 * 2.60)
    assert returned["value_rate"] == pytest.approx(36.17 / (kept + 36.17))


def test_return_rates_without_rejected_lines(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("basket_id,item_id,quantity,price\no1,a,1,2.0\n")
    store = Store(tmp_path / "s.duckdb")
    ingest_lines(store, path)
    table = return_rates(store, ShopData.from_store(store))
    assert table["reason"].tolist() == ["cancellation", "return"]
    assert table["lines"].tolist() == [0, 0]
    assert table["value"].tolist() == [0.0, 0.0]
    assert table["value_rate"].tolist() == [0.0, 0.0]
