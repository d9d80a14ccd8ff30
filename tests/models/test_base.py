"""The contract every registered model keeps, parametrised over ``xsell.models.REGISTRY``."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from tests.shops import CO_PURCHASE, build, fitted
from xsell.data.shopdata import ShopData
from xsell.data.synthetic import SyntheticShop
from xsell.errors import NotFittedError, ValidationError
from xsell.models import (
    REGISTRY,
    Batch,
    Recommender,
    as_dense,
    basket_rows,
    load_model,
    rank,
    top_items,
)
from xsell.models.answers import COLUMNS

NAMES = sorted(REGISTRY)


def _customers(data: ShopData, n: int = 4) -> list[str]:
    """The ``n`` customers with the most distinct items (ties: lower index)."""
    counts = np.diff(data.user_item.indptr)
    return [str(u) for u in data.users.to_external(np.argsort(-counts, kind="stable")[:n])]


def _cart(shop: SyntheticShop) -> list[str]:
    return [shop.planted_pairs[0].anchor, shop.planted_pairs[1].anchor]


@pytest.mark.parametrize("name", NAMES)
def test_fit_returns_self_and_an_unfitted_model_says_so(name: str, shop_data: ShopData) -> None:
    model = build(name)
    for call in (
        lambda: model.recommend_for_basket(["x"], k=3),
        lambda: model.complements("x"),
        lambda: model.recommend(["u"]),
        lambda: model.update([["x"]]),
        lambda: model.score(basket_rows([[0]], shop_data.n_items)),
    ):
        with pytest.raises(NotFittedError, match=f"model '{name}' is not fitted; call fit"):
            call()
    assert model.fit(shop_data) is model
    assert model.n_items == shop_data.n_items
    assert model.fitted_on_ == shop_data.fingerprint()


@pytest.mark.parametrize("name", NAMES)
def test_a_shop_without_baskets_is_refused(name: str) -> None:
    empty = ShopData.from_baskets([["a"]]).subset_baskets(np.zeros(1, dtype=bool))
    with pytest.raises(ValidationError, match=f"{name}: cannot fit on data without baskets"):
        build(name).fit(empty)


@pytest.mark.parametrize("name", NAMES)
def test_k_bounds(name: str, shop: SyntheticShop) -> None:
    model = fitted(name)
    for bad in (0, -1, 1001, 2.5, True):
        with pytest.raises(ValidationError, match=r"k must be an integer from 1 to 1000, got"):
            model.recommend_for_basket(_cart(shop), k=bad)  # type: ignore[arg-type]
    one = model.recommend_for_basket(_cart(shop), k=1)
    assert list(one.columns) == COLUMNS and len(one) == 1
    everything = model.recommend_for_basket(_cart(shop), k=1000)
    # Everything but the cart itself, each item once, ranks 1..n.
    assert len(everything) == model.n_items - 2
    assert everything["item_id"].is_unique
    assert everything["rank"].tolist() == list(range(1, len(everything) + 1))
    assert not set(_cart(shop)) & set(everything["item_id"])


def _rule_cases(shop: SyntheticShop) -> list[tuple[dict[str, Any], Any]]:
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
    name: str, shop: SyntheticShop, shop_data: ShopData
) -> None:
    model = fitted(name)
    cart = _cart(shop)
    catalog = shop.catalog.set_index("item_id")
    for rules, holds in _rule_cases(shop):
        answer = model.recommend_for_basket(cart, k=8, rules=rules)
        ids = answer["item_id"].tolist()
        assert ids and holds(ids), (rules, ids)
        assert not set(ids) & set(cart)
    own = set(catalog.loc[cart, "category"])
    suggested = model.recommend_for_basket(cart, k=8, rules={"complements_only": True})
    assert len(suggested) == 8
    assert not set(catalog.loc[suggested["item_id"], "category"]) & own
    customer = _customers(shop_data, 1)[0]
    bought = set(
        shop_data.items.to_external(shop_data.user_item[shop_data.users.index_of(customer)].indices)
    )
    answer = model.recommend_for_basket(cart, k=8, user=customer, rules={"exclude_bought": True})
    assert len(answer) == 8 and not set(answer["item_id"]) & bought
    answer = model.recommend([customer], k=8, exclude_seen=True)
    assert len(answer) == 8 and not set(answer["item_id"]) & bought
    assert len(model.recommend([customer], k=8, exclude_seen=False)) == 8


@pytest.mark.parametrize("name", NAMES)
def test_explore_lists_hold_only_new_items_and_repeat_lists_only_bought_ones(
    name: str, shop: SyntheticShop, shop_data: ShopData
) -> None:
    model = fitted(name)
    for customer in _customers(shop_data, 2):
        row = shop_data.user_item[shop_data.users.index_of(customer)]
        bought = set(shop_data.items.to_external(row.indices))
        explore = model.recommend([customer], k=8, exclude_seen=False, mode="explore")
        assert len(explore) == 8 and not set(explore["item_id"]) & bought
        repeat = model.recommend([customer], k=len(bought) + 5, exclude_seen=False, mode="repeat")
        assert set(repeat["item_id"]) == bought
        cart = model.recommend_for_basket(_cart(shop), k=8, user=customer, mode="explore")
        assert len(cart) == 8 and not set(cart["item_id"]) & (bought | set(_cart(shop)))


@pytest.mark.parametrize("name", NAMES)
def test_explain_traces_what_each_rule_removed(name: str, shop: SyntheticShop) -> None:
    model = fitted(name)
    cart = _cart(shop)
    deny = model.recommend_for_basket(cart, k=3)["item_id"].tolist()
    answer = model.recommend_for_basket(cart, k=3, rules={"deny": deny}, explain=True)
    trace = answer["trace"].iloc[0]
    assert sorted(trace["in_basket"]) == sorted(cart)
    assert sorted(trace["deny"]) == sorted(deny)
    assert not set(answer["item_id"]) & set(deny)
    assert "trace" not in model.recommend_for_basket(cart, k=3).columns


@pytest.mark.parametrize("name", NAMES)
def test_batch_equals_one_by_one(name: str, shop_data: ShopData) -> None:
    model = fitted(name)
    customers = [*_customers(shop_data, 3), "nobody"]
    batch = model.recommend(customers, k=6, exclude_seen=False)
    single = pd.concat(
        [model.recommend([c], k=6, exclude_seen=False) for c in customers], ignore_index=True
    )
    pd.testing.assert_frame_equal(batch, single)
    rows = basket_rows([shop_data.basket_items(b).tolist() for b in range(5)], shop_data.n_items)
    users = shop_data.basket_user[:5].astype(np.int64)
    together = top_items(rank(model, Batch(rows, users), 5), 5)
    apart = np.vstack(
        [top_items(rank(model, Batch(rows[i], users[i : i + 1]), 5), 5) for i in range(5)]
    )
    np.testing.assert_array_equal(together, apart)


def _answers(model: Recommender, shop: SyntheticShop, customers: list[str]) -> list[pd.DataFrame]:
    return [
        model.recommend_for_basket(_cart(shop), k=10, user=customers[0]),
        model.recommend(customers, k=10),
        model.complements(shop.planted_pairs[2].anchor, k=10),
    ]


@pytest.mark.parametrize("name", NAMES)
def test_save_load_and_refit_change_nothing(
    name: str, shop: SyntheticShop, shop_data: ShopData, tmp_path: Path
) -> None:
    model = fitted(name)
    customers = _customers(shop_data, 2)
    before = _answers(model, shop, customers)
    rows = basket_rows([shop_data.basket_items(b).tolist() for b in range(8)], shop_data.n_items)
    users = shop_data.basket_user[:8].astype(np.int64)
    scores = as_dense(model.score(rows, users))
    loaded = load_model(model.save(tmp_path / "bundle"))
    refit = build(name).fit(shop_data)
    for other in (loaded, refit):
        assert type(other) is type(model) and other.params() == model.params()
        for a, b in zip(before, _answers(other, shop, customers), strict=True):
            pd.testing.assert_frame_equal(a, b)
        np.testing.assert_array_equal(as_dense(other.score(rows, users)), scores)


@pytest.mark.parametrize("name", NAMES)
def test_unknown_users_and_items_fall_back_with_a_reason(name: str) -> None:
    model = fitted(name)
    answer = model.recommend(["no-such-customer"], k=5)
    assert len(answer) == 5 and answer["item_id"].is_unique
    assert answer["reason"].str.startswith("unknown customer no-such-customer; popular").all()
    answer = model.complements("no-such-item", k=5)
    assert len(answer) == 5 and answer["item_id"].is_unique
    assert answer["reason"].str.startswith("unknown item no-such-item; popular").all()


@pytest.mark.parametrize("name", NAMES)
def test_update_with_new_items_and_customers_never_breaks(
    name: str, shop: SyntheticShop, shop_data: ShopData, tmp_path: Path
) -> None:
    model = copy.deepcopy(fitted(name))
    anchor = shop.planted_pairs[0].anchor
    known = str(shop_data.users.ids[0])
    model.update(
        [[anchor, "NEW-1"], ["NEW-1", "NEW-2"]], [known, "NEW-CUSTOMER"], {"NEW-1": "Live"}
    )
    n = model.n_items
    assert n == shop_data.n_items + 2
    table = model.require_fitted()
    assert table.names[table.ids.index_of("NEW-1")] == "Live"
    # The raw scores cover the grown catalog; an item a model never learned is -inf, never junk.
    rows = basket_rows([[table.ids.index_of("NEW-1")], [table.ids.index_of(anchor)]], n)
    assert model.users_ is not None
    users = np.array([model.users_.index_of(known), model.users_.index_of("NEW-CUSTOMER")])
    scores = as_dense(model.score(rows, users))
    assert scores.shape == (2, n) and not np.isnan(scores).any()
    if model.n_items_known_ < n:
        assert not model.learns_live
        assert np.isneginf(scores[:, model.n_items_known_ :]).all()
    for frame in (
        model.recommend_for_basket(["NEW-1", anchor], k=5, user="NEW-CUSTOMER"),
        model.recommend(["NEW-CUSTOMER", known], k=5),
        model.complements("NEW-2", k=5),
    ):
        assert len(frame) == len(frame["query"].unique()) * 5
        assert frame.groupby("query")["item_id"].apply(lambda s: s.is_unique).all()
    # The customer's live orders count as bought.
    seen = model.recommend(["NEW-CUSTOMER"], k=50, exclude_seen=True)["item_id"]
    assert not {"NEW-1", "NEW-2"} & set(seen)
    # A grown model saves and loads to the same answers.
    again = load_model(model.save(tmp_path / name))
    pd.testing.assert_frame_equal(
        again.recommend_for_basket([anchor, "NEW-1"], k=5, user="NEW-CUSTOMER"),
        model.recommend_for_basket([anchor, "NEW-1"], k=5, user="NEW-CUSTOMER"),
    )


def test_update_grows_items_customers_and_histories(grocery_data: ShopData) -> None:
    model = build("cooccurrence").fit(grocery_data)
    n_items = model.n_items
    model.update(
        [["whole milk", "NEW-1"], ["NEW-1", "NEW-2"], ["yogurt"]],
        ["alice", "alice", None],
        names={"NEW-2": "Second new thing"},
    )
    table = model.require_fitted()
    assert model.users_ is not None
    assert model.n_items == n_items + 2
    assert table.ids.to_external([n_items, n_items + 1]).tolist() == ["NEW-1", "NEW-2"]
    assert table.names[n_items] is None and table.names[n_items + 1] == "Second new thing"
    assert table.categories[n_items] is None and np.isnan(table.prices[n_items])
    assert table.in_stock[n_items] and table.popularity[n_items] == 2
    assert table.popularity[n_items + 1] == 1
    yogurt = grocery_data.items.index_of("yogurt")
    assert table.popularity[yogurt] == grocery_data.item_basket_count[yogurt] + 1
    alice = model.users_.index_of("alice")
    assert alice >= 0
    bought = set(table.ids.to_external(model.history_items(alice)).tolist())
    assert bought == {"whole milk", "NEW-1", "NEW-2"}
    answer = model.recommend(["alice"], k=20, exclude_seen=True)
    assert not bought & set(answer["item_id"])
    # The fitted data is not changed behind the caller's back.
    assert grocery_data.n_users == 0 and grocery_data.user_item.shape[0] == 0


def test_update_needs_one_user_per_basket(tiny: ShopData) -> None:
    model = build("cooccurrence").fit(tiny)
    with pytest.raises(
        ValidationError, match="update needs one user per basket: got 2 baskets and 1 users"
    ):
        model.update([["a"], ["b"]], ["u"])


def _busy_anchors(shop: SyntheticShop, data: ShopData, minimum: int = 25) -> list[tuple[str, str]]:
    counts = dict(zip(data.items.ids, data.item_basket_count, strict=True))
    return [(p.anchor, p.partner) for p in shop.planted_pairs if counts.get(p.anchor, 0) >= minimum]


@pytest.mark.parametrize("name", [n for n in NAMES if n in CO_PURCHASE])
def test_planted_partner_is_in_the_top_5(
    name: str, shop: SyntheticShop, shop_data: ShopData
) -> None:
    model = fitted(name)
    pairs = _busy_anchors(shop, shop_data)
    assert len(pairs) >= 8
    found = [partner in set(model.complements(anchor, k=5)["item_id"]) for anchor, partner in pairs]
    assert np.mean(found) >= 0.8, f"{name} found {sum(found)} of {len(pairs)} planted partners"


def test_every_co_purchase_model_is_checked_for_planted_partners() -> None:
    assert set(CO_PURCHASE) <= set(REGISTRY)
    assert set(REGISTRY) - set(CO_PURCHASE) == {"content", "personal", "popularity"}


@dataclass
class _Opaque(Recommender):
    """A test double whose learned state is an arbitrary object (no bundle can hold it)."""

    name = "opaque"

    handle_: Any = field(default=None, init=False, repr=False)

    def _fit(self, data: ShopData) -> None:
        self.handle_ = object()

    def _score(self, baskets: sp.csr_matrix, users: np.ndarray | None) -> np.ndarray:
        return np.zeros(baskets.shape)


def test_a_model_whose_state_cannot_be_stored_fails_at_save(tiny: ShopData, tmp_path: Path) -> None:
    model = _Opaque().fit(tiny)
    assert model.recommend_for_basket(["a"], k=2)["item_id"].tolist() == ["b", "c"]
    with pytest.raises(
        ValidationError,
        match=r"cannot store handle_ \(object\) in a bundle: bundles hold arrays, tables and",
    ):
        model.save(tmp_path / "bundle")
    # Nothing half-written is left behind.
    assert list(tmp_path.iterdir()) == []


def test_params_are_the_declared_hyper_parameters() -> None:
    model = build("cooccurrence", measure="count", neighbours=None)
    assert model.params() == {
        "measure": "count",
        "min_count": 2,
        "neighbours": None,
        "half_life_days": None,
        "aggregate": "sum",
    }
