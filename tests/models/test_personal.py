"""A customer's own habits: repeat scores with recency decay, by hand; guests get best sellers."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.shops import dated
from xsell.data.shopdata import ShopData
from xsell.models import make_model


@pytest.fixture(scope="module")
def habits() -> ShopData:
    """u1 buys milk on days 0, 10 and 20 and bread on day 0; u2 bread and jam on day 20."""
    catalog = pd.DataFrame({"item_id": ["milk", "bread", "jam"], "category": ["D", "B", "B"]})
    return dated(
        [["milk", "bread"], ["milk"], ["milk"], ["bread", "jam"]],
        [0, 10, 20, 20],
        ["u1", "u1", "u1", "u2"],
        catalog=catalog,
    )


def test_repeat_scores_and_reasons(habits: ShopData) -> None:
    model = make_model("personal", half_life_days=10).fit(habits)
    answer = model.recommend(["u1"], k=3, exclude_seen=False)
    assert answer["item_id"].tolist() == ["milk", "bread", "jam"]
    # milk: 1 + 0.25 + 0.5 + 1; bread: 1 + 0.25; jam is not theirs: popularity below 1.
    assert answer["score"].iloc[0] == pytest.approx(1 + 1.75)
    assert answer["score"].iloc[1] == pytest.approx(1 + 0.25)
    assert answer["score"].iloc[2] == pytest.approx(0.999 * 1 / 3)
    assert answer["reason"].tolist() == [
        "repeat: you bought it in 3 of your orders",
        "repeat: you bought it in 1 of your orders",
        "new for you: popular in the shop (1 orders)",
    ]
    guest = model.recommend(["stranger"], k=2, exclude_seen=False)
    assert guest["item_id"].tolist() == ["milk", "bread"]
    assert guest["reason"].str.startswith("unknown customer stranger; popular in the shop").all()


def test_without_decay_every_order_counts_fully(habits: ShopData) -> None:
    model = make_model("personal", half_life_days=None).fit(habits)
    answer = model.recommend(["u1"], k=2, exclude_seen=False)
    assert answer["score"].tolist() == pytest.approx([4.0, 2.0])


def test_learns_new_orders_live(habits: ShopData) -> None:
    model = make_model("personal", half_life_days=None).fit(habits)
    model.update([["jam", "honey"], ["honey"]], ["u2", "u3"])
    answer = model.recommend(["u2"], k=3, exclude_seen=False)
    assert answer["item_id"].tolist()[:1] == ["jam"]  # bought twice now
    assert answer["score"].iloc[0] == pytest.approx(3.0)
    assert model.recommend(["u3"], k=1, exclude_seen=False)["item_id"].tolist() == ["honey"]
