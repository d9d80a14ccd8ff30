"""Content-based model: hand-computed cosine, catalog-only and live items, complement categories."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from tests.conftest import need_module
from xsell.data.shopdata import ShopData
from xsell.data.splits import time_split
from xsell.data.synthetic import SyntheticShop
from xsell.errors import ValidationError
from xsell.evaluation import basket_completion, evaluate_model
from xsell.models import as_dense, basket_rows, load_model, make_model
from xsell.models.content import ContentBased, category_lift, one_hot, price_bands

#: Four items; D is only in the catalog (never sold).
CATALOG = pd.DataFrame(
    {
        "item_id": ["A", "B", "C", "D"],
        "name": ["lunch bag red", "lunch bag blue", "garden hose", "red mug"],
        "category": ["Kitchen", "Kitchen", "Garden", "Kitchen"],
        "brand": ["X", "Y", "X", None],
        "price": [2.0, 2.1, 10.0, np.nan],
    }
)
BASKETS = [["A", "C"], ["B"], ["A", "B"]]


@pytest.fixture(scope="module")
def catalog_shop() -> ShopData:
    lines = pd.DataFrame(
        [(str(b), item) for b, items in enumerate(BASKETS) for item in items],
        columns=["basket_id", "item_id"],
    )
    return ShopData.from_frame(lines, catalog=CATALOG)


def _words_only() -> ContentBased:
    need_module("sklearn")
    return ContentBased(ngram_range=(1, 1), stop_words=None, price_weight=0.0)


@pytest.fixture(scope="module")
def small(catalog_shop: ShopData) -> ContentBased:
    return _words_only().fit(catalog_shop)


def hand_similarity() -> np.ndarray:
    """cos(i, j) = sum_b w_b cos_b(i, j) / sqrt(W_i W_j), TF-IDF with smooth idf by hand."""
    idf2 = math.log(5 / 3) + 1  # lunch, bag, red: in 2 of 4 names
    idf1 = math.log(5 / 2) + 1  # blue, garden, hose, mug: in 1 name
    norm_a = math.sqrt(3 * idf2**2)  # lunch bag red
    norm_b = math.sqrt(2 * idf2**2 + idf1**2)  # lunch bag blue
    norm_d = math.sqrt(idf2**2 + idf1**2)  # red mug
    text = np.eye(4)
    text[0, 1] = text[1, 0] = 2 * idf2**2 / (norm_a * norm_b)
    text[0, 3] = text[3, 0] = idf2**2 / (norm_a * norm_d)
    category = np.array([[1, 1, 0, 1], [1, 1, 0, 1], [0, 0, 1, 0], [1, 1, 0, 1]], float)
    brand = np.array([[1, 0, 1, 0], [0, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]], float)
    w_text, w_cat, w_brand = 1.0, 0.5, 0.25
    total = np.array([1.75, 1.75, 1.75, 1.5])  # D has no brand
    return (w_text * text + w_cat * category + w_brand * brand) / np.sqrt(np.outer(total, total))


def test_similarity_equals_hand_computation(small: ContentBased) -> None:
    got = small.similarity([0, 1, 2, 3], [0, 1, 2, 3])
    np.testing.assert_allclose(got, hand_similarity(), atol=1e-12)
    # idf2 = 1.51083, idf1 = 1.91629; text cos(A, B) = 4.56520 / (2.61683 * 2.87000)
    # = 0.60787; with the shared category: (0.60787 + 0.5) / 1.75 = 0.63307
    assert got[0, 1] == pytest.approx(0.63307, abs=1e-4)


def test_basket_score_is_the_mean_similarity(small: ContentBased) -> None:
    expected = hand_similarity()
    scores = as_dense(small.score(basket_rows([[0, 2]], 4)))[0]
    np.testing.assert_allclose(scores, (expected[0] + expected[2]) / 2, atol=1e-12)
    # B and D share nothing with C: a zero similarity is "no evidence".
    scores = as_dense(small.score(basket_rows([[2]], 4)))[0]
    assert np.isneginf(scores[[1, 3]]).all()
    assert scores[0] == pytest.approx(expected[0, 2])


def test_reason_names_what_is_shared(small: ContentBased) -> None:
    answer = small.recommend_for_basket(["A"], k=3)
    assert answer["item_id"].tolist() == ["B", "D", "C"]
    assert answer["reason"].tolist() == [
        "similar to 'lunch bag red' (same category Kitchen, shared words 'lunch bag')",
        "similar to 'lunch bag red' (same category Kitchen, shared words 'red')",
        "similar to 'lunch bag red' (same brand X)",
    ]
    assert (answer["source"] == "model").all()


def test_a_catalog_only_item_is_suggested(shop: SyntheticShop) -> None:
    need_module("sklearn")
    anchor = shop.catalog.iloc[5]
    extra = anchor.copy()
    extra["item_id"] = "NEW-ITEM"
    extra["name"] = f"{anchor['name']} deluxe"
    catalog = pd.concat([shop.catalog, extra.to_frame().T], ignore_index=True)
    data = ShopData.from_frame(shop.lines, catalog=catalog)
    assert data.item_basket_count[data.items.index_of("NEW-ITEM")] == 0
    answer = make_model("content").fit(data).recommend_for_basket([anchor["item_id"]], k=5)
    assert answer["item_id"][0] == "NEW-ITEM"
    assert answer["source"][0] == "model"
    assert answer["reason"][0].startswith(f"similar to '{anchor['name']}' (same category ")


def test_price_bands_by_quantiles() -> None:
    bands, edges = price_bands(np.array([1.0, 2.0, 3.0, 4.0, np.nan, 0.0]), 2)
    np.testing.assert_allclose(edges, [2.5])
    assert bands.tolist() == [0, 0, 1, 1, -1, -1]


def test_one_hot_leaves_missing_values_out() -> None:
    matrix, values = one_hot(["b", None, "a", "", "b", float("nan")])
    assert values.tolist() == ["a", "b"]
    assert matrix.toarray().tolist() == [[0, 1], [0, 0], [1, 0], [0, 0], [0, 1], [0, 0]]


def test_category_lift_against_counting(shop_data: ShopData) -> None:
    codes, names = pd.factorize(pd.Series(shop_data.item_categories()), sort=True)
    lift = category_lift(shop_data.basket_item, codes, len(names))
    per_basket = [{codes[i] for i in shop_data.basket_items(b)} for b in range(shop_data.n_baskets)]
    n = len(per_basket)
    for c in range(len(names)):
        nc = sum(c in s for s in per_basket)
        for d in range(len(names)):
            both = sum(c in s and d in s for s in per_basket)
            nd = sum(d in s for s in per_basket)
            assert lift[c, d] == pytest.approx(0.0 if c == d else n * both / (nc * nd))


def test_complement_categories_suggest_other_associated_categories(shop_data: ShopData) -> None:
    need_module("sklearn")
    model = make_model("content", complement_categories=True).fit(shop_data)
    assert isinstance(model, ContentBased)
    categories = shop_data.item_categories()
    names = list(model.category_names_)
    checked = 0
    for anchor in range(0, 60, 7):
        answer = model.recommend_for_basket([shop_data.items.ids[anchor]], k=5)
        mine = categories[anchor]
        picked = answer[answer["source"] == "model"]
        for category, reason in zip(picked["category"], picked["reason"], strict=True):
            assert category != mine
            assert model.category_lift_[names.index(mine), names.index(category)] > 1.0
            assert f"{category} is bought with {mine} (lift " in reason
            checked += 1
    assert checked >= 20


def test_complement_categories_need_categories() -> None:
    with pytest.raises(
        ValidationError,
        match="content: complement_categories=True needs items of at least two categories",
    ):
        ContentBased(complement_categories=True).fit(ShopData.from_baskets(BASKETS))


def test_a_known_customer_with_an_empty_basket_is_scored_from_history(
    shop_data: ShopData,
) -> None:
    need_module("sklearn")
    model = ContentBased().fit(shop_data)
    user = 3
    past = shop_data.user_item[user].indices
    scores = as_dense(model.score(basket_rows([[]], shop_data.n_items), np.array([user])))[0]
    expected = model.similarity(past, range(shop_data.n_items)).mean(axis=0)
    finite = np.isfinite(scores)
    np.testing.assert_allclose(scores[finite], expected[finite], atol=1e-12)
    assert (expected[~finite] <= 0).all()
    empty = as_dense(model.score(basket_rows([[]], shop_data.n_items), np.array([-1])))
    assert np.isneginf(empty).all()


def test_history_weight_mixes_past_purchases(shop_data: ShopData) -> None:
    need_module("sklearn")
    model = ContentBased(history_weight=0.5).fit(shop_data)
    user = 3
    bought = set(shop_data.user_item[user].indices.tolist())
    # One item the customer bought before (it counts once, as a cart item) and one new to them.
    cart = [min(bought), min(set(range(shop_data.n_items)) - bought)]
    past = sorted(bought - set(cart))
    sims = model.similarity(range(shop_data.n_items), range(shop_data.n_items))
    expected = (sims[cart].sum(axis=0) + 0.5 * sims[past].sum(axis=0)) / (2 + 0.5 * len(past))
    scores = as_dense(model.score(basket_rows([cart], shop_data.n_items), np.array([user])))[0]
    finite = np.isfinite(scores)
    np.testing.assert_allclose(scores[finite], expected[finite], atol=1e-12)


@pytest.mark.parametrize("params", [{}, {"complement_categories": True}, {"analyzer": "char_wb"}])
def test_batch_save_load_and_refit_change_nothing(
    params: dict[str, object], shop_data: ShopData, tmp_path: Path
) -> None:
    need_module("sklearn")
    model = make_model("content", **params).fit(shop_data)
    rows = basket_rows([[0, 1], [10], [20, 30, 40], []], shop_data.n_items)
    users = np.array([0, -1, 5, 3])
    scores = as_dense(model.score(rows, users))
    one_by_one = np.vstack([as_dense(model.score(rows[r], users[r : r + 1])) for r in range(4)])
    np.testing.assert_array_equal(one_by_one, scores)
    loaded = load_model(model.save(tmp_path / "bundle"))
    np.testing.assert_array_equal(as_dense(loaded.score(rows, users)), scores)
    again = make_model("content", **params).fit(shop_data)
    np.testing.assert_array_equal(as_dense(again.score(rows, users)), scores)


def test_wider_baskets_pad_minus_inf(small: ContentBased) -> None:
    wider = sp.csr_matrix(([1.0, 1.0], ([0, 0], [0, 5])), shape=(1, 7))
    scores = as_dense(small.score(wider))
    assert scores.shape == (1, 7) and np.isneginf(scores[0, 4:]).all()
    np.testing.assert_allclose(scores[0, :4], as_dense(small.score(basket_rows([[0]], 4)))[0])


def test_names_missing_everywhere_still_fit() -> None:
    need_module("sklearn")
    model = ContentBased().fit(ShopData.from_baskets(BASKETS))
    # No names, categories, brands or prices: nothing is similar, the fallback answers.
    assert (model.recommend_for_basket(["A"], k=2)["source"] == "fallback").all()


def test_an_item_added_live_is_suggested_by_its_name(catalog_shop: ShopData) -> None:
    model = _words_only().fit(catalog_shop)
    model.update([["NEW", "C"]], users=[None], names={"NEW": "lunch bag green"})
    answer = model.recommend_for_basket(["A"], k=4)
    row = answer[answer["item_id"] == "NEW"].iloc[0]
    assert row["source"] == "model"
    assert row["reason"] == "similar to 'lunch bag red' (shared words 'lunch bag')"
    # A new item has only a name vector over the fitted vocabulary ("green" is unknown):
    # the text cosine of {lunch, bag} with {lunch, bag, red} (equal idf) is 2 / sqrt(6), and
    # the weights are 1.75 (A) and 1 (NEW, text only).
    assert row["score"] == pytest.approx(2 / math.sqrt(6) / math.sqrt(1.75))


def test_a_customer_added_live_is_scored_from_their_live_history(catalog_shop: ShopData) -> None:
    model = _words_only().fit(catalog_shop)
    model.update([["A"]], users=["NEW-CUSTOMER"])
    answer = model.recommend_for_basket([], k=2, user="NEW-CUSTOMER")
    assert answer["item_id"].tolist() == ["A", "B"]
    assert answer["reason"][1].startswith("similar to 'lunch bag red', which you bought")


@pytest.mark.slow
def test_lunch_bags_go_with_lunch_bags_on_online_retail(retail_data: ShopData) -> None:
    need_module("sklearn")
    answer = make_model("content").fit(retail_data).recommend_for_basket(["20725"], k=5)
    assert answer["name"].str.contains("BAG").all()
    assert answer["name"].str.contains("LUNCH BAG").sum() >= 3
    assert (
        answer["reason"]
        .str.startswith("similar to 'LUNCH BAG RED RETROSPOT' (shared words '")
        .all()
    )


@pytest.mark.slow
def test_basket_completion_beats_popularity_twice_on_online_retail(
    retail_data: ShopData,
) -> None:
    need_module("sklearn")
    split = time_split(retail_data, "2011-10-01")
    queries = basket_completion(split, max_queries=2000, seed=0)
    content = evaluate_model(make_model("content"), split, queries, ks=(10,))
    popular = evaluate_model(make_model("popularity"), split, queries, ks=(10,))
    assert content.metrics["recall@10"] > 2 * popular.metrics["recall@10"]
