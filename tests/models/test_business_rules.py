"""Business rules: every combination checked against a brute-force filter and sort (Hypothesis)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.shops import fitted, standard
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.models import BusinessRules, ItemTable, Recommender, as_dense, basket_rows, make_model
from xsell.models.business_rules import STEP_ORDER

CATALOG = standard().catalog.set_index("item_id")
CATEGORIES = sorted(CATALOG["category"].unique())
ITEMS = CATALOG.index.tolist()


def brute_force(model: Recommender, cart: list[str], rules: dict[str, Any], k: int) -> list[str]:
    """The model's own suggestions under ``rules``, by filtering a table of every item's score."""
    table = model.require_fitted()
    context = [int(i) for i in table.ids.to_index(cart)]
    scores = as_dense(model.score(basket_rows([context], len(table))))[0]
    frame = CATALOG.loc[table.ids.ids].assign(score=scores, index=np.arange(len(table)))
    frame = frame[np.isfinite(frame["score"]) & ~frame.index.isin(cart)]
    if rules.get("in_stock_only"):
        frame = frame[frame["in_stock"]]
    if rules.get("categories") is not None:
        frame = frame[frame["category"].isin(rules["categories"])]
    frame = frame[~frame["category"].isin(rules.get("exclude_categories", ()))]
    if rules.get("complements_only"):
        frame = frame[~frame["category"].isin(CATALOG.loc[cart, "category"])]
    low, high = rules.get("min_price"), rules.get("max_price")
    if low is not None:
        frame = frame[frame["price"] >= low]
    if high is not None:
        frame = frame[frame["price"] <= high]
    if rules.get("allow") is not None:
        frame = frame[frame.index.isin(rules["allow"])]
    frame = frame[~frame.index.isin(rules.get("deny", ()))]
    frame = frame.sort_values(["score", "index"], ascending=[False, True])
    cap = rules.get("max_per_category")
    picked: list[str] = []
    per_category: dict[str, int] = {}
    for item, category in zip(frame.index, frame["category"], strict=True):
        if cap is not None and category is not None and per_category.get(category, 0) >= cap:
            continue
        per_category[category] = per_category.get(category, 0) + 1
        picked.append(str(item))
        if len(picked) == k:
            break
    return picked


def satisfies(item: str, cart: list[str], rules: dict[str, Any]) -> bool:
    row = CATALOG.loc[item]
    low = rules.get("min_price", -np.inf)
    high = rules.get("max_price", np.inf)
    return bool(
        item not in cart
        and (not rules.get("in_stock_only") or row["in_stock"])
        and (rules.get("categories") is None or row["category"] in rules["categories"])
        and row["category"] not in rules.get("exclude_categories", ())
        and (
            not rules.get("complements_only")
            or row["category"] not in set(CATALOG.loc[cart, "category"])
        )
        and (low if low is not None else -np.inf)
        <= row["price"]
        <= (high if high is not None else np.inf)
        and (rules.get("allow") is None or item in rules["allow"])
        and item not in rules.get("deny", ())
    )


@st.composite
def rule_sets(draw: st.DrawFn) -> dict[str, Any]:
    rules: dict[str, Any] = {}
    if draw(st.booleans()):
        rules["in_stock_only"] = True
    if draw(st.booleans()):
        rules["categories"] = draw(st.lists(st.sampled_from(CATEGORIES), min_size=1, unique=True))
    if draw(st.booleans()):
        rules["exclude_categories"] = draw(
            st.lists(st.sampled_from(CATEGORIES), max_size=3, unique=True)
        )
    if draw(st.booleans()):
        rules["complements_only"] = True
    if draw(st.booleans()):
        low = draw(st.floats(0, 20))
        rules["min_price"], rules["max_price"] = low, low + draw(st.floats(1, 40))
    if draw(st.booleans()):
        rules["max_per_category"] = draw(st.integers(1, 3))
    if draw(st.booleans()):
        rules["allow"] = draw(
            st.lists(st.sampled_from(ITEMS), min_size=1, max_size=40, unique=True)
        )
    if draw(st.booleans()):
        rules["deny"] = draw(st.lists(st.sampled_from(ITEMS), max_size=20, unique=True))
    return rules


@pytest.mark.parametrize("name", ["cooccurrence", "itemknn", "popularity"])
@settings(max_examples=60, deadline=None)
@given(
    cart=st.lists(st.sampled_from(ITEMS), min_size=1, max_size=3, unique=True),
    rules=rule_sets(),
    k=st.integers(1, 12),
)
def test_rules_keep_the_best_allowed_items_in_score_order(
    name: str, cart: list[str], rules: dict[str, Any], k: int
) -> None:
    model = fitted(name)
    answer = model.recommend_for_basket(cart, k=k, rules=rules)
    from_model = answer.loc[answer["source"] == "model", "item_id"].tolist()
    expected = brute_force(model, cart, rules, k)
    assert from_model == expected
    # Fallback rows only fill up, and never break a rule either.
    assert len(answer) <= k and answer["item_id"].is_unique
    assert all(satisfies(item, cart, rules) for item in answer["item_id"])
    cap = rules.get("max_per_category")
    if cap is not None:
        assert all(answer["category"].value_counts() <= cap)
    if len(answer) < k:
        # Too few: then nothing else in the shop passes the rules.
        rest = [i for i in ITEMS if i not in set(answer["item_id"]) and satisfies(i, cart, rules)]
        if cap is None:
            assert rest == []


def test_unknown_and_contradictory_rules_are_named() -> None:
    with pytest.raises(
        ValidationError, match=r"unknown business rule 'in_stock', 'top'; known rules are \["
    ):
        BusinessRules.from_dict({"in_stock": True, "top": 3})
    with pytest.raises(ValidationError, match=r"min_price 5\.0 is above max_price 2\.0"):
        BusinessRules(min_price=5.0, max_price=2.0)
    with pytest.raises(ValidationError, match="max_per_category must be at least 1, got 0"):
        BusinessRules.from_dict({"max_per_category": 0})
    rules = BusinessRules.from_dict({"deny": ["a", "b"], "categories": {"x"}})
    assert rules.deny == ("a", "b") and rules.categories == ("x",)
    assert BusinessRules.of(None) == BusinessRules() == BusinessRules.from_dict({})
    assert BusinessRules.of(rules) is rules


def _table() -> ItemTable:
    catalog = pd.DataFrame(
        {
            "item_id": list("abcde"),
            "category": ["x", "x", "y", None, "y"],
            "price": [1.0, 5.0, 9.0, 3.0, None],
            "in_stock": [True, False, True, True, True],
        }
    )
    data = ShopData.from_frame(
        pd.DataFrame({"basket_id": ["1"] * 5, "item_id": list("abcde")}), catalog=catalog
    )
    return ItemTable.from_data(data)


def test_the_trace_credits_each_item_to_the_first_rule_in_step_order() -> None:
    table = _table()
    rules = BusinessRules(
        exclude_bought=True,
        in_stock_only=True,
        max_price=6.0,
        deny=("a", "e"),
        allow=("a", "b", "c", "d"),
    )
    trace: dict[str, list[int]] = {}
    allowed = rules.allowed(table, [0], [1, 2], trace)
    # a is in the cart, b and c were bought, b is also out of stock (already removed),
    # e has no price (outside any band) and is denied too.
    assert trace == {"in_basket": [0], "exclude_bought": [1, 2], "price_band": [4]}
    assert allowed.tolist() == [False, False, False, True, False]
    assert list(STEP_ORDER[:2]) == ["in_basket", "exclude_bought"]
    # Without a trace the same mask, made from the batch mask.
    again = rules.allowed(table, [0], [1, 2], item_mask=rules.item_mask(table))
    assert again.tolist() == allowed.tolist()


def test_complements_only_and_the_cap_leave_uncategorised_items_alone() -> None:
    table = _table()
    rules = BusinessRules(complements_only=True)
    # A cart of d (no category) has no category to avoid.
    assert rules.allowed(table, [3]).tolist() == [True, True, True, False, True]
    assert rules.allowed(table, [0]).tolist() == [False, False, True, True, True]
    cap = BusinessRules(max_per_category=1)
    trace: dict[str, list[int]] = {}
    assert cap.cap_per_category(table, [0, 1, 3, 2, 4], 5, trace) == [0, 3, 2]
    assert trace == {"max_per_category": [1, 4]}


def test_items_without_a_category_are_not_capped_together() -> None:
    # No catalog: no item has a category, so a cap of one per category removes nothing.
    frame = pd.DataFrame(
        {"basket_id": ["1", "1", "1", "1", "2", "2", "3"], "item_id": list("abcdabe")}
    )
    model = make_model("cooccurrence", measure="count").fit(ShopData.from_frame(frame))
    capped = model.recommend_for_basket(["a"], k=3, rules={"max_per_category": 1})
    free = model.recommend_for_basket(["a"], k=3)
    assert capped["item_id"].tolist() == free["item_id"].tolist() == ["b", "c", "d"]
