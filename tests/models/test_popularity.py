"""Best sellers, recent best sellers and the cart's own categories first, by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.shops import dated
from xsell.data.shopdata import ShopData
from xsell.models import make_model

CATALOG = pd.DataFrame(
    {"item_id": ["milk", "bread", "jam"], "category": ["Dairy", "Bakery", "Bakery"]}
)


@pytest.fixture(scope="module")
def habits() -> ShopData:
    """u1 buys milk on days 0, 10 and 20 and bread on day 0; u2 bread and jam on day 20."""
    return dated(
        [["milk", "bread"], ["milk"], ["milk"], ["bread", "jam"]],
        [0, 10, 20, 20],
        ["u1", "u1", "u1", "u2"],
        catalog=CATALOG,
    )


def test_counts_recent_and_per_category(habits: ShopData) -> None:
    plain = make_model("popularity").fit(habits)
    answer = plain.recommend_for_basket([], k=3)
    assert answer["item_id"].tolist() == ["milk", "bread", "jam"]
    assert answer["score"].tolist() == [3.0, 2.0, 1.0]
    assert answer["reason"].iloc[0] == "popular in the shop: in 3 past orders"
    recent = make_model("popularity", half_life_days=10).fit(habits)
    # milk: ages 20, 10, 0 -> 0.25 + 0.5 + 1; bread: 0.25 + 1; jam: 1
    scores = recent.recommend_for_basket([], k=3).set_index("item_id")["score"].to_dict()
    assert scores == pytest.approx({"milk": 1.75, "bread": 1.25, "jam": 1.0})
    assert recent.recommend_for_basket([], k=1)["reason"].iloc[0].startswith("popular recent ")
    local = make_model("popularity", per_category=True).fit(habits)
    answer = local.recommend_for_basket(["bread"], k=2)
    assert answer["item_id"].tolist() == ["jam", "milk"]
    assert answer["reason"].iloc[0] == "popular in Bakery, a category of the cart: in 1 past orders"


def test_live_orders_count_at_once(habits: ShopData) -> None:
    model = make_model("popularity").fit(habits)
    model.update([["jam"], ["jam", "honey"], ["jam"]])
    answer = model.recommend_for_basket([], k=4)
    assert answer["item_id"].tolist() == ["jam", "milk", "bread", "honey"]
    assert answer["score"].tolist() == [4.0, 3.0, 2.0, 1.0]
