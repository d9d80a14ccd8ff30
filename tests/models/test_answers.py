"""Requests by external id in, records and tables out: unknown ids, traces, batches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.shops import fitted
from xsell.data.shopdata import ShopData
from xsell.data.synthetic import SyntheticShop
from xsell.models import Query, make_model
from xsell.models.answers import COLUMNS, to_frame


@pytest.mark.parametrize("name", ["cooccurrence", "hybrid", "personal"])
def test_a_batch_of_queries_equals_one_by_one(name: str, shop_data: ShopData) -> None:
    model = fitted(name)
    items = list(shop_data.items.ids[:6])
    customer = str(shop_data.users.ids[2])
    carts = [[items[0], items[1]], [items[2]], [items[3], items[4], items[5]], ["nope"]]
    queries = [
        Query(tuple(c), customer if i % 2 else None, label=str(i)) for i, c in enumerate(carts)
    ]
    batch = to_frame(model.answer(queries, k=5), model.require_fitted(), explain=False)
    one_by_one = pd.concat(
        [
            model.recommend_for_basket(c, k=5, user=q.customer).assign(query=q.label)
            for c, q in zip(carts, queries, strict=True)
        ],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(batch, one_by_one)


def test_records_carry_ids_names_and_no_nan(shop: SyntheticShop) -> None:
    model = fitted("cooccurrence")
    table = model.require_fitted()
    anchor = shop.planted_pairs[0].anchor
    (found,) = model.answer([Query((anchor, "ghost"), "stranger", label="q")], k=3)
    assert found.query == "q" and found.unknown_items == ["ghost"]
    records = found.records(table)
    assert len(records) == 3
    catalog = shop.catalog.set_index("item_id")
    for record, item in zip(records, found.items, strict=True):
        assert set(record) == {"item_id", "name", "category", "price", "score", "reason", "source"}
        assert record["item_id"] == table.ids.ids[item]
        assert record["name"] == catalog.loc[record["item_id"], "name"]
        assert record["price"] == pytest.approx(catalog.loc[record["item_id"], "price"])
        assert record["reason"].startswith("unknown item ghost; unknown customer stranger; ")
    # An item added live has no category and no price: None, never NaN.
    grown = make_model("popularity").fit(ShopData.from_baskets([["a", "b"]]))
    grown.update([["fresh"], ["fresh"], ["fresh"]])
    (live,) = grown.answer([Query(())], k=1)
    (record,) = live.records(grown.require_fitted())
    assert record["item_id"] == "fresh" and record["category"] is None and record["price"] is None


def test_a_trace_names_external_ids(shop: SyntheticShop) -> None:
    model = fitted("cooccurrence")
    anchor = shop.planted_pairs[0].anchor
    top = model.complements(anchor, k=2)["item_id"].tolist()
    (found,) = model.answer([Query((anchor,))], k=2, rules={"deny": top}, explain=True)
    assert found.trace == {
        "in_basket": [anchor],
        "deny": sorted(top, key=model.require_fitted().ids.index_of),
    }
    frame = to_frame([found], model.require_fitted(), explain=True)
    assert frame.columns.tolist() == [*COLUMNS, "trace", "contributions"]
    assert (frame["trace"].map(lambda t: t == found.trace)).all()


def test_no_query_gives_an_empty_table_with_the_columns() -> None:
    model = fitted("popularity")
    assert model.answer([], k=3) == []
    assert to_frame([], model.require_fitted(), explain=False).columns.tolist() == COLUMNS
    assert model.recommend([], k=3).columns.tolist() == COLUMNS
    table = to_frame([], model.require_fitted(), explain=True)
    assert table.columns.tolist() == [*COLUMNS, "trace", "contributions"] and len(table) == 0


def test_a_customers_history_is_the_context_of_personal_add_ons(shop_data: ShopData) -> None:
    model = fitted("cooccurrence")
    user = int(np.argmax(np.diff(shop_data.user_item.indptr)))
    customer = str(shop_data.users.ids[user])
    history = shop_data.items.to_external(shop_data.user_item[user].indices).tolist()
    rules = {"exclude_bought": True}
    (personal,) = model.answer([Query((), customer, history=True)], k=5, rules=rules)
    (as_cart,) = model.answer([Query(tuple(history))], k=5)
    assert personal.items == as_cart.items and personal.scores == as_cart.scores
    # Without exclude_bought, repeat purchases may come back (nothing is in the cart).
    (repeats,) = model.answer([Query((), customer, history=True)], k=50)
    assert set(repeats.items) & set(shop_data.user_item[user].indices.tolist())
