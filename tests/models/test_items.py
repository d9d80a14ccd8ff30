"""The item table of a fitted model, and contexts as sparse rows over it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.models import ItemTable, as_dense, basket_rows
from xsell.models.items import grow_history


@pytest.fixture
def table() -> ItemTable:
    frame = pd.DataFrame(
        {"basket_id": ["1", "1", "2", "3"], "item_id": ["a", "b", "a", "c"], "price": 2.5}
    )
    catalog = pd.DataFrame(
        {
            "item_id": ["a", "b", "c"],
            "name": ["Apple", None, "Cake"],
            "category": ["Fruit", "Bread", None],
            "in_stock": [True, False, True],
        }
    )
    return ItemTable.from_data(ShopData.from_frame(frame, catalog=catalog))


def test_the_table_holds_the_catalog_and_popularity(table: ItemTable) -> None:
    assert len(table) == 3 and table.ids.ids.tolist() == ["a", "b", "c"]
    assert table.popularity.tolist() == [2.0, 1.0, 1.0]  # baskets holding each item
    # The catalog names an item without a name by its id.
    assert table.names.tolist() == ["Apple", "b", "Cake"]
    assert table.categories.tolist() == ["Fruit", "Bread", None]
    assert table.in_stock.tolist() == [True, False, True]
    grown = table.grown(["x"], {})
    assert [grown.label(i) for i in range(4)] == ["Apple", "b", "Cake", "x"]
    frame = table.to_frame()
    assert frame.columns.tolist() == [
        "item_id",
        "name",
        "category",
        "price",
        "in_stock",
        "popularity",
        "margin",
        "stock",
    ]
    assert frame["popularity"].tolist() == [2.0, 1.0, 1.0]


def test_arrow_round_trip_keeps_every_column(table: ItemTable) -> None:
    again = ItemTable.from_arrow(table.to_arrow())
    assert again.ids.ids.tolist() == table.ids.ids.tolist()
    for column in ("names", "categories", "in_stock", "popularity"):
        assert getattr(again, column).tolist() == getattr(table, column).tolist(), column
    np.testing.assert_array_equal(again.prices, table.prices)


def test_grown_appends_new_items_without_catalog_facts(table: ItemTable) -> None:
    grown = table.grown(["x", "y"], {"y": "Yam"})
    assert len(grown) == 5 and len(table) == 3
    assert grown.ids.to_external([3, 4]).tolist() == ["x", "y"]
    assert grown.names[3:].tolist() == [None, "Yam"]
    assert grown.categories[3:].tolist() == [None, None]
    assert np.isnan(grown.prices[3:]).all() and grown.in_stock[3:].all()
    assert grown.popularity[3:].tolist() == [0.0, 0.0]


def test_basket_rows_are_binary_and_merge_duplicates() -> None:
    rows = basket_rows([[2, 0, 2], [], [1]], 4)
    assert rows.shape == (3, 4) and rows.dtype == np.float32
    assert rows.toarray().tolist() == [[1, 0, 1, 0], [0, 0, 0, 0], [0, 1, 0, 0]]
    assert basket_rows([], 5).shape == (0, 5)


def test_as_dense_reads_absent_entries_as_minus_inf() -> None:
    sparse = sp.csr_matrix(([0.0, 2.5], ([0, 1], [1, 2])), shape=(2, 3))
    assert as_dense(sparse).tolist() == [[-np.inf, 0.0, -np.inf], [-np.inf, -np.inf, 2.5]]
    dense = np.array([[1, 2]], dtype=np.int64)
    assert as_dense(dense).dtype == np.float64 and as_dense(dense).tolist() == [[1.0, 2.0]]


def test_grow_history_adds_the_baskets_of_known_customers() -> None:
    history = sp.csr_matrix(np.array([[1, 0, 0], [0, 2, 0]], dtype=np.float32))
    baskets = basket_rows([[0, 3], [1], [2]], 4)
    grown = grow_history(history, np.array([1, -1, 2]), baskets, 3)
    assert grown.toarray().tolist() == [[1, 0, 0, 0], [1, 2, 0, 1], [0, 0, 1, 0]]
