"""Train/test splits: by date, by each customer's last basket, at random, and for validation."""

from __future__ import annotations

import numpy as np
import pytest

from tests.shops import customers
from xsell.data.shopdata import ShopData
from xsell.data.splits import (
    last_basket_split,
    make_split,
    random_basket_split,
    random_user_split,
    time_split,
    validation_split,
)
from xsell.errors import ValidationError


def test_time_split_by_hand() -> None:
    data = customers()
    split = time_split(data, "2024-02-01")
    assert split.train.baskets.ids.tolist() == ["b1", "b2", "b3", "b4"]
    assert split.test.baskets.ids.tolist() == ["b5", "b6", "b7", "b8"]
    # Both sides share the item and customer maps.
    assert split.train.items.ids.tolist() == split.test.items.ids.tolist() == list("abcdefg")
    assert split.train.n_users == split.test.n_users == 4
    assert split.test_mask.tolist() == [False] * 4 + [True] * 4
    assert make_split(data, "2024-02-01").test_mask.tolist() == split.test_mask.tolist()


def test_last_basket_split_by_hand() -> None:
    split = last_basket_split(customers())
    # u1's last is b5, u2's b6, u3's b8; u4 has one basket only: it trains.
    assert sorted(split.test.baskets.ids.tolist()) == ["b5", "b6", "b8"]
    with pytest.raises(ValidationError, match="min_baskets must be at least 2"):
        last_basket_split(customers(), min_baskets=1)


def test_random_basket_split_works_without_customers(shop_data: ShopData) -> None:
    split = random_basket_split(shop_data, test_share=0.25, seed=3)
    assert 0.2 < split.test.n_baskets / shop_data.n_baskets < 0.3
    assert split.train.n_baskets + split.test.n_baskets == shop_data.n_baskets
    again = random_basket_split(shop_data, test_share=0.25, seed=3)
    assert (again.test_mask == split.test_mask).all()
    assert not (random_basket_split(shop_data, 0.25, seed=4).test_mask == split.test_mask).all()


def test_random_user_split_keeps_each_customer_on_one_side(shop_data: ShopData) -> None:
    split = random_user_split(shop_data, test_share=0.3, seed=1)
    test_users = set(shop_data.basket_user[split.test_mask].tolist())
    train_users = set(shop_data.basket_user[~split.test_mask].tolist()) - {-1}
    assert test_users and not test_users & train_users
    assert 0.2 < len(test_users) / shop_data.n_users < 0.4


def test_bad_splits_name_what_was_wrong() -> None:
    data = customers()
    with pytest.raises(
        ValidationError,
        match=r"--split 2030-01-01: a time split there leaves no test baskets; baskets run "
        r"from 2024-01-02 to 2024-02-06",
    ):
        make_split(data, "2030-01-01")
    with pytest.raises(ValidationError, match=r"leaves no training baskets"):
        make_split(data, "2020-01-01")
    with pytest.raises(ValidationError, match=r"--split must be a date like 2011-10-01 .*'soon'"):
        make_split(data, "soon")
    with pytest.raises(ValidationError, match=r"test_share must be between 0 and 1, got 1\.5"):
        random_basket_split(data, test_share=1.5)
    with pytest.raises(ValidationError, match=r"test_share must be between 0 and 1, got 0"):
        random_user_split(data, test_share=0)


def test_validation_split_takes_the_latest_training_baskets(shop_data: ShopData) -> None:
    train = make_split(shop_data, "2025-10-01").train
    carved = validation_split(train, "2025-10-01")
    assert carved.train.basket_time.max() <= carved.test.basket_time.min()
    assert 0.15 < carved.test.n_baskets / train.n_baskets < 0.25
    assert set(carved.test.baskets.ids) <= set(train.baskets.ids)
    # Shaped like the test split: each customer's last training basket, or a random share.
    last = validation_split(train, "last-basket")
    assert (last.test_mask == last_basket_split(train).test_mask).all()
    shuffled = validation_split(train, "random", seed=2, share=0.3)
    assert (shuffled.test_mask == random_basket_split(train, 0.3, seed=2).test_mask).all()


def test_validation_split_without_times_is_random() -> None:
    data = ShopData.from_baskets([["a", "b"]] * 20)
    carved = validation_split(data, "2025-01-01", seed=1)
    assert (carved.test_mask == random_basket_split(data, 0.2, seed=1).test_mask).all()
    assert np.isnat(data.basket_time).all()
