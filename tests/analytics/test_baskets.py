"""Basket figures of the tiny shop (tests/analytics/conftest.py) against hand counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xsell.analytics.baskets import attach_rates, basket_sizes, time_patterns, top_pairs
from xsell.data.shopdata import ShopData


def test_basket_sizes_by_hand(tiny: ShopData) -> None:
    table = basket_sizes(tiny)
    # o5 holds 1 item; o1, o2, o3 hold 2; o4 holds 3.
    assert table["size"].tolist() == [1, 2, 3]
    assert table["baskets"].tolist() == [1, 3, 1]
    assert table["share"].tolist() == pytest.approx([0.2, 0.6, 0.2])


def test_attach_rates_by_hand(tiny: ShopData) -> None:
    rates = attach_rates(tiny)
    # Categories per order: o1 {Kitchen}, o2 {Kitchen, Lighting}, o3 {Lighting, Table},
    # o4 {Kitchen, Lighting}, o5 {Table}. Kitchen in 3, Lighting in 3, Table in 2;
    # Kitchen+Lighting in 2, Lighting+Table in 1, Kitchen+Table in none.
    names = ["Kitchen", "Lighting", "Table"]
    assert rates.index.tolist() == names and rates.columns.tolist() == names
    expected = np.array(
        [
            [np.nan, 2 / 3, 0.0],
            [2 / 3, np.nan, 1 / 3],
            [0.0, 1 / 2, np.nan],
        ]
    )
    np.testing.assert_allclose(rates.to_numpy(), expected, equal_nan=True)


def test_time_patterns_by_hand(tiny: ShopData) -> None:
    patterns = time_patterns(tiny)
    assert set(patterns) == {"hour", "weekday", "month"}
    hour = patterns["hour"].set_index("hour")
    assert hour.index.tolist() == [f"{h:02d}" for h in range(24)]
    # 09: o1, o3, o5; 14: o2; 18: o4.
    assert hour["orders"].to_dict() == {
        f"{h:02d}": {9: 3, 14: 1, 18: 1}.get(h, 0) for h in range(24)
    }
    assert hour.loc["09", "revenue"] == 5.0 + 14.0 + 5.0
    assert hour.loc["14", "revenue"] == 13.5
    assert hour.loc["18", "revenue"] == 10.5
    weekday = patterns["weekday"].set_index("weekday")
    assert weekday.index.tolist() == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert weekday["orders"].tolist() == [2, 1, 0, 0, 1, 1, 0]
    assert weekday["revenue"].tolist() == [18.5, 10.5, 0.0, 0.0, 5.0, 14.0, 0.0]
    month = patterns["month"].set_index("month")
    assert month["orders"].tolist() == [2, 2, 1] + [0] * 9
    assert month["revenue"].tolist() == [18.5, 24.5, 5.0] + [0.0] * 9
    assert month.index[:3].tolist() == ["Jan", "Feb", "Mar"]


def test_pairs_and_bundles_bought_by_few_customers_are_not_shown() -> None:
    from xsell.analytics.bundles import bundle_candidates

    # x+y: 30 baskets of 3 customers; p+q: 30 baskets of 15 customers; filler baskets.
    rows = []
    for n in range(30):
        rows += [(f"a{n}", f"c{n % 3}", "x"), (f"a{n}", f"c{n % 3}", "y")]
        rows += [(f"b{n}", f"d{n % 15}", "p"), (f"b{n}", f"d{n % 15}", "q")]
    for n in range(300):
        rows.append((f"f{n}", f"e{n % 50}", f"z{n % 30}"))
    data = ShopData.from_frame(pd.DataFrame(rows, columns=["basket_id", "user_id", "item_id"]))
    everything = top_pairs(data, k=10, min_count=10, min_customers=1)
    assert {(a, b) for a, b in zip(everything["item_a"], everything["item_b"], strict=True)} == {
        ("p", "q"),
        ("x", "y"),
    }
    shown = top_pairs(data, k=10, min_count=10)  # default: 5 customers
    assert list(zip(shown["item_a"], shown["item_b"], shown["customers"], strict=True)) == [
        ("p", "q", 15)
    ]
    bundles = bundle_candidates(data, k=5, min_count=10)
    assert [tuple(sorted(i)) for i in bundles["items"]] == [("p", "q")]
    assert bundle_candidates(data, k=5, min_count=10, min_customers=3)["size"].tolist() == [2, 2]
