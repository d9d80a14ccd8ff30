"""Basket figures of the tiny shop (tests/analytics/conftest.py) against hand counts."""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import fisher_exact

from xsell.analytics.baskets import (
    attach_rates,
    basket_sizes,
    bought_with,
    category_affinity,
    repurchase_intervals,
    time_patterns,
    top_pairs,
)
from xsell.analytics.bundles import bundle_candidates
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError


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


def test_top_pairs_equal_brute_force_counts_lift_and_fisher(shop_data: ShopData) -> None:
    pairs = top_pairs(shop_data, k=15, min_count=10, min_customers=1)
    baskets = [set(shop_data.basket_items(b).tolist()) for b in range(shop_data.n_baskets)]
    single = Counter(i for b in baskets for i in b)
    together = Counter(p for b in baskets for p in combinations(sorted(b), 2))
    n = len(baskets)
    strength = {
        (a, b): (c * n / (single[a] * single[b]), c) for (a, b), c in together.items() if c >= 10
    }
    got = list(zip(pairs["a"], pairs["b"], strict=True))
    assert len(got) == 15 and len(set(got)) == 15
    # Best first by lift, then count; nothing left out is stronger than the last one kept.
    ranked = [strength[pair] for pair in got]
    assert ranked == sorted(ranked, reverse=True)
    assert max(v for pair, v in strength.items() if pair not in set(got)) <= ranked[-1]
    for row in pairs.itertuples():
        assert row.count == together[(row.a, row.b)]
        assert row.lift == pytest.approx(strength[(row.a, row.b)][0], rel=1e-12)
        table = [
            [row.count, single[row.a] - row.count],
            [single[row.b] - row.count, n - single[row.a] - single[row.b] + row.count],
        ]
        assert row.p_value == pytest.approx(
            fisher_exact(table, alternative="greater")[1], rel=1e-6, abs=1e-300
        )
    assert pairs["name_a"].notna().all()


def test_bought_with_counts_lift_and_fisher_by_hand() -> None:
    data = ShopData.from_baskets(
        [["a", "b"], ["a", "b", "c"], ["a", "c"], ["b"], ["c"], ["a", "b"], ["d"], ["a", "a", "b"]]
    )
    got = bought_with(data, "a").set_index("item_id")
    assert sorted(got.index) == ["b", "c", "d"]
    # a is in 5 of 8 baskets; b in 5 (4 with a), c in 3 (2 with a), d in 1 (none with a).
    assert got.loc["b", "count"] == 4 and got.loc["c", "count"] == 2 and got.loc["d", "count"] == 0
    assert got.loc["b", "lift"] == pytest.approx(4 * 8 / (5 * 5))
    assert got.loc["c", "lift"] == pytest.approx(2 * 8 / (5 * 3))
    assert got.loc["d", "lift"] == 0
    p_b = fisher_exact([[4, 1], [1, 2]], alternative="greater")[1]
    assert got.loc["b", "p_value"] == pytest.approx(p_b)
    # Above chance needs lift > 1 and significance: b (p 0.46) is not, with 8 baskets.
    assert not got["above_chance"].any()
    with pytest.raises(ValidationError, match="unknown item 'zz'"):
        bought_with(data, "zz")


def test_bought_with_marks_planted_partners_above_chance(shop_data: ShopData) -> None:
    from tests.shops import standard

    for pair in standard().planted_pairs[:3]:
        evidence = bought_with(shop_data, pair.anchor).set_index("item_id")
        assert evidence.loc[pair.partner, "above_chance"]
        assert evidence["above_chance"].sum() < len(evidence) // 4


def test_category_affinity_is_lift_of_category_pairs(shop_data: ShopData) -> None:
    lift = category_affinity(shop_data)
    cats = shop_data.item_categories()
    per_basket = [set(cats[shop_data.basket_items(b)]) for b in range(shop_data.n_baskets)]
    a, b = lift.index[0], lift.index[1]
    n_a = sum(a in s for s in per_basket)
    n_b = sum(b in s for s in per_basket)
    n_ab = sum(a in s and b in s for s in per_basket)
    assert lift.loc[a, b] == pytest.approx(n_ab * len(per_basket) / (n_a * n_b))
    assert np.isnan(lift.loc[a, a])


def test_repurchase_intervals_by_hand() -> None:
    rows = [
        # u1 buys x on days 0, 10, 30 (twice on day 10: counted once); u2 on days 0 and 4.
        ("b1", "u1", "x", "2024-01-01"),
        ("b2", "u1", "x", "2024-01-11"),
        ("b3", "u1", "x", "2024-01-11"),
        ("b4", "u1", "x", "2024-01-31"),
        ("b5", "u2", "x", "2024-01-01"),
        ("b6", "u2", "x", "2024-01-05"),
        ("b6", "u2", "y", "2024-01-05"),
    ]
    frame = pd.DataFrame(rows, columns=["basket_id", "user_id", "item_id", "time"])
    table = repurchase_intervals(ShopData.from_frame(frame), min_repeats=1, min_customers=1)
    assert table["item_id"].tolist() == ["x"]
    row = table.iloc[0]
    # Intervals 10, 20 (u1) and 4 (u2).
    assert (row["repeats"], row["customers"], row["median_days"]) == (3, 2, 10.0)
