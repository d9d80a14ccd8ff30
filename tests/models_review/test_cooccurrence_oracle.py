"""Co-occurrence checked against hand computations and a brute-force oracle over real baskets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.models_review.conftest import TINY, dated
from tests.models_review.oracles import basket_scores, similarity_table
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.models import make_model
from xsell.models.cooccurrence import MEASURES, Cooccurrence

MEASURE_NAMES = list(MEASURES)


def as_table(model: Cooccurrence) -> dict[tuple[str, str], float]:
    """The model's kept similarities keyed by external ids."""
    assert model.similarity_ is not None and model.items_ is not None
    coo = model.similarity_.tocoo()
    ids = model.items_.ids.ids
    return {(ids[r], ids[c]): float(v) for r, c, v in zip(coo.row, coo.col, coo.data, strict=True)}


# milk 3, bread 4, butter 3, eggs 3, tea 1 of 6 baskets; milk+bread 2, bread+butter 3 (by hand).
HAND = {
    ("count", "milk", "bread"): 2.0,
    ("confidence", "milk", "bread"): 2 / 3,
    ("confidence", "bread", "milk"): 2 / 4,
    ("confidence", "butter", "bread"): 1.0,
    ("lift", "milk", "bread"): 2 * 6 / (3 * 4),
    ("lift", "bread", "butter"): 3 * 6 / (4 * 3),
    ("jaccard", "milk", "bread"): 2 / (3 + 4 - 2),
    ("jaccard", "bread", "butter"): 3 / (4 + 3 - 3),
    ("cosine", "milk", "bread"): 2 / math.sqrt(3 * 4),
    ("inclusion", "bread", "butter"): 3 / 3,
    ("inclusion", "milk", "bread"): 2 / 3,
}


@pytest.mark.parametrize(("measure", "a", "b"), list(HAND))
def test_measures_equal_hand_computation(measure: str, a: str, b: str) -> None:
    model = make_model("cooccurrence", measure=measure, neighbours=None)
    model.fit(ShopData.from_baskets(TINY))
    assert as_table(model)[a, b] == pytest.approx(HAND[measure, a, b], rel=1e-12)
    # milk and tea never share a basket: no evidence, no entry.
    assert ("milk", "tea") not in as_table(model)


@pytest.mark.parametrize("measure", MEASURE_NAMES)
@pytest.mark.parametrize(("min_count", "neighbours"), [(1, None), (3, None), (1, 5), (2, 12)])
def test_similarity_equals_brute_force_on_real_baskets(
    measure: str,
    min_count: int,
    neighbours: int | None,
    grocery_baskets: list[list[str]],
    grocery_data: ShopData,
) -> None:
    model = make_model(
        "cooccurrence", measure=measure, min_count=min_count, neighbours=neighbours
    ).fit(grocery_data)
    assert isinstance(model, Cooccurrence) and model.items_ is not None
    expected = similarity_table(
        grocery_baskets, measure, min_count, neighbours, item_order=list(model.items_.ids.ids)
    )
    got = as_table(model)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-9)
    if neighbours is not None:
        assert np.diff(model.similarity_.indptr).max() <= neighbours  # type: ignore[union-attr]


@pytest.mark.parametrize("how", ["sum", "max"])
def test_cart_scores_add_or_take_the_max_of_the_rows(
    how: str, grocery_baskets: list[list[str]], grocery_data: ShopData
) -> None:
    model = make_model("cooccurrence", measure="lift", aggregate=how, neighbours=None)
    model.fit(grocery_data)
    table = similarity_table(grocery_baskets, "lift")
    carts = [["whole milk", "yogurt"], ["citrus fruit", "margarine", "ready soups"], ["beef"]]
    ids = model.items_.ids  # type: ignore[union-attr]
    for cart in carts:
        expected = basket_scores(table, cart, how)
        row = model.suggest(ids.to_index(cart).tolist(), k=1000)
        got = {str(ids.to_external([s.item])[0]): s.score for s in row}
        assert got.keys() == set(expected) - set(cart)
        for item, value in got.items():
            assert value == pytest.approx(expected[item], rel=1e-9)


def test_time_decay_weights_each_basket_by_its_age() -> None:
    days = [0, 10, 20, 30, 40, 40]
    data = dated(TINY, days)
    model = make_model(
        "cooccurrence", measure="count", half_life_days=10.0, neighbours=None, min_count=0.01
    )
    model.fit(data)
    # Age counts from the newest basket (day 40): weights 1/16, 1/8, 1/4, 1/2, 1, 1.
    weights = [0.5 ** ((40 - d) / 10) for d in days]
    expected = similarity_table(TINY, "count", min_count=0.01, weights=weights)
    got = as_table(model)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-6)
    assert got["milk", "bread"] == pytest.approx(1 / 16 + 1 / 8)


def test_reason_quotes_share_and_lift_of_the_strongest_cart_item() -> None:
    model = make_model("cooccurrence", measure="confidence", neighbours=None)
    model.fit(ShopData.from_baskets(TINY))
    answer = model.recommend_for_basket(["butter"], k=1)
    # P(bread | butter) = 3/3 = 100%, lift 3 * 6 / (3 * 4) = 1.5.
    assert answer["item_id"].tolist() == ["bread"]
    assert answer["reason"].iloc[0] == "bought with 'butter' in 100% of its orders (lift 1.5)"


def test_bad_measure_and_aggregate_are_named() -> None:
    with pytest.raises(ValidationError, match=r"measure must be one of .*'lift'.*, got 'lfit'"):
        make_model("cooccurrence", measure="lfit")
    expected = r"aggregate must be one of \['sum', 'max'\], got 'avg'"
    with pytest.raises(ValidationError, match=expected):
        make_model("cooccurrence", aggregate="avg")


def test_min_count_applies_to_decayed_counts() -> None:
    """With decay, ``min_count`` compares the *weighted* count (milk+bread: 1/16 + 1/8 < 1)."""
    data = dated(TINY, [0, 10, 20, 30, 40, 40])
    model = make_model(
        "cooccurrence", measure="count", half_life_days=10.0, neighbours=None, min_count=1
    )
    got = as_table(model.fit(data))
    assert ("milk", "bread") not in got
    assert got["bread", "butter"] == pytest.approx(1 / 16 + 1 / 4 + 1)
    # The default keeps every pair seen at all.
    everything = as_table(
        make_model("cooccurrence", measure="count", half_life_days=10.0, neighbours=None).fit(data)
    )
    assert everything["milk", "bread"] == pytest.approx(1 / 16 + 1 / 8)
