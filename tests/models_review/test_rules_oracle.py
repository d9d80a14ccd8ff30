"""Business rules combined, checked against a brute-force filter and sort of the raw scores."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xsell.data.shopdata import ShopData
from xsell.data.synthetic import make_shop
from xsell.models import Recommender, make_model
from xsell.models.base import basket_rows

SHOP = make_shop(n_users=300, n_items=80, n_pairs=6, n_triples=1, seed=3)
CATALOG = SHOP.catalog.set_index("item_id")
CATEGORIES = sorted(CATALOG["category"].unique())
ITEMS = CATALOG.index.tolist()
_MODELS: dict[str, Recommender] = {}


def fitted(name: str) -> Recommender:
    if name not in _MODELS:
        _MODELS[name] = make_model(name).fit(SHOP.to_shopdata())
    return _MODELS[name]


def brute_force(model: Recommender, cart: list[str], rules: dict[str, Any], k: int) -> list[str]:
    """The model's own suggestions under ``rules``, by filtering a table of every item's score."""
    table = model.require_fitted()
    context = [int(i) for i in table.ids.to_index(cart)]
    scores = model.score(basket_rows([context], len(table)))[0]
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


def test_category_cap_reaches_past_a_crowded_category_before_falling_back() -> None:
    """20 partners of A share category X; Y0 (bought with A once) beats a best-seller fallback."""
    rows: list[tuple[int, str]] = []
    for j in range(20):
        for _ in range(3):
            rows += [(len(rows), "A"), (len(rows), f"X{j}")]
    rows += [(len(rows), "A"), (len(rows), "Y0")]
    rows += [(len(rows) + b, "P0") for b in range(30)]
    lines = pd.DataFrame(rows, columns=["basket_id", "item_id"]).astype(str)
    catalog = pd.DataFrame(
        {
            "item_id": ["A", *(f"X{j}" for j in range(20)), "Y0", "P0"],
            "category": ["C", *["X"] * 20, "Y", "Z"],
        }
    )
    data = ShopData.from_frame(lines, catalog=catalog)
    model = make_model("cooccurrence", measure="count").fit(data)
    answer = model.recommend_for_basket(["A"], k=3, rules={"max_per_category": 1})
    assert answer["item_id"].tolist() == ["X0", "Y0", "P0"]
    assert answer["source"].tolist() == ["model", "model", "fallback"]
