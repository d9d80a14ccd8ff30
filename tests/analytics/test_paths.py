"""Browsing funnels and item-to-item moves by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from xsell.analytics.paths import funnel, transitions
from xsell.data.shopdata import ShopData


def test_funnel_and_transitions_by_hand() -> None:
    t = pd.Timestamp("2024-01-01 10:00")
    lines = pd.DataFrame(
        [
            # u1 views a, b, c; carts b; buys b.  u2 views a, b and (later) c; buys nothing.
            ("", "u1", "a", t, "view"),
            ("", "u1", "b", t + pd.Timedelta(minutes=1), "view"),
            ("", "u1", "b", t + pd.Timedelta(minutes=2), "cart"),
            ("", "u1", "c", t + pd.Timedelta(minutes=3), "view"),
            ("o1", "u1", "b", t + pd.Timedelta(minutes=4), "purchase"),
            ("", "u2", "a", t, "view"),
            ("", "u2", "b", t + pd.Timedelta(minutes=5), "view"),
            ("", "u2", "c", t + pd.Timedelta(hours=3), "view"),
        ],
        columns=["basket_id", "user_id", "item_id", "time", "event"],
    ).replace("", None)
    catalog = pd.DataFrame({"item_id": ["a", "b", "c"], "category": ["K", "K", "L"]})
    data = ShopData.from_frame(lines, catalog=catalog)
    table = funnel(data).set_index("category")
    assert table.loc["all", ["view", "cart", "purchase"]].tolist() == [6, 1, 1]
    assert table.loc["K", "view_to_cart"] == pytest.approx(1 / 4)
    assert table.loc["K", "cart_to_purchase"] == 1.0
    moves = transitions(data, min_customers=1)
    counted = dict(
        zip(zip(moves["from_id"], moves["to_id"], strict=True), moves["count"], strict=True)
    )
    # a->b twice (u1, u2); b->c once (u1); u2's c is three hours later: a new session.
    assert counted == {("a", "b"): 2, ("b", "c"): 1}
    # Only a->b was made by two customers.
    shared = transitions(data, min_customers=2)
    assert list(zip(shared["from_id"], shared["to_id"], shared["customers"], strict=True)) == [
        ("a", "b", 2)
    ]
