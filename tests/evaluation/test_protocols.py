"""Protocols build the right queries and never leak a held-out item into a query."""

from __future__ import annotations

import numpy as np
import pytest

from tests.evaluation.helpers import items_of, tiny_shop
from xsell.data.split import last_basket_split, time_split
from xsell.data.synthetic import make_shop
from xsell.errors import ValidationError
from xsell.evaluation import (
    basket_completion,
    item_to_item,
    make_queries,
    make_split,
    next_basket,
    random_basket_split,
)


@pytest.fixture(scope="module")
def synthetic_split():
    data = make_shop(n_users=300, seed=5).to_shopdata()
    return data, make_split(data, "2025-10-01")


def test_basket_completion_hides_one_item_of_each_test_basket_with_two_or_more() -> None:
    data = tiny_shop()
    split = time_split(data, "2024-02-01")
    q = basket_completion(split, seed=1)
    test = split.test
    assert len(q) == 3  # b8 has a single item
    assert sorted(test.baskets.to_external(q.groups).tolist()) == ["b5", "b6", "b7"]
    for r in range(len(q)):
        basket = items_of(test, test.basket_item, int(q.groups[r]))
        shown, hidden = items_of(test, q.contexts, r), items_of(test, q.truth, r)
        assert len(hidden) == 1 and not shown & hidden and shown | hidden == basket
        assert q.users[r] == test.basket_user[q.groups[r]]
    assert q.exclude_context


def test_hide_half_hides_floor_half() -> None:
    data = tiny_shop()
    q = basket_completion(time_split(data, "2024-02-01"), hide="half", seed=0)
    sizes = np.diff(q.contexts.indptr) + np.diff(q.truth.indptr)
    assert (np.diff(q.truth.indptr) == np.maximum(sizes // 2, 1)).all()
    assert q.contexts.multiply(q.truth).nnz == 0


def test_basket_completion_is_seeded_and_samples(synthetic_split) -> None:
    _, split = synthetic_split
    a = basket_completion(split, max_queries=50, seed=4)
    b = basket_completion(split, max_queries=50, seed=4)
    c = basket_completion(split, max_queries=50, seed=5)
    assert len(a) == 50
    assert (a.contexts != b.contexts).nnz == 0 and (a.groups == b.groups).all()
    assert not (a.groups == c.groups).all()


def test_no_query_holds_its_own_answer_on_a_real_sized_shop(synthetic_split) -> None:
    _, split = synthetic_split
    for protocol in ("basket-completion", "item-to-item"):
        q = make_queries(protocol, split, max_queries=2000, seed=0)
        assert q.contexts.multiply(q.truth).nnz == 0, protocol
        # Each query's context and answer are all from its own test basket.
        whole = split.test.basket_item[q.groups]
        assert ((q.contexts + q.truth) - whole).max() <= 0


def test_next_basket_asks_from_training_history_for_the_last_basket() -> None:
    data = tiny_shop()
    split = last_basket_split(data)
    q = next_basket(split)
    test = split.test
    users = data.users.to_external(q.users).tolist()
    # u4 has one basket only (no training history): not asked.
    assert sorted(users) == ["u1", "u2", "u3"]
    for r, user in enumerate(users):
        expected_last = {"u1": {"a", "d", "e"}, "u2": {"c", "f"}, "u3": {"g"}}[user]
        history = {"u1": {"a", "b", "c"}, "u2": {"b", "c", "d"}, "u3": {"a", "b", "c"}}[user]
        assert items_of(test, q.truth, r) == expected_last
        assert items_of(test, q.contexts, r) == history
        assert items_of(test, q.previous, r) == history
    assert not q.exclude_context


def test_item_to_item_asks_each_item_for_the_others() -> None:
    data = tiny_shop()
    split = time_split(data, "2024-02-01")
    q = item_to_item(split)
    assert len(q) == 3 + 2 + 4  # b5, b6, b7; b8 is a single item
    assert (q.users == -1).all()
    for r in range(len(q)):
        (seed,) = items_of(split.test, q.contexts, r)
        basket = items_of(split.test, split.test.basket_item, int(q.groups[r]))
        assert items_of(split.test, q.truth, r) == basket - {seed}


def test_random_basket_split_works_without_customers() -> None:
    data = make_shop(n_users=100, seed=2).to_shopdata()
    split = random_basket_split(data, test_share=0.25, seed=3)
    share = split.test.n_baskets / data.n_baskets
    assert 0.2 < share < 0.3
    assert split.train.n_baskets + split.test.n_baskets == data.n_baskets
    again = random_basket_split(data, test_share=0.25, seed=3)
    assert (again.test_mask == split.test_mask).all()


def test_bad_inputs_name_what_was_wrong() -> None:
    data = tiny_shop()
    split = time_split(data, "2024-02-01")
    with pytest.raises(ValidationError, match=r"unknown protocol 'basket'; choose one of"):
        make_queries("basket", split)
    with pytest.raises(ValidationError, match=r"hide must be one of \['one', 'half'\], got 'all'"):
        basket_completion(split, hide="all")
    with pytest.raises(ValidationError, match="max_queries must be at least 1, got 0"):
        basket_completion(split, max_queries=0)
    with pytest.raises(
        ValidationError, match=r"--split 2030-01-01: .*no test baskets; baskets run"
    ):
        make_split(data, "2030-01-01")
    with pytest.raises(ValidationError, match=r"--split must be a date .* got 'soon'"):
        make_split(data, "soon")
    with pytest.raises(ValidationError, match=r"test_share must be between 0 and 1, got 1\.5"):
        random_basket_split(data, test_share=1.5)
