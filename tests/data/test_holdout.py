"""Held-out queries: built by hand on a tiny shop, seeded, and never holding their own answer."""

from __future__ import annotations

import numpy as np
import pytest

from tests.shops import customers, dated, items_of
from xsell.data.holdout import (
    basket_completion,
    hide_one_item,
    history_queries,
    item_to_item,
    last_basket_mask,
    latest_baskets_mask,
    next_basket,
)
from xsell.data.shopdata import ShopData
from xsell.data.splits import Split, last_basket_split, make_split, time_split
from xsell.errors import ValidationError


@pytest.fixture(scope="module")
def synthetic_split(shop_data: ShopData) -> Split:
    return make_split(shop_data, "2025-10-01")


def test_basket_completion_hides_one_item_of_each_test_basket_with_two_or_more() -> None:
    split = time_split(customers(), "2024-02-01")
    q = basket_completion(split, seed=1)
    test = split.test
    assert len(q) == 3 and q.protocol == "basket-completion"  # b8 has a single item
    assert sorted(test.baskets.to_external(q.groups).tolist()) == ["b5", "b6", "b7"]
    for r in range(len(q)):
        basket = items_of(test, test.basket_item, int(q.groups[r]))
        shown, hidden = items_of(test, q.contexts, r), items_of(test, q.truth, r)
        assert len(hidden) == 1 and not shown & hidden and shown | hidden == basket
        assert q.users[r] == test.basket_user[q.groups[r]]
    assert q.exclude_context and q.previous is None
    assert q.n_relevant.tolist() == [1, 1, 1]


def test_hide_half_hides_floor_half() -> None:
    q = basket_completion(time_split(customers(), "2024-02-01"), hide="half", seed=0)
    sizes = np.diff(q.contexts.indptr) + np.diff(q.truth.indptr)
    assert sizes.tolist() == [3, 2, 4]
    assert np.diff(q.truth.indptr).tolist() == [1, 1, 2]
    assert q.contexts.multiply(q.truth).nnz == 0


def test_basket_completion_is_seeded_and_samples(synthetic_split: Split) -> None:
    a = basket_completion(synthetic_split, max_queries=50, seed=4)
    b = basket_completion(synthetic_split, max_queries=50, seed=4)
    c = basket_completion(synthetic_split, max_queries=50, seed=5)
    assert len(a) == 50
    assert (a.contexts != b.contexts).nnz == 0 and (a.groups == b.groups).all()
    assert not (a.groups == c.groups).all()


@pytest.mark.parametrize("build", [basket_completion, item_to_item])
def test_no_query_holds_its_own_answer_on_a_real_sized_shop(
    build: object, synthetic_split: Split
) -> None:
    q = build(synthetic_split, max_queries=2000, seed=0)  # type: ignore[operator]
    assert len(q) > 500
    assert q.contexts.multiply(q.truth).nnz == 0
    # Each query's context and answer all come from its own test basket.
    whole = synthetic_split.test.basket_item[q.groups]
    assert ((q.contexts + q.truth) - whole).max() <= 0
    assert (np.diff(q.truth.indptr) > 0).all()


def test_next_basket_asks_from_training_history_for_the_last_basket() -> None:
    data = customers()
    split = last_basket_split(data)
    q = next_basket(split)
    test = split.test
    users = data.users.to_external(q.users).tolist()
    # u4 has one basket only (no training history): not asked.
    assert sorted(users) == ["u1", "u2", "u3"]
    for r, user in enumerate(users):
        last = {"u1": {"a", "d", "e"}, "u2": {"c", "f"}, "u3": {"g"}}[user]
        history = {"u1": {"a", "b", "c"}, "u2": {"b", "c", "d"}, "u3": {"a", "b", "c"}}[user]
        assert items_of(test, q.truth, r) == last
        assert items_of(test, q.contexts, r) == history
        assert q.previous is not None and items_of(test, q.previous, r) == history
    assert not q.exclude_context


def test_item_to_item_asks_each_item_for_the_others() -> None:
    split = time_split(customers(), "2024-02-01")
    q = item_to_item(split)
    assert len(q) == 3 + 2 + 4  # b5, b6, b7; b8 is a single item
    assert (q.users == -1).all()
    for r in range(len(q)):
        (seed,) = items_of(split.test, q.contexts, r)
        basket = items_of(split.test, split.test.basket_item, int(q.groups[r]))
        assert items_of(split.test, q.truth, r) == basket - {seed}


def test_bad_requests_name_what_was_wrong() -> None:
    split = time_split(customers(), "2024-02-01")
    with pytest.raises(ValidationError, match=r"hide must be one of \['one', 'half'\], got 'all'"):
        basket_completion(split, hide="all")
    with pytest.raises(ValidationError, match="max_queries must be at least 1, got 0"):
        basket_completion(split, max_queries=0)


def test_held_out_masks_by_hand() -> None:
    # b0 a, b1 b, b2 c, b3 a on days 0..3, then b4 (a guest's) and b5 on day 4.
    data = dated(
        [["a"], ["b"], ["c"], ["a"], ["b"], ["c"]],
        [0, 1, 2, 3, 4, 4],
        ["u1", "u1", "u2", "u1", None, "u2"],
    )
    order = np.asarray(data.baskets.ids)
    # The latest third: b4 and b5, both on day 4.
    assert sorted(order[latest_baskets_mask(data, 1 / 3)]) == ["b4", "b5"]
    # A fifth is one basket, but b4 and b5 share the instant: both are held out.
    assert sorted(order[latest_baskets_mask(data, 0.2)]) == ["b4", "b5"]
    assert sorted(order[latest_baskets_mask(data, 0.5)]) == ["b3", "b4", "b5"]
    assert not latest_baskets_mask(data, 0.1).any()
    # Each customer's last basket when they have two or more: u1 -> b3, u2 -> b5; guests never.
    assert sorted(order[last_basket_mask(data)]) == ["b3", "b5"]
    assert sorted(order[last_basket_mask(data, min_baskets=3)]) == ["b3"]


def test_hide_one_item_samples_baskets_of_two_or_more(shop_data: ShopData) -> None:
    mask = latest_baskets_mask(shop_data, 0.2)
    contexts, users, hidden = hide_one_item(shop_data, mask, 300, seed=3)
    again = hide_one_item(shop_data, mask, 300, seed=3)
    assert contexts == again[0] and (hidden == again[2]).all()
    assert len(contexts) == len(users) == len(hidden) == 300
    held_out = [(set(shop_data.basket_items(b).tolist()), b) for b in np.flatnonzero(mask)]
    for context, user, item in zip(contexts, users, hidden, strict=True):
        assert item not in context and len(context) >= 1
        # Some held-out basket of this customer is the context plus the hidden item.
        whole = {*context, int(item)}
        assert any(s == whole and shop_data.basket_user[b] == user for s, b in held_out)


def test_history_queries_ask_with_what_the_customer_bought_before(shop_data: ShopData) -> None:
    mask = last_basket_mask(shop_data)
    fit_part = shop_data.subset_baskets(~mask)
    contexts, users, truth = history_queries(shop_data, fit_part, mask, 50, seed=0)
    assert contexts.shape == truth.shape == (50, shop_data.n_items)
    for r, user in enumerate(users):
        assert set(contexts[r].indices) == set(fit_part.user_item[user].indices)
        last = np.flatnonzero(mask & (shop_data.basket_user == user))
        assert len(last) == 1
        assert set(truth[r].indices) == set(shop_data.basket_items(int(last[0])).tolist())
