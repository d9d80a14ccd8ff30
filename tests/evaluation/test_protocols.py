"""Protocols by name: the registry, and the errors of a split that gives no queries."""

from __future__ import annotations

import pytest

from tests.shops import customers
from xsell.data.holdout import basket_completion, item_to_item, next_basket
from xsell.data.splits import last_basket_split, split_by_mask, time_split
from xsell.errors import ValidationError
from xsell.evaluation import PROTOCOLS, make_queries


def test_each_name_builds_its_protocols_queries() -> None:
    assert {
        "basket-completion": basket_completion,
        "next-basket": next_basket,
        "item-to-item": item_to_item,
    } == PROTOCOLS
    split = time_split(customers(), "2024-02-01")
    for name in ("basket-completion", "item-to-item"):
        made = make_queries(name, split, seed=3)
        direct = PROTOCOLS[name](split, seed=3)
        assert made.protocol == name
        assert (made.contexts != direct.contexts).nnz == 0 and (made.groups == direct.groups).all()
    half = make_queries("basket-completion", split, hide="half", seed=0)
    assert (half.truth != basket_completion(split, hide="half", seed=0).truth).nnz == 0
    assert len(make_queries("next-basket", last_basket_split(customers()))) == 3


def test_bad_protocols_and_empty_splits_are_named() -> None:
    data = customers()
    with pytest.raises(ValidationError, match=r"unknown protocol 'basket'; choose one of \["):
        make_queries("basket", time_split(data, "2024-02-01"))
    only_b8 = time_split(data, "2024-02-06")  # a single-item test basket
    with pytest.raises(
        ValidationError,
        match=r"protocol 'basket-completion' found no test queries in this split "
        r"\(1 test baskets\); it needs test baskets with at least two items",
    ):
        make_queries("basket-completion", only_b8)
    with pytest.raises(ValidationError, match="next-basket needs customers with training baskets"):
        # Only b7, of u4, who bought nothing before.
        make_queries("next-basket", split_by_mask(data, data.baskets.ids == "b7"))
