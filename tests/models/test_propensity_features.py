"""Customer features as of a date, checked by hand on a tiny dated shop; labels; RFM score;
nothing on or after the date is looked at."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.shops import dated
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.models.propensity_features import (
    customer_features,
    feature_words,
    labels,
    name_has_word,
    parse_target,
    rfm_score,
    target_items,
)

AS_OF = pd.Timestamp("2025-01-11")


def _shop(extra_future: bool = False) -> ShopData:
    catalog = pd.DataFrame(
        {
            "item_id": ["mug", "cup", "bag", "pen"],
            "name": ["Blue Mug", "Tea Cup", "Lunch Bag", "Pen"],
            "category": ["kitchen", "kitchen", "bags", "office"],
            "price": [4.0, 2.0, 10.0, 1.0],
        }
    )
    baskets = [["mug", "pen"], ["bag"], ["cup"], ["pen", "bag"], ["mug"], ["cup"]]
    days = [0, 4, 8, 2, 12, 15]
    users = ["u1", "u1", "u1", "u2", "u2", "u3"]
    if extra_future:
        baskets, days, users = [*baskets, ["mug", "bag"]], [*days, 10], [*users, "u1"]
    return dated(baskets, days, users, catalog=catalog)


def test_features_by_hand() -> None:
    data = _shop()
    target = target_items(data, "category=kitchen")
    found = customer_features(data, AS_OF, target)
    assert [data.users.ids[u] for u in found.users] == ["u1", "u2"]  # u3 buys only later
    frame = found.frame()
    prices = data.item_prices()
    # The date is day 10. u1: baskets on days 0, 4, 8 (mug, pen; bag; cup); u2: day 2 (pen, bag).
    assert frame["recency_days"].tolist() == [2.0, 8.0]
    assert frame["frequency"].tolist() == [3.0, 1.0]
    assert frame["tenure_days"].tolist() == [10.0, 8.0]
    spent = [prices[data.items.index_of(i)] for i in ("mug", "pen", "bag", "cup")]
    assert frame["monetary"].tolist() == pytest.approx([sum(spent), 11.0])
    assert frame["basket_lines"].tolist() == pytest.approx([4 / 3, 2.0])
    assert frame["target_share"].tolist() == pytest.approx([2 / 4, 0.0])
    assert frame["target_days"].iloc[0] == 2.0  # the cup on day 8
    assert frame["target_days"].iloc[1] > found.oldest  # never
    assert frame["share bags"].tolist() == pytest.approx([1 / 4, 1 / 2])
    assert feature_words(found, 1, "target_days") == "never bought the target"
    assert feature_words(found, 0, "recency_days") == "last order 2 days ago"


def test_nothing_on_or_after_the_date_changes_the_features() -> None:
    target = target_items(_shop(), "item=mug")
    plain = customer_features(_shop(), AS_OF, target)
    more = customer_features(_shop(extra_future=True), AS_OF, target)
    np.testing.assert_array_equal(plain.values, more.values)


def test_labels_are_target_purchases_inside_the_horizon() -> None:
    data = _shop(extra_future=True)
    target = target_items(data, "item=mug")
    users = np.array([data.users.index_of(u) for u in ("u1", "u2", "u3")])
    at = np.datetime64(AS_OF, "ns")
    # u1 buys a mug on day 10 (the as-of day itself counts), u2 on day 12, u3 never.
    assert labels(data, users, at, 1, target).tolist() == [1, 0, 0]
    assert labels(data, users, at, 2, target).tolist() == [1, 0, 0]
    assert labels(data, users, at, 3, target).tolist() == [1, 1, 0]


def test_rfm_score_sums_the_quintile_scores() -> None:
    data = _shop()
    found = customer_features(data, AS_OF, target_items(data, "item=mug"))
    # Two customers: the better one scores 1 + floor(5 * 1/2) = 3 on each of R, F, M.
    assert rfm_score(found).tolist() == [9.0, 3.0]


def test_targets_and_their_errors() -> None:
    data = _shop()
    assert parse_target("family=bag") == ("family", "bag")
    mugs = target_items(data, "family=MUG")
    assert data.items.ids[mugs].tolist() == ["mug"]
    assert data.items.ids[target_items(data, "category=kitchen")].tolist() in (
        ["mug", "cup"],
        ["cup", "mug"],
    )
    assert name_has_word(np.array(["Mugs", "A mug!"]), "mug").tolist() == [False, True]
    with pytest.raises(ValidationError, match=r"--target: expected one of category=\.\.\., item"):
        parse_target("colour=red")
    with pytest.raises(ValidationError, match="--target item=nope: no item of the store is"):
        target_items(data, "item=nope")
    with pytest.raises(ValidationError, match="as of 2024-01-01: no customer has an order yet"):
        customer_features(data, "2024-01-01", target_items(data, "item=mug"))
