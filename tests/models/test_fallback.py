"""The fill policy (the cart's categories first, then the shop) and the words it uses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.shops import dated
from xsell.data.shopdata import ShopData
from xsell.models import ItemTable, make_model
from xsell.models import fallback as F


@pytest.fixture(scope="module")
def habits() -> ShopData:
    """Milk in three orders, bread in two, jam in one (with bread)."""
    catalog = pd.DataFrame(
        {"item_id": ["milk", "bread", "jam"], "category": ["Dairy", "Bakery", "Bakery"]}
    )
    return dated(
        [["milk", "bread"], ["milk"], ["milk"], ["bread", "jam"]],
        [0, 10, 20, 20],
        ["u1", "u1", "u1", "u2"],
        catalog=catalog,
    )


def test_fill_takes_the_carts_categories_first_then_the_shop(habits: ShopData) -> None:
    table = ItemTable.from_data(habits)
    milk, bread, jam = table.ids.to_index(["milk", "bread", "jam"]).tolist()
    everything = np.ones(len(table), dtype=bool)
    # A cart of jam (Bakery): bread first (Bakery, 2 orders), then milk (the shop, 3 orders).
    assert F.fill(table, [jam], everything, [], 3) == ([bread, jam, milk], [True, True, False])
    assert F.fill(table, [jam], everything, [bread], 2) == ([jam, milk], [True, False])
    allowed = everything.copy()
    allowed[jam] = False
    assert F.fill(table, [], allowed, [], 5) == ([milk, bread], [False, False])


def test_fill_breaks_popularity_ties_by_the_lower_index(tiny: ShopData) -> None:
    table = ItemTable.from_data(tiny)  # a, b, c in three baskets each, d in one
    items, same = F.fill(table, [], np.ones(4, dtype=bool), [], 4)
    assert items == [0, 1, 2, 3] and same == [False] * 4


def test_a_list_without_enough_evidence_is_filled_and_says_why(habits: ShopData) -> None:
    # Jam was bought with bread only: a cart of jam has evidence for bread and nothing else.
    model = make_model("cooccurrence", measure="count").fit(habits)
    answer = model.recommend_for_basket(["jam"], k=2)
    assert answer["item_id"].tolist() == ["bread", "milk"]
    assert answer["source"].tolist() == ["model", "fallback"]
    # Milk (3 orders) is not of the cart's category (Bakery): the shop's best seller fills in.
    assert answer["reason"].iloc[1] == "no co-purchase evidence; popular in the shop (3 orders)"
    lone = model.recommend_for_basket(["milk"], k=2)
    assert lone["source"].tolist() == ["model", "fallback"]
    # Jam shares no category with milk (Dairy) either.
    assert lone["reason"].iloc[1] == "no co-purchase evidence; popular in the shop (1 orders)"


def test_the_words_for_unknown_items_and_customers(habits: ShopData) -> None:
    table = ItemTable.from_data(habits)
    milk = table.ids.index_of("milk")
    assert F.note(["x", "y", "z", "w"], None, False) == "unknown item x, y, z; "
    assert F.note([], "c9", False) == "unknown customer c9; "
    assert F.note(["x"], "c9", True) == "unknown item x; "
    assert F.fill_reason(table, milk, False, False, ["x"], None, False) == (
        "unknown item x; popular in the shop (3 orders)"
    )
    assert F.fill_reason(table, milk, True, False, [], "c9", False) == (
        "unknown customer c9; popular in Dairy"
    )
    assert F.fill_reason(table, milk, False, False, [], None, False) == (
        "popular in the shop (3 orders)"
    )
    assert F.popular_reason(table, milk) == "popular: in 3 past orders"
