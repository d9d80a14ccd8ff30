"""What every model learns from live orders first: new items, customers and histories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from xsell.data.idmap import IdMap
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.models import ItemTable
from xsell.models.live import absorb


@pytest.fixture
def table() -> ItemTable:
    frame = pd.DataFrame({"basket_id": ["1", "1", "2", "3"], "item_id": ["a", "b", "a", "c"]})
    return ItemTable.from_data(ShopData.from_frame(frame))


def test_orders_grow_items_customers_and_histories(table: ItemTable) -> None:
    history = sp.csr_matrix(np.array([[1, 0, 0]], dtype=np.float32))
    popularity = table.popularity.copy()
    new = absorb(
        table,
        IdMap(["u1"]),
        history,
        [["a", "new", "a"], ["new"]],
        ["u2", None],
        {"new": "Newt"},
    )
    assert new.new_items == 1 and new.table.ids.ids.tolist() == ["a", "b", "c", "new"]
    assert new.users.ids.tolist() == ["u1", "u2"] and new.customers.tolist() == [1, -1]
    # Duplicates inside an order count once.
    assert new.baskets.toarray().tolist() == [[1, 0, 0, 1], [0, 0, 0, 1]]
    assert new.table.popularity.tolist() == [3.0, 1.0, 1.0, 2.0]
    assert new.history.toarray().tolist() == [[1, 0, 0, 0], [1, 0, 0, 1]]
    assert new.table.names[3] == "Newt" and new.table.categories[3] is None
    # Nothing that was there before changed in place.
    assert table.popularity.tolist() == popularity.tolist() and len(table) == 3
    assert history.toarray().tolist() == [[1, 0, 0]]


def test_known_items_keep_the_table_and_guests_add_no_history(table: ItemTable) -> None:
    new = absorb(table, IdMap([]), None, [["b", "c"]], None, None)
    assert new.new_items == 0 and new.table.ids.ids.tolist() == ["a", "b", "c"]
    assert new.table.popularity.tolist() == [2.0, 2.0, 2.0]
    assert new.customers.tolist() == [-1] and new.history.shape == (0, 3)


def test_one_customer_per_order(table: ItemTable) -> None:
    with pytest.raises(
        ValidationError, match="update needs one user per basket: got 2 baskets and 1 users"
    ):
        absorb(table, IdMap([]), None, [["a"], ["b"]], ["u"], None)
