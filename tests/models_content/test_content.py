"""Content-based model: hand-computed cosine, new items, complement categories, contract basics."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from tests.conftest import need_module
from xsell.data.shopdata import ShopData
from xsell.data.synthetic import make_shop
from xsell.errors import NotFittedError, ValidationError
from xsell.models import make_model
from xsell.models.base import basket_rows
from xsell.models.content import ContentBased, category_lift, price_bands

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
def tiny() -> ShopData:
    lines = pd.DataFrame(
        [(str(b), item) for b, items in enumerate(BASKETS) for item in items],
        columns=["basket_id", "item_id"],
    )
    return ShopData.from_frame(lines, catalog=CATALOG)


@pytest.fixture(scope="module")
def tiny_model(tiny: ShopData) -> ContentBased:
    need_module("sklearn")
    model = ContentBased(ngram_range=(1, 1), stop_words=None, price_weight=0.0)
    return model.fit(tiny)


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


def test_similarity_equals_hand_computation(tiny_model: ContentBased) -> None:
    expected = hand_similarity()
    got = tiny_model.similarity([0, 1, 2, 3], [0, 1, 2, 3])
    np.testing.assert_allclose(got, expected, atol=1e-12)
    # by hand: idf2 = 1.51083, idf1 = 1.91629; text cos(A, B) = 4.56520 / (2.61683 * 2.87000)
    # = 0.60787; with the shared category: (0.60787 + 0.5) / 1.75 = 0.63307
    assert got[0, 1] == pytest.approx(0.63307, abs=1e-4)


def test_basket_score_is_mean_similarity(tiny_model: ContentBased) -> None:
    expected = hand_similarity()
    scores = tiny_model.score(basket_rows([[0, 2]], 4))[0]
    np.testing.assert_allclose(scores, (expected[0] + expected[2]) / 2, atol=1e-12)
    # B and D share nothing with C, but do with A; a zero similarity is "no evidence"
    scores = tiny_model.score(basket_rows([[2]], 4))[0]
    assert np.isneginf(scores[[1, 3]]).all()
    assert scores[0] == pytest.approx(expected[0, 2])


def test_reason_names_what_is_shared(tiny_model: ContentBased) -> None:
    answer = tiny_model.recommend_for_basket(["A"], k=3)
    assert answer["item_id"].tolist()[:2] == ["B", "D"]
    assert answer["reason"][0] == (
        "similar to 'lunch bag red' (same category Kitchen, shared words 'lunch bag')"
    )
    assert (
        answer["reason"][1]
        == "similar to 'lunch bag red' (same category Kitchen, shared words 'red')"
    )
    assert answer["source"][2] == "model" and answer["item_id"][2] == "C"
    assert answer["reason"][2] == "similar to 'lunch bag red' (same brand X)"


def test_catalog_only_item_is_suggested() -> None:
    need_module("sklearn")
    shop = make_shop(n_users=300, n_items=80, seed=3)
    anchor = shop.catalog.iloc[5]
    extra = anchor.copy()
    extra["item_id"] = "NEW-ITEM"
    extra["name"] = f"{anchor['name']} deluxe"
    catalog = pd.concat([shop.catalog, extra.to_frame().T], ignore_index=True)
    data = ShopData.from_frame(shop.lines, catalog=catalog)
    new = data.items.index_of("NEW-ITEM")
    assert data.item_basket_count[new] == 0
    answer = make_model("content").fit(data).recommend_for_basket([anchor["item_id"]], k=5)
    assert answer["item_id"][0] == "NEW-ITEM"
    assert answer["source"][0] == "model"
    assert answer["reason"][0].startswith(f"similar to '{anchor['name']}' (same category ")


def test_price_bands_by_quantiles() -> None:
    bands, edges = price_bands(np.array([1.0, 2.0, 3.0, 4.0, np.nan, 0.0]), 2)
    np.testing.assert_allclose(edges, [2.5])
    assert bands.tolist() == [0, 0, 1, 1, -1, -1]


def test_category_lift_against_counting() -> None:
    shop = make_shop(n_users=200, n_items=60, seed=2)
    data = shop.to_shopdata()
    codes, names = pd.factorize(pd.Series(data.item_categories()), sort=True)
    lift = category_lift(data.basket_item, codes, len(names))
    per_basket = [{names[codes[i]] for i in data.basket_items(b)} for b in range(data.n_baskets)]
    n = len(per_basket)
    for c in range(len(names)):
        for d in range(len(names)):
            both = sum(names[c] in s and names[d] in s for s in per_basket)
            nc = sum(names[c] in s for s in per_basket)
            nd = sum(names[d] in s for s in per_basket)
            expected = 0.0 if c == d else n * both / (nc * nd)
            assert lift[c, d] == pytest.approx(expected)


def test_complement_categories_suggest_other_associated_categories() -> None:
    need_module("sklearn")
    data = make_shop(seed=0).to_shopdata()
    model = make_model("content", complement_categories=True).fit(data)
    assert isinstance(model, ContentBased)
    categories = data.item_categories()
    names = list(model.category_names_)
    for anchor in range(0, 60, 7):
        answer = model.recommend_for_basket([data.items.ids[anchor]], k=5)
        mine = categories[anchor]
        picked = answer[answer["source"] == "model"]
        assert len(picked) > 0
        for category, reason in zip(picked["category"], picked["reason"], strict=True):
            assert category != mine
            assert model.category_lift_[names.index(mine), names.index(category)] > 1.0
            assert f"{category} is bought with {mine} (lift " in reason


def test_complement_categories_need_categories(tiny: ShopData) -> None:
    data = ShopData.from_baskets(BASKETS)
    with pytest.raises(ValidationError, match="complement_categories=True needs items of at least"):
        ContentBased(complement_categories=True).fit(data)


def test_known_customer_with_empty_basket_scored_from_history() -> None:
    need_module("sklearn")
    data = make_shop(n_users=100, n_items=50, seed=4).to_shopdata()
    model = ContentBased().fit(data)
    user = 3
    past = data.user_item[user].indices
    scores = model.score(basket_rows([[]], data.n_items), np.array([user]))[0]
    expected = model.similarity(past, range(data.n_items)).mean(axis=0)
    finite = np.isfinite(scores)
    np.testing.assert_allclose(scores[finite], expected[finite], atol=1e-12)
    assert (expected[~finite] <= 0).all()
    # an unknown customer with an empty basket has no evidence at all
    assert np.isneginf(model.score(basket_rows([[]], data.n_items), np.array([-1]))).all()


def test_history_weight_mixes_past_purchases() -> None:
    need_module("sklearn")
    data = make_shop(n_users=100, n_items=50, seed=4).to_shopdata()
    model = ContentBased(history_weight=0.5).fit(data)
    user = 3
    bought = set(data.user_item[user].indices.tolist())
    # one item the customer bought before (counts once, as a cart item) and one new to them
    cart = [min(bought), min(set(range(data.n_items)) - bought)]
    past = sorted(bought - set(cart))
    sims = model.similarity(range(data.n_items), range(data.n_items))
    expected = (sims[cart].sum(axis=0) + 0.5 * sims[past].sum(axis=0)) / (2 + 0.5 * len(past))
    scores = model.score(basket_rows([cart], data.n_items), np.array([user]))[0]
    finite = np.isfinite(scores)
    np.testing.assert_allclose(scores[finite], expected[finite], atol=1e-12)


@pytest.mark.parametrize("params", [{}, {"complement_categories": True}, {"analyzer": "char_wb"}])
def test_batch_pickle_refit_change_nothing(params: dict[str, object]) -> None:
    need_module("sklearn")
    data = make_shop(n_users=150, n_items=60, seed=5).to_shopdata()
    model = make_model("content", **params).fit(data)
    contexts = [[0, 1], [10], [20, 30, 40], []]
    users = np.array([0, -1, 5, 3])
    rows = basket_rows(contexts, data.n_items)
    scores = model.score(rows, users)
    one_by_one = np.vstack([model.score(rows[r], users[r : r + 1]) for r in range(len(contexts))])
    np.testing.assert_array_equal(one_by_one, scores)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).score(rows, users), scores)
    again = make_model("content", **params).fit(data)
    np.testing.assert_array_equal(again.score(rows, users), scores)


def test_wider_baskets_pad_minus_inf(tiny_model: ContentBased) -> None:
    wider = sp.csr_matrix(([1.0, 1.0], ([0, 0], [0, 5])), shape=(1, 7))
    scores = tiny_model.score(wider)
    assert scores.shape[1] >= 4
    assert np.isneginf(scores[0, 4:]).all()
    np.testing.assert_allclose(scores[0, :4], tiny_model.score(basket_rows([[0]], 4))[0])


def test_unfitted_and_bad_parameters(tiny: ShopData) -> None:
    with pytest.raises(NotFittedError, match="'content' is not fitted"):
        ContentBased().score(basket_rows([[0]], 4))
    with pytest.raises(
        ValidationError, match=r"analyzer must be one of \['word', 'char_wb'\], got 'char'"
    ):
        ContentBased(analyzer="char")
    with pytest.raises(ValidationError, match=r"ngram_range must be two integers .* got \(2, 1\)"):
        make_model("content", ngram_range=(2, 1))
    with pytest.raises(ValidationError, match="price_weight must be a number >= 0, got -1"):
        ContentBased(price_weight=-1)
    with pytest.raises(ValidationError, match="at least one of the feature weights must be > 0"):
        ContentBased(text_weight=0, category_weight=0, brand_weight=0, price_weight=0)
    with pytest.raises(ValidationError, match="n_price_bands must be an integer >= 1, got 0"):
        ContentBased(n_price_bands=0)


def test_names_missing_everywhere_still_fit() -> None:
    need_module("sklearn")
    data = ShopData.from_baskets(BASKETS)
    model = ContentBased().fit(data)
    # no names, categories, brands or prices: nothing is similar, the fallback answers
    answer = model.recommend_for_basket(["A"], k=2)
    assert (answer["source"] == "fallback").all()


def test_item_added_live_is_suggested_by_its_name(tiny: ShopData) -> None:
    need_module("sklearn")
    model = ContentBased(ngram_range=(1, 1), stop_words=None, price_weight=0.0).fit(tiny)
    model.update([["NEW", "C"]], users=[None], names={"NEW": "lunch bag green"})
    answer = model.recommend_for_basket(["A"], k=4)
    row = answer[answer["item_id"] == "NEW"].iloc[0]
    assert row["source"] == "model"
    assert row["reason"] == "similar to 'lunch bag red' (shared words 'lunch bag')"
    # A new item has only a name vector, over the fitted vocabulary ("green" is unknown):
    # text cosine of {lunch, bag} with {lunch, bag, red} (equal idf) is 2 / sqrt(6), and the
    # weights are 1.75 (A) and 1 (NEW, text only).
    assert row["score"] == pytest.approx(2 / math.sqrt(6) / math.sqrt(1.75))


def test_customer_added_live_is_scored_from_live_history(tiny: ShopData) -> None:
    need_module("sklearn")
    model = ContentBased(ngram_range=(1, 1), stop_words=None, price_weight=0.0).fit(tiny)
    model.update([["A"]], users=["NEW-CUSTOMER"])
    answer = model.recommend_for_basket([], k=2, user="NEW-CUSTOMER")
    assert answer["item_id"].tolist() == ["A", "B"]
    assert answer["reason"][1].startswith("similar to 'lunch bag red', which you bought")
