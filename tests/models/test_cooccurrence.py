"""Co-occurrence against hand computations, a brute-force oracle over real baskets, a refit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from tests.models.oracles import basket_scores, similarity_table
from tests.shops import TINY, dated
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.models import as_dense, basket_rows, make_model
from xsell.models.cooccurrence import (
    MEASURES,
    Cooccurrence,
    default_min_count,
    similarity_from_counts,
)


def fit(data: ShopData, **params: object) -> Cooccurrence:
    model = make_model("cooccurrence", **{"neighbours": None, **params})
    assert isinstance(model, Cooccurrence)
    return model.fit(data)


def as_table(model: Cooccurrence) -> dict[tuple[str, str], float]:
    """The model's kept similarities keyed by external ids."""
    assert model.similarity_ is not None
    coo = model.similarity_.tocoo()
    ids = model.require_fitted().ids.ids
    return {(ids[r], ids[c]): float(v) for r, c, v in zip(coo.row, coo.col, coo.data, strict=True)}


def scores_of(model: Cooccurrence, data: ShopData, cart: list[str]) -> dict[str, float]:
    row = as_dense(model.score(basket_rows([data.items.to_index(cart).tolist()], data.n_items)))
    return dict(zip(data.items.ids, row[0].tolist(), strict=True))


# TINY by hand: N = 4; a, b, c in 3 baskets each, d in 1; ab 2, bd 1 together.
HAND = {
    ("count", "a", "b"): 2.0,
    ("count", "b", "d"): 1.0,
    ("confidence", "a", "b"): 2 / 3,
    ("confidence", "b", "d"): 1 / 3,
    ("confidence", "d", "b"): 1.0,
    ("lift", "a", "b"): 2 * 4 / (3 * 3),
    ("lift", "b", "d"): 1 * 4 / (3 * 1),
    ("jaccard", "a", "b"): 2 / (3 + 3 - 2),
    ("jaccard", "b", "d"): 1 / (3 + 1 - 1),
    ("cosine", "a", "b"): 2 / math.sqrt(3 * 3),
    ("cosine", "b", "d"): 1 / math.sqrt(3 * 1),
    ("inclusion", "a", "b"): 2 / 3,
    ("inclusion", "b", "d"): 1 / 1,
}


@pytest.mark.parametrize(("measure", "a", "b"), list(HAND))
def test_measures_equal_hand_computation(tiny: ShopData, measure: str, a: str, b: str) -> None:
    table = as_table(fit(tiny, measure=measure))
    assert table[a, b] == pytest.approx(HAND[measure, a, b], rel=1e-12)
    # a and d never share a basket: no evidence, no entry; no item is its own partner.
    assert ("a", "d") not in table and ("d", "a") not in table
    assert not any(x == y for x, y in table)


@pytest.mark.parametrize("measure", list(MEASURES))
@pytest.mark.parametrize(("min_count", "neighbours"), [(1, None), (3, None), (1, 5), (2, 12)])
def test_similarity_equals_brute_force_on_real_baskets(
    measure: str,
    min_count: int,
    neighbours: int | None,
    grocery_baskets: list[list[str]],
    grocery_data: ShopData,
) -> None:
    model = fit(grocery_data, measure=measure, min_count=min_count, neighbours=neighbours)
    expected = similarity_table(
        grocery_baskets, measure, min_count, neighbours, item_order=list(grocery_data.items.ids)
    )
    got = as_table(model)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-9)
    if neighbours is not None:
        assert model.similarity_ is not None
        assert np.diff(model.similarity_.indptr).max() <= neighbours


@pytest.mark.parametrize("how", ["sum", "max"])
def test_cart_scores_add_or_take_the_max_of_the_rows(
    how: str, grocery_baskets: list[list[str]], grocery_data: ShopData
) -> None:
    model = fit(grocery_data, measure="lift", aggregate=how, min_count=0)
    table = similarity_table(grocery_baskets, "lift")
    for cart in (["whole milk", "yogurt"], ["citrus fruit", "margarine", "ready soups"], ["beef"]):
        expected = basket_scores(table, cart, how)
        got = {i: v for i, v in scores_of(model, grocery_data, cart).items() if np.isfinite(v)}
        assert got.keys() == expected.keys()
        for item, value in got.items():
            assert value == pytest.approx(expected[item], rel=1e-9)


def test_min_count_and_neighbours_prune_by_hand(tiny: ShopData) -> None:
    assert set(as_table(fit(tiny, measure="count", min_count=2))) == {
        ("a", "b"),
        ("b", "a"),
        ("a", "c"),
        ("c", "a"),
        ("b", "c"),
        ("c", "b"),
    }
    # b's partners: a 2/3, c 2/3, d 1/3; one neighbour keeps a (ties go to the lower index).
    top1 = as_table(fit(tiny, measure="confidence", neighbours=1))
    assert [pair for pair in top1 if pair[0] == "b"] == [("b", "a")]


def test_sum_and_max_of_a_cart_by_hand(tiny: ShopData) -> None:
    summed = scores_of(fit(tiny, measure="confidence"), tiny, ["a", "b"])
    biggest = scores_of(fit(tiny, measure="confidence", aggregate="max"), tiny, ["a", "b"])
    assert summed["c"] == pytest.approx(2 / 3 + 2 / 3) and biggest["c"] == pytest.approx(2 / 3)
    assert summed["d"] == pytest.approx(1 / 3) and biggest["d"] == pytest.approx(1 / 3)
    alone = scores_of(fit(tiny, measure="lift"), tiny, ["d"])
    assert alone["a"] == -np.inf
    assert alone["b"] == pytest.approx(4 / 3) and alone["c"] == pytest.approx(4 / 3)


def test_one_cart_scores_equal_its_row_of_a_batch_bit_for_bit(shop_data: ShopData) -> None:
    model = fit(shop_data, measure="lift")
    rows = basket_rows([shop_data.basket_items(b).tolist() for b in range(40)], shop_data.n_items)
    batch = as_dense(model.score(rows))
    for r in range(rows.shape[0]):
        np.testing.assert_array_equal(as_dense(model.score(rows[r])), batch[r : r + 1])


def test_time_decay_weights_each_basket_by_its_age() -> None:
    days = [0, 10, 20, 20]
    data = dated(TINY, days)
    model = fit(data, measure="count", half_life_days=10.0, min_count=0.01)
    # Age counts from the newest basket (day 20): weights 1/4, 1/2, 1, 1.
    weights = [0.5 ** ((20 - d) / 10) for d in days]
    expected = similarity_table(TINY, "count", min_count=0.01, weights=weights)
    got = as_table(model)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-6)
    assert got["a", "b"] == pytest.approx(1 / 4 + 1 / 2)
    assert model.n_baskets_ == pytest.approx(2.75)


def test_the_default_floor_is_a_thousandth_of_the_baskets_from_1_to_20(
    grocery_baskets: list[list[str]], grocery_data: ShopData
) -> None:
    assert [default_min_count(n) for n in (0, 4, 1000, 1001, 1500, 19_650, 10**7)] == [
        1, 1, 1, 2, 2, 20, 20,
    ]  # fmt: skip
    # 1,500 grocery baskets: pairs seen once are chance; the default drops exactly them.
    assert len(grocery_baskets) == 1500
    default = fit(grocery_data, measure="lift")
    assert default.floor_ == 2 and default.params()["min_count"] is None
    expected = similarity_table(grocery_baskets, "lift", 2, None)
    assert as_table(default) == pytest.approx(expected, rel=1e-9)
    assert len(as_table(fit(grocery_data, measure="lift", min_count=0))) > len(expected)


def test_min_count_applies_to_decayed_counts() -> None:
    data = dated(TINY, [0, 10, 20, 20])
    got = as_table(fit(data, measure="count", half_life_days=10.0, min_count=1))
    # ab: 1/4 + 1/2 < 1 is dropped; bc: 1/4 + 1 and bd: 1 stay.
    assert ("a", "b") not in got
    assert got["b", "c"] == pytest.approx(1.25) and got["b", "d"] == pytest.approx(1.0)
    everything = as_table(fit(data, measure="count", half_life_days=10.0, min_count=0))
    assert everything["a", "b"] == pytest.approx(0.75)


def test_reasons_quote_share_and_lift_of_the_strongest_cart_item(tiny: ShopData) -> None:
    answer = fit(tiny, measure="confidence").recommend_for_basket(["d"], k=1)
    # P(b | d) = 1/1 = 100% (c ties, b is the lower index); lift 1 * 4 / (1 * 3) = 1.3.
    assert answer["item_id"].tolist() == ["b"]
    assert answer["reason"].iloc[0] == "bought with 'd' in 100% of its orders (lift 1.3)"
    answer = fit(tiny, measure="lift").complements("a", k=2)
    assert answer["item_id"].tolist() == ["b", "c"]
    assert answer["reason"].tolist() == ["bought with 'a' in 67% of its orders (lift 0.9)"] * 2


@pytest.mark.parametrize("measure", list(MEASURES))
@pytest.mark.parametrize("neighbours", [None, 8])
def test_updated_rows_equal_a_refit_on_all_orders(
    measure: str, neighbours: int | None, grocery_baskets: list[list[str]]
) -> None:
    old, new = grocery_baskets[:1200], grocery_baskets[1200:1300]
    new = [*new, ["brand new gadget", "whole milk"], ["brand new gadget", "yogurt", "whole milk"]]
    live = fit(ShopData.from_baskets(old), measure=measure, neighbours=neighbours)
    live.update(new, [None] * len(new))
    refit = fit(ShopData.from_baskets(old + new), measure=measure, neighbours=neighbours)
    touched = {item for basket in new for item in basket}
    got, want = as_table(live), as_table(refit)
    got_rows = {key: v for key, v in got.items() if key[0] in touched}
    want_rows = {key: v for key, v in want.items() if key[0] in touched}
    if neighbours is None:
        assert got_rows.keys() == want_rows.keys()
    else:
        # Ties at the pruning border may break differently: indices differ after the update.
        for item in touched:
            mine = sorted((v for k, v in got_rows.items() if k[0] == item), reverse=True)
            theirs = sorted((v for k, v in want_rows.items() if k[0] == item), reverse=True)
            assert mine == pytest.approx(theirs, rel=1e-9)
        got_rows = {k: v for k, v in got_rows.items() if k in want_rows}
    for key, value in got_rows.items():
        assert value == pytest.approx(want_rows[key], rel=1e-9)
    # Counts are exact everywhere; so is every row of the measures that read only their row.
    assert live.counts_ is not None and refit.counts_ is not None
    order = live.require_fitted().ids.to_index(refit.require_fitted().ids.ids)
    np.testing.assert_allclose(live.counts_[order][:, order].toarray(), refit.counts_.toarray())
    if measure in ("count", "confidence") and neighbours is None:
        assert got.keys() == want.keys()
        for key, value in want.items():
            assert got[key] == pytest.approx(value, rel=1e-9)


def test_a_new_order_changes_answers_at_once(grocery_baskets: list[list[str]]) -> None:
    model = fit(ShopData.from_baskets(grocery_baskets[:500]), measure="confidence", neighbours=200)
    before = model.complements("whole milk", k=5)["item_id"].tolist()
    assert "gift card" not in before
    model.update(
        [["whole milk", "gift card"]] * 400, ["c1"] * 400, names={"gift card": "Gift card"}
    )
    after = model.complements("whole milk", k=5)
    assert after["item_id"].iloc[0] == "gift card"
    assert after["name"].iloc[0] == "Gift card"
    assert after["source"].iloc[0] == "model"
    partner = model.complements("gift card", k=1)
    assert partner["item_id"].tolist() == ["whole milk"]
    assert partner["reason"].iloc[0].startswith("bought with 'Gift card' in 100% of its orders")


def test_similarity_from_counts_refuses_an_unknown_measure() -> None:
    counts = sp.csr_matrix(np.array([[2.0, 1.0], [1.0, 1.0]]))
    with pytest.raises(ValidationError, match=r"measure must be one of \[.*\], got 'lyft'"):
        similarity_from_counts(counts, 2, "lyft")
    lift = similarity_from_counts(counts, 2, "lift").toarray()
    np.testing.assert_allclose(lift, [[0.0, 1 * 2 / (2 * 1)], [1.0, 0.0]])


HEART = "85123A"  # WHITE HANGING HEART T-LIGHT HOLDER, the best seller


@pytest.mark.slow
def test_online_retail_complements_match_a_pandas_self_join(retail_data: ShopData) -> None:
    data = retail_data
    answer = fit(data, measure="confidence").complements(HEART, k=10)
    pairs = data.lines[["basket", "item"]].drop_duplicates()
    heart = int(data.items.to_index([HEART])[0])
    with_heart = pairs.loc[pairs["item"] == heart, "basket"]
    together = pairs[pairs["basket"].isin(with_heart) & (pairs["item"] != heart)]
    share = (together.groupby("item").size() / len(with_heart)).rename("share").reset_index()
    # Documented order: higher score first, ties to the lower item index.
    expected = share.sort_values(["share", "item"], ascending=[False, True]).head(10)
    assert answer["item_id"].tolist() == data.items.to_external(expected["item"]).tolist()
    assert answer["score"].to_numpy() == pytest.approx(expected["share"].to_numpy())
    first = f"{expected['share'].iloc[0]:.0%}"
    assert (
        answer["reason"]
        .iloc[0]
        .startswith(
            f"bought with 'WHITE HANGING HEART T-LIGHT HOLDER' in {first} of its orders (lift "
        )
    )
