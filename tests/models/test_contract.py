"""The contract every registered model keeps (parametrized over ``xsell.models.REGISTRY``)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.models.conftest import CO_PURCHASE, build
from xsell.data.shopdata import ShopData
from xsell.data.synthetic import SyntheticShop
from xsell.errors import NotFittedError, ValidationError
from xsell.models import REGISTRY, Recommender, load_model

NAMES = sorted(REGISTRY)
COLUMNS = ["query", "rank", "item_id", "name", "category", "price", "score", "reason", "source"]


def _customers(data: ShopData, n: int = 4) -> list[str]:
    counts = np.diff(data.user_item.indptr)
    return [str(u) for u in data.users.to_external(np.argsort(-counts, kind="stable")[:n])]


def _cart(shop: SyntheticShop) -> list[str]:
    return [shop.planted_pairs[0].anchor, shop.planted_pairs[1].anchor]


@pytest.mark.parametrize("name", NAMES)
def test_fit_returns_self_and_unfitted_model_says_so(name: str, shop_data: ShopData) -> None:
    model = build(name)
    with pytest.raises(NotFittedError, match=f"model '{name}' is not fitted; call fit"):
        model.recommend_for_basket(["x"], k=3)
    with pytest.raises(NotFittedError, match="not fitted"):
        model.complements("x")
    assert model.fit(shop_data) is model
    assert model.n_items == shop_data.n_items


@pytest.mark.parametrize("name", NAMES)
def test_k_bounds(name: str, fitted: Recommender, shop: SyntheticShop) -> None:
    for bad in (0, -1, 1001, 2.5):
        with pytest.raises(ValidationError, match=r"k must be an integer from 1 to 1000, got"):
            fitted.recommend_for_basket(_cart(shop), k=bad)  # type: ignore[arg-type]
    one = fitted.recommend_for_basket(_cart(shop), k=1)
    assert list(one.columns) == COLUMNS and len(one) == 1
    everything = fitted.recommend_for_basket(_cart(shop), k=1000)
    # Everything but the cart itself, each item once, ranks 1..n.
    assert len(everything) == fitted.n_items - 2
    assert everything["item_id"].is_unique
    assert everything["rank"].tolist() == list(range(1, len(everything) + 1))
    assert not set(_cart(shop)) & set(everything["item_id"])


def _rule_cases(shop: SyntheticShop) -> list[tuple[dict, object]]:
    catalog = shop.catalog.set_index("item_id")
    categories = sorted(catalog["category"].unique())
    some = catalog.index[:40].tolist()
    return [
        ({"in_stock_only": True}, lambda ids: catalog.loc[ids, "in_stock"].all()),
        (
            {"categories": categories[:2]},
            lambda ids: catalog.loc[ids, "category"].isin(categories[:2]).all(),
        ),
        (
            {"exclude_categories": categories[:3]},
            lambda ids: not catalog.loc[ids, "category"].isin(categories[:3]).any(),
        ),
        (
            {"min_price": 5.0, "max_price": 20.0},
            lambda ids: catalog.loc[ids, "price"].between(5, 20).all(),
        ),
        ({"max_per_category": 1}, lambda ids: catalog.loc[ids, "category"].is_unique),
        ({"allow": some}, lambda ids: set(ids) <= set(some)),
        ({"deny": some}, lambda ids: not set(ids) & set(some)),
    ]


@pytest.mark.parametrize("name", NAMES)
def test_every_business_rule_is_honoured(
    name: str, fitted: Recommender, shop: SyntheticShop, shop_data: ShopData
) -> None:
    cart = _cart(shop)
    catalog = shop.catalog.set_index("item_id")
    for rules, holds in _rule_cases(shop):
        answer = fitted.recommend_for_basket(cart, k=8, rules=rules)
        ids = answer["item_id"].tolist()
        assert ids and holds(ids), (rules, ids)  # type: ignore[operator]
        assert not set(ids) & set(cart)
    own = set(catalog.loc[cart, "category"])
    suggested = fitted.recommend_for_basket(cart, k=8, rules={"complements_only": True})
    assert not set(catalog.loc[suggested["item_id"], "category"]) & own
    customer = _customers(shop_data, 1)[0]
    bought = set(
        shop_data.items.to_external(shop_data.user_item[shop_data.users.index_of(customer)].indices)
    )
    answer = fitted.recommend_for_basket(cart, k=8, user=customer, rules={"exclude_bought": True})
    assert not set(answer["item_id"]) & bought
    answer = fitted.recommend([customer], k=8, exclude_seen=True)
    assert not set(answer["item_id"]) & bought
    assert len(fitted.recommend([customer], k=8, exclude_seen=False)) == 8


@pytest.mark.parametrize("name", NAMES)
def test_explain_traces_what_each_rule_removed(
    name: str, fitted: Recommender, shop: SyntheticShop
) -> None:
    cart = _cart(shop)
    deny = fitted.recommend_for_basket(cart, k=3)["item_id"].tolist()
    answer = fitted.recommend_for_basket(cart, k=3, rules={"deny": deny}, explain=True)
    trace = answer["trace"].iloc[0]
    assert trace["in_basket"] == cart or sorted(trace["in_basket"]) == sorted(cart)
    assert sorted(trace["deny"]) == sorted(deny)
    assert not set(answer["item_id"]) & set(deny)


@pytest.mark.parametrize("name", NAMES)
def test_batch_equals_one_by_one(name: str, fitted: Recommender, shop_data: ShopData) -> None:
    customers = [*_customers(shop_data, 3), "nobody"]
    batch = fitted.recommend(customers, k=6, exclude_seen=False)
    single = pd.concat(
        [fitted.recommend([c], k=6, exclude_seen=False) for c in customers], ignore_index=True
    )
    pd.testing.assert_frame_equal(batch, single)
    contexts = [list(shop_data.basket_items(b)) for b in range(5)]
    users = shop_data.basket_user[:5].astype(np.int64)
    together = fitted.recommend_batch(contexts, users, k=5)
    apart = np.vstack(
        [fitted.recommend_batch([c], users[i : i + 1], k=5) for i, c in enumerate(contexts)]
    )
    np.testing.assert_array_equal(together, apart)


@pytest.mark.parametrize("name", NAMES)
def test_save_load_and_refit_change_nothing(
    name: str, fitted: Recommender, shop: SyntheticShop, shop_data: ShopData, tmp_path: Path
) -> None:
    customers = _customers(shop_data, 2)
    before = (
        fitted.recommend_for_basket(_cart(shop), k=10, user=customers[0]),
        fitted.recommend(customers, k=10),
        fitted.complements(shop.planted_pairs[2].anchor, k=10),
    )
    loaded = load_model(fitted.save(tmp_path / "bundle"))
    refit = build(name).fit(shop_data)
    for other in (loaded, refit):
        after = (
            other.recommend_for_basket(_cart(shop), k=10, user=customers[0]),
            other.recommend(customers, k=10),
            other.complements(shop.planted_pairs[2].anchor, k=10),
        )
        for a, b in zip(before, after, strict=True):
            pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_unknown_users_and_items_fall_back_with_a_reason(name: str, fitted: Recommender) -> None:
    answer = fitted.recommend(["no-such-customer"], k=5)
    assert len(answer) == 5
    assert answer["reason"].str.contains("unknown customer no-such-customer").all()
    answer = fitted.complements("no-such-item", k=5)
    assert len(answer) == 5
    assert answer["reason"].str.contains("unknown item no-such-item").all()


@pytest.mark.parametrize("name", NAMES)
def test_update_with_new_items_and_customers_never_breaks(
    name: str, fitted: Recommender, shop: SyntheticShop
) -> None:
    model = copy.deepcopy(fitted)
    anchor = shop.planted_pairs[0].anchor
    model.update([[anchor, "NEW-1"], ["NEW-1", "NEW-2"]], ["NEW-CUSTOMER", None])
    assert model.n_items == fitted.n_items + 2
    for answer in (
        model.recommend_for_basket(["NEW-1", anchor], k=5, user="NEW-CUSTOMER"),
        model.recommend(["NEW-CUSTOMER"], k=5, exclude_seen=True),
        model.complements("NEW-2", k=5),
    ):
        assert len(answer) == 5 and answer["item_id"].is_unique
    seen = model.recommend(["NEW-CUSTOMER"], k=50, exclude_seen=True)["item_id"]
    assert not {"NEW-1", anchor} & set(seen)


def _busy_anchors(shop: SyntheticShop, data: ShopData, minimum: int = 25) -> list[tuple[str, str]]:
    counts = dict(zip(data.items.ids, data.item_basket_count, strict=True))
    return [(p.anchor, p.partner) for p in shop.planted_pairs if counts.get(p.anchor, 0) >= minimum]


@pytest.mark.parametrize("name", [n for n in NAMES if n in CO_PURCHASE])
def test_planted_partner_is_in_the_top_5(
    name: str, fitted: Recommender, shop: SyntheticShop, shop_data: ShopData
) -> None:
    pairs = _busy_anchors(shop, shop_data)
    assert len(pairs) >= 8
    found = [
        partner in set(fitted.complements(anchor, k=5)["item_id"]) for anchor, partner in pairs
    ]
    assert np.mean(found) >= 0.8, f"{name} found {sum(found)} of {len(pairs)} planted partners"
