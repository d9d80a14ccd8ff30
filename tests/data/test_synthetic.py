"""The synthetic shop has the seasonality and repeat purchases it promises, measured on its data."""

from __future__ import annotations

from math import comb

import numpy as np
import pandas as pd
import pytest

from xsell.data.synthetic import SyntheticShop, make_shop

START, DAYS = "2025-01-01", 365
#: make_shop's yearly peak: extra weight 0.8 * exp(-((day - 330) / 25)^2), late November.
PEAK_DAY, PEAK_WIDTH, PEAK_WEIGHT = 330, 25.0, 0.8
#: Each customer has 3 staples, each added to any of their baskets with probability 0.25.
STAPLES, STAPLE_PROBABILITY = 3, 0.25


@pytest.fixture(scope="module")
def shop() -> SyntheticShop:
    return make_shop(n_users=1000, n_items=300, start=START, days=DAYS, seed=0)


@pytest.fixture(scope="module")
def baskets(shop: SyntheticShop) -> pd.DataFrame:
    return shop.lines.groupby("basket_id").agg(user=("user_id", "first"), time=("time", "first"))


def test_monthly_orders_follow_the_planted_season(baskets: pd.DataFrame) -> None:
    days = np.arange(DAYS)
    # The weekly bump averages out over a month: the yearly peak alone sets each month's share.
    weight = 1.0 + PEAK_WEIGHT * np.exp(-(((days - PEAK_DAY) / PEAK_WIDTH) ** 2))
    month_of_day = (pd.Timestamp(START) + pd.to_timedelta(days, "D")).month
    expected = pd.Series(weight).groupby(month_of_day).sum() / weight.sum()
    observed = baskets["time"].dt.month.value_counts(normalize=True).sort_index()
    n = len(baskets)
    assert n > 5000
    z = (observed - expected) / np.sqrt(expected * (1 - expected) / n)
    assert (z.abs() < 4).all(), z.round(1).to_dict()
    # November and December take orders far faster than January-September.
    per_day = (
        baskets["time"].dt.month.value_counts().sort_index()
        / pd.Series(month_of_day).value_counts().sort_index()
    )
    quiet = per_day.loc[1:9].mean()
    assert per_day[11] > 1.3 * quiet
    assert per_day[12] > 1.3 * quiet


def test_about_a_tenth_of_items_sell_mostly_at_year_end(shop: SyntheticShop) -> None:
    # A tenth of the items are four times as likely to be picked in November-December.
    year_end = shop.lines["time"].dt.month.isin([11, 12])
    per_item = year_end.groupby(shop.lines["item_id"]).agg(["mean", "size"])
    per_item = per_item[per_item["size"] >= 30]
    lift = per_item["mean"] / year_end.mean()
    seasonal_share = float((lift > 1.7).mean())
    # Without seasonal items, chance alone puts about 1 % of these items above 1.7.
    assert 0.05 < seasonal_share < 0.2


def repeat_share(lines: pd.DataFrame, times: int = 3) -> float:
    """Share of customers who bought one same item in at least ``times`` different baskets."""
    per_pair = lines.drop_duplicates(["basket_id", "item_id"]).groupby(["user_id", "item_id"])
    top = per_pair.size().groupby(level=0).max()
    return float((top >= times).mean())


def test_customers_buy_their_staples_again(shop: SyntheticShop, baskets: pd.DataFrame) -> None:
    observed = repeat_share(shop.lines)
    # What the staples alone promise: some staple lands in >= 3 of the customer's n baskets.
    n_baskets = baskets.groupby("user").size().to_numpy()

    def at_least_3(n: int) -> float:
        p = STAPLE_PROBABILITY
        return 1 - sum(comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(3))

    promised = float(np.mean([1 - (1 - at_least_3(int(n))) ** STAPLES for n in n_baskets]))
    assert promised > 0.35
    assert observed >= promised
    # Independent draws: the same baskets handed to customers at random.
    rng = np.random.default_rng(1)
    owners = dict(zip(baskets.index, rng.permutation(baskets["user"].to_numpy()), strict=True))
    shuffled = repeat_share(shop.lines.assign(user_id=shop.lines["basket_id"].map(owners)))
    assert observed > 1.8 * shuffled


def test_weekends_get_the_planted_extra_orders(baskets: pd.DataFrame) -> None:
    # Saturdays and Sundays weigh 1.4 against 1.0 for weekdays (the yearly peak spans weeks
    # evenly enough to cancel out): a weekend day gets about 1.4 times a weekday's orders.
    per_day = baskets["time"].dt.dayofweek.value_counts()
    weekday, weekend = per_day[per_day.index < 5].mean(), per_day[per_day.index >= 5].mean()
    assert 1.25 < weekend / weekday < 1.55, (weekend / weekday, per_day.to_dict())
