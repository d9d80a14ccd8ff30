"""ShopData against brute-force counts, from every kind of input."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from xsell.data.ingest import ingest_lines
from xsell.data.shopdata import ShopData
from xsell.data.store import Store
from xsell.data.synthetic import make_shop
from xsell.errors import MissingExtraError, SchemaError, ValidationError, require

FRAME = pd.DataFrame(
    {
        "order": ["o1", "o1", "o1", "o2", "o3", "o3", "o4"],
        "client": ["c1", "c1", "c1", "c2", "c1", "c1", None],
        "sku": ["a", "b", "a", "b", "c", "a", "c"],
        "when": pd.to_datetime(
            [
                "2024-01-01",
                "2024-01-01",
                "2024-01-01",
                "2024-01-02",
                "2024-02-01",
                "2024-02-01",
                "2024-03-01",
            ]
        ),
        "paid": [1.0, 2.0, 1.0, 2.5, 3.0, 1.2, 3.0],
    }
)
COLUMNS = {"basket": "order", "user": "client", "item": "sku", "time": "when", "price": "paid"}


def test_matrices_match_brute_force_counts() -> None:
    data = ShopData.from_frame(FRAME, **COLUMNS)
    baskets = FRAME.groupby("order")["sku"].apply(set)
    for basket_id, items in baskets.items():
        b = data.baskets.index_of(basket_id)
        assert set(data.items.to_external(data.basket_items(b))) == items
    assert data.basket_item.max() == 1.0  # "a" twice in o1 still counts once
    per_user: Counter[tuple[str, str]] = Counter()
    for (_basket, user), group in FRAME.dropna(subset=["client"]).groupby(["order", "client"]):
        for item in set(group["sku"]):
            per_user[(user, item)] += 1
    dense = data.user_item.toarray()
    for (user, item), count in per_user.items():
        assert dense[data.users.index_of(user), data.items.index_of(item)] == count
    assert dense.sum() == sum(per_user.values())
    assert data.basket_user[data.baskets.index_of("o4")] == -1
    assert data.item_basket_count.tolist() == [2, 2, 2]  # a: o1 o3, b: o1 o2, c: o3 o4


def test_polars_and_pandas_give_the_same_data() -> None:
    from_pandas = ShopData.from_frame(FRAME, **COLUMNS)
    from_polars = ShopData.from_frame(pl.from_pandas(FRAME), **COLUMNS)
    assert from_pandas.fingerprint() == from_polars.fingerprint()
    assert (from_pandas.basket_item != from_polars.basket_item).nnz == 0


def test_prices_fall_back_to_the_median_paid() -> None:
    data = ShopData.from_frame(FRAME, **COLUMNS)
    prices = dict(zip(data.items.ids, data.item_prices(), strict=True))
    assert prices == {"a": 1.0, "b": 2.25, "c": 3.0}


def test_from_baskets_and_store_agree(tmp_path: Path) -> None:
    baskets = [["milk", "bread"], ["milk", "eggs", "bread"], ["eggs"]]
    direct = ShopData.from_baskets(baskets)
    path = tmp_path / "b.csv"
    path.write_text("\n".join(",".join(b) for b in baskets) + "\n")
    store = Store(tmp_path / "s.duckdb")
    ingest_lines(store, path, preset="baskets")
    stored = ShopData.from_store(store)
    assert sorted(direct.items.ids) == sorted(stored.items.ids)
    for data in (direct, stored):
        sets = [set(data.items.to_external(data.basket_items(b))) for b in range(data.n_baskets)]
        assert sorted(map(sorted, sets)) == sorted(map(sorted, map(set, baskets)))


def test_subset_keeps_item_and_user_indices() -> None:
    data = ShopData.from_frame(FRAME, **COLUMNS)
    mask = np.array([b in ("o1", "o3") for b in data.baskets.ids])
    part = data.subset_baskets(mask)
    assert part.items == data.items and part.users == data.users
    assert part.n_baskets == 2
    assert part.user_item.shape == data.user_item.shape
    assert part.user_item[data.users.index_of("c1"), data.items.index_of("a")] == 2


def test_missing_column_in_a_frame() -> None:
    with pytest.raises(SchemaError, match=r"DataFrame: no item column 'product'; columns are"):
        ShopData.from_frame(FRAME, basket="order", item="product")


def test_bad_frame_type_and_half_life() -> None:
    with pytest.raises(ValidationError, match="expected a pandas or Polars DataFrame, got list"):
        ShopData.from_frame([1, 2, 3])
    data = ShopData.from_frame(FRAME, **COLUMNS)
    with pytest.raises(ValidationError, match="half_life_days must be positive, got 0"):
        data.user_item_weighted(0)


def test_a_missing_extra_names_the_install_command() -> None:
    with pytest.raises(MissingExtraError, match=r"pip install 'xsell\[models\]'"):
        require("xsell_module_that_does_not_exist", "models")


def test_synthetic_shop_is_deterministic_and_plants_what_it_says() -> None:
    first, second = make_shop(n_users=300, seed=3), make_shop(n_users=300, seed=3)
    pd.testing.assert_frame_equal(first.lines, second.lines)
    data = first.to_shopdata()
    counts = data.item_basket_count
    together = (data.basket_item.T @ data.basket_item).toarray()
    categories = data.item_categories()
    joint = expected = 0.0
    for pair in first.planted_pairs:
        a, b = data.items.index_of(pair.anchor), data.items.index_of(pair.partner)
        assert categories[a] != categories[b]
        joint += together[a, b]
        expected += pair.strength * counts[a]
    # Over all pairs, partners join their anchors at least as often as planted
    # (organic purchases only add to it); 10% slack for sampling noise.
    assert joint >= 0.9 * expected
    assert len(data.events) > 0 and set(data.events["event"]) == {"view", "cart"}


@pytest.mark.parametrize("n_items", [4, 20])
def test_small_catalogs_plant_what_fits(n_items: int) -> None:
    shop = make_shop(n_users=30, n_items=n_items, seed=1)
    planted = {p.anchor for p in shop.planted_pairs} | {p.partner for p in shop.planted_pairs}
    assert len(planted) == 2 * len(shop.planted_pairs)  # no item in two pairs
    assert set(shop.lines["item_id"]) <= set(shop.catalog["item_id"])
