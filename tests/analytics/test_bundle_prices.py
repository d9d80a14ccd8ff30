"""Bundle prices: the closed-form discount against a brute-force search, the margin floor,
an elasticity recovered from prices planted with a known one, and the errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xsell.analytics.bundle_prices import (
    Elasticity,
    elasticity_for,
    estimate_elasticity,
    expected_margin,
    price_bundles,
    suggest_discount,
)
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError


@pytest.mark.parametrize(
    ("prices", "margins", "e", "floor"),
    [
        ([10.0, 5.0], [5.0, 2.5], 3.0, 0.1),  # margin share 0.5: d* = 0.25
        ([10.0, 5.0], [5.0, 2.5], 3.0, 0.4),  # the floor caps it at 1/6
        ([8.0, 4.0, 3.0], [2.0, 1.0, 0.5], 6.0, 0.05),
        ([10.0, 10.0], [2.0, 2.0], 2.0, 0.1),  # e m = 0.4 <= 1: no discount pays
        ([20.0], [12.0], 1.5, 0.0),  # e m = 0.9
    ],
)
def test_the_discount_maximises_the_expected_margin_above_the_floor(
    prices: list[float], margins: list[float], e: float, floor: float
) -> None:
    found = suggest_discount(np.array(prices), np.array(margins), Elasticity(e, "user"), floor)
    assert found is not None
    p, m = sum(prices), sum(margins)
    grid = np.linspace(0.0, 0.5, 50_001)
    allowed = grid[(m - grid * p) / ((1 - grid) * p) >= floor - 1e-12]
    best = allowed[np.argmax(expected_margin(allowed, p, m, e))]
    assert found.discount == pytest.approx(best, abs=2e-5)
    assert found.margin_share >= floor - 1e-9
    assert found.price == pytest.approx((1 - found.discount) * p)
    # No discount on the grid earns more (the closed form may sit between grid points).
    assert found.extra_margin >= float(expected_margin(best, p, m, e)) - m - 1e-9
    assert found.extra_margin >= 0


def test_limits_and_assumptions_are_said() -> None:
    user = Elasticity(3.0, "user")
    capped = suggest_discount(np.array([10.0, 5.0]), np.array([5.0, 2.5]), user, 0.4)
    assert capped is not None and capped.limited_by == "margin floor"
    assert capped.discount == pytest.approx(1 / 6)
    free = suggest_discount(np.array([10.0, 5.0]), np.array([5.0, 2.5]), user, 0.1)
    assert free is not None and free.limited_by == "optimum"
    assert "price elasticity 3.00 set by the user" in free.assumptions
    assert "margin floor 10%" in free.assumptions
    flat = suggest_discount(np.array([10.0]), np.array([2.0]), Elasticity(2.0, "user"), 0.1)
    assert flat is not None and flat.discount == 0.0 and flat.limited_by == "demand"
    assert suggest_discount(np.array([10.0, np.nan]), np.array([1.0, 1.0]), user) is None


def _planted_shop(e: float, items: int = 40, weeks: int = 30, seed: int = 0) -> ShopData:
    """Items whose weekly price moves at random and whose units follow price ** -e."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2025-01-06")  # a Monday: one basket a week per item
    for item in range(items):
        base = rng.uniform(2, 20)
        for week in range(weeks):
            price = base * np.exp(rng.normal(0, 0.15))
            units = max(1, round(200 * (price / base) ** -e * np.exp(rng.normal(0, 0.05))))
            rows.append(
                {
                    "basket_id": f"b{item}-{week}",
                    "item_id": f"i{item}",
                    "time": start + pd.Timedelta(weeks=week, hours=item % 24),
                    "quantity": units,
                    "price": price,
                }
            )
    return ShopData.from_frame(pd.DataFrame(rows), user=None)


def test_the_elasticity_planted_in_the_prices_is_recovered() -> None:
    found = estimate_elasticity(_planted_shop(2.5))
    assert found is not None and found.source == "estimated"
    assert found.value == pytest.approx(2.5, abs=0.1)
    assert found.items == 40 and found.weeks == 40 * 30
    assert found.std_error < 0.1
    assert "estimated from the weekly prices and units of 40 items" in found.describe()


def test_too_little_price_variation_is_a_clear_error() -> None:
    shop = _planted_shop(2.0, items=5)
    assert estimate_elasticity(shop) is None
    with pytest.raises(ValidationError, match="too little price variation to estimate"):
        elasticity_for(shop)
    assert elasticity_for(shop, 1.5).value == 1.5
    with pytest.raises(ValidationError, match="--elasticity: expected a number >= 0, got -1"):
        elasticity_for(shop, -1.0)
    with pytest.raises(ValidationError, match=r"--margin-floor: expected a share of the price"):
        suggest_discount(np.array([1.0]), np.array([0.5]), Elasticity(2, "user"), 1.0)


def test_bundle_candidates_get_their_prices() -> None:
    catalog = pd.DataFrame(
        {"item_id": ["a", "b", "c"], "price": [10.0, 5.0, 4.0], "cost": [5.0, 2.5, np.nan]}
    )
    rows = [
        {"basket_id": "o1", "item_id": "a"},
        {"basket_id": "o1", "item_id": "b"},
        {"basket_id": "o2", "item_id": "c"},
    ]
    data = ShopData.from_frame(pd.DataFrame(rows), user=None, time=None, catalog=catalog)
    bundles = pd.DataFrame({"items": [("a", "b"), ("a", "c")]})
    priced = price_bundles(bundles, data, Elasticity(3.0, "user"), margin_floor=0.1)
    assert priced["discount"].iloc[0] == pytest.approx(0.25)
    assert priced["bundle_price"].iloc[0] == pytest.approx(11.25)
    assert np.isnan(priced["discount"].iloc[1])  # c has no cost
