"""Property tests for id maps and splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from xsell.data.idmap import IdMap
from xsell.data.shopdata import ShopData
from xsell.data.splits import last_basket_split, random_user_split, time_split

ids = st.lists(st.text(min_size=1, max_size=6), min_size=0, max_size=40)


@given(ids)
def test_idmap_round_trips_and_is_dense(values: list[str]) -> None:
    mapping = IdMap(values)
    unique = list(dict.fromkeys(values))
    assert len(mapping) == len(unique)
    index = mapping.to_index(values)
    assert ((index >= 0) & (index < len(unique))).all()
    assert list(mapping.to_external(index)) == values
    assert sorted(set(index.tolist())) == list(range(len(unique)))


@given(ids, st.text(min_size=7, max_size=9))
def test_idmap_unknown_is_minus_one(values: list[str], stranger: str) -> None:
    mapping = IdMap(values)
    assert mapping.to_index([stranger]).tolist() == [-1]
    assert mapping.index_of(stranger) == -1


lines = st.lists(
    st.tuples(
        st.integers(0, 30),  # basket
        st.integers(0, 6),  # user (6 = anonymous)
        st.integers(0, 12),  # item
        st.integers(0, 60),  # day
    ),
    min_size=1,
    max_size=120,
)


def build(rows: list[tuple[int, int, int, int]]) -> ShopData:
    frame = pd.DataFrame(rows, columns=["basket", "user", "item", "day"])
    # A basket belongs to one user at one time: take them from its first line.
    first = frame.groupby("basket")[["user", "day"]].transform("first")
    return ShopData.from_frame(
        pd.DataFrame(
            {
                "basket_id": "b" + frame["basket"].astype(str),
                "user_id": np.where(first["user"] == 6, None, "u" + first["user"].astype(str)),
                "item_id": "i" + frame["item"].astype(str),
                "time": pd.Timestamp("2024-01-01") + pd.to_timedelta(first["day"], "D"),
            }
        )
    )


def check_partition(data: ShopData, train: ShopData, test: ShopData) -> None:
    assert set(train.baskets.ids) & set(test.baskets.ids) == set()
    assert set(train.baskets.ids) | set(test.baskets.ids) == set(data.baskets.ids)
    assert len(train.lines) + len(test.lines) == len(data.lines)
    assert train.items == data.items and test.items == data.items


@settings(max_examples=60, deadline=None)
@given(lines, st.integers(0, 60))
def test_time_split_partitions_baskets_by_time(
    rows: list[tuple[int, int, int, int]], day: int
) -> None:
    data = build(rows)
    cut = pd.Timestamp("2024-01-01") + pd.Timedelta(days=day)
    split = time_split(data, cut)
    check_partition(data, split.train, split.test)
    assert (split.train.basket_time < cut.to_datetime64()).all()
    assert (split.test.basket_time >= cut.to_datetime64()).all()


@settings(max_examples=60, deadline=None)
@given(lines)
def test_last_basket_split_takes_each_repeat_customers_latest(
    rows: list[tuple[int, int, int, int]],
) -> None:
    data = build(rows)
    split = last_basket_split(data)
    check_partition(data, split.train, split.test)
    test_users = split.test.basket_user
    assert len(set(test_users.tolist())) == len(test_users)  # one basket per customer
    assert (test_users >= 0).all()
    for b, user in enumerate(test_users):
        train_times = split.train.basket_time[split.train.basket_user == user]
        assert len(train_times) >= 1
        assert (train_times <= split.test.basket_time[b]).all()


@settings(max_examples=60, deadline=None)
@given(lines, st.integers(0, 1000))
def test_random_user_split_is_deterministic_and_keeps_users_whole(
    rows: list[tuple[int, int, int, int]], seed: int
) -> None:
    data = build(rows)
    first = random_user_split(data, 0.5, seed)
    second = random_user_split(data, 0.5, seed)
    check_partition(data, first.train, first.test)
    assert (first.test_mask == second.test_mask).all()
    train_users = set(first.train.basket_user.tolist()) - {-1}
    test_users = set(first.test.basket_user.tolist())
    assert not train_users & test_users
