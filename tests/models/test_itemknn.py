"""Item-kNN against dense brute force and against ``implicit``'s cosine recommender."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tests.conftest import need_module
from tests.models.oracles import dense_cosine, textbook_weights
from xsell.data.shopdata import ShopData
from xsell.models import as_dense, basket_rows, make_model
from xsell.models.itemknn import ItemKNN


def fit(data: ShopData, **params: object) -> ItemKNN:
    model = make_model("itemknn", **{"neighbours": None, **params})
    assert isinstance(model, ItemKNN)
    return model.fit(data)


def similarity(model: ItemKNN) -> np.ndarray:
    assert model.similarity_ is not None
    return np.asarray(model.similarity_.toarray())


@pytest.mark.parametrize("weighting", ["none", "bm25", "tfidf"])
def test_similarity_equals_dense_brute_force(weighting: str, grocery_data: ShopData) -> None:
    need_module("implicit")
    model = fit(grocery_data, weighting=weighting)
    # Items are the documents, the baskets holding them their terms.
    items = grocery_data.basket_item.toarray().T
    expected = dense_cosine(textbook_weights(items, weighting, k1=100.0, b=0.8))
    np.testing.assert_allclose(similarity(model), expected, rtol=1e-6, atol=1e-9)


def test_customer_vectors_equal_dense_brute_force(shop_data: ShopData) -> None:
    need_module("implicit")
    model = fit(shop_data, weighting="bm25", source="customers", k1=20.0, b=0.5)
    items = shop_data.user_item.toarray().T
    expected = dense_cosine(textbook_weights(items, "bm25", k1=20.0, b=0.5))
    np.testing.assert_allclose(similarity(model), expected, rtol=1e-6, atol=1e-9)


def test_plain_cosine_equals_implicit_cosine_recommender(grocery_data: ShopData) -> None:
    nearest = need_module("implicit.nearest_neighbours")
    model = fit(grocery_data, weighting="none")
    peer = nearest.CosineRecommender(K=grocery_data.n_items + 1)
    peer.fit(sp.csr_matrix(grocery_data.basket_item, dtype=np.float64), show_progress=False)
    theirs = np.asarray(peer.similarity.toarray())
    np.fill_diagonal(theirs, 0.0)
    np.testing.assert_allclose(similarity(model), theirs, rtol=1e-6, atol=1e-9)


def test_keeps_each_items_best_neighbours_and_sums_their_rows(grocery_data: ShopData) -> None:
    need_module("implicit")
    k = 7
    model = fit(grocery_data, weighting="bm25", neighbours=k)
    full = dense_cosine(textbook_weights(grocery_data.basket_item.toarray().T, "bm25", 100, 0.8))
    kept = similarity(model)
    for row in range(full.shape[0]):
        values = np.sort(full[row][full[row] > 0])[::-1]
        np.testing.assert_allclose(np.sort(kept[row][kept[row] > 0])[::-1], values[:k], rtol=1e-6)
    cart = grocery_data.items.to_index(["whole milk", "rolls/buns", "soda"]).tolist()
    scores = as_dense(model.score(basket_rows([cart], grocery_data.n_items)))[0]
    reachable = (kept[cart] > 0).any(axis=0)
    assert (np.isfinite(scores) == reachable).all()
    np.testing.assert_allclose(scores[reachable], kept[cart].sum(axis=0)[reachable], rtol=1e-6)


def test_reason_names_the_most_similar_cart_item(tiny: ShopData) -> None:
    # Item vectors over baskets: b = (1, 1, 0, 1), c = (1, 0, 1, 1), d = (0, 0, 0, 1);
    # cos(b, d) = cos(c, d) = 1 / sqrt(3) = 0.58 and b is the lower index.
    answer = fit(tiny, weighting="none").complements("d", k=2)
    assert answer["item_id"].tolist() == ["b", "c"]
    assert answer["score"].to_numpy() == pytest.approx([1 / np.sqrt(3)] * 2)
    assert answer["reason"].tolist() == ["bought by the same baskets as 'd' (cosine 0.58)"] * 2
    by_customers = fit(tiny, weighting="none", source="customers")
    # Without customers there are no customer vectors: no evidence, best sellers fill in.
    assert (by_customers.complements("d", k=2)["source"] == "fallback").all()
