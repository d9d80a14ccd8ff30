"""Item-kNN and user-kNN checked against dense brute force and against ``implicit`` as a peer."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tests.conftest import need_module
from xsell.data.shopdata import ShopData
from xsell.data.synthetic import make_shop
from xsell.models import make_model


def dense_similarity(model: object) -> np.ndarray:
    similarity = model.similarity_  # type: ignore[attr-defined]
    return np.asarray(similarity.toarray())


def textbook_weights(baskets_items: np.ndarray, weighting: str, k1: float, b: float) -> np.ndarray:
    """Items (rows, the documents) x baskets (the terms), weighted as BM25 or TF-IDF."""
    docs = baskets_items.T.astype(np.float64)
    if weighting == "none":
        return docs
    n_docs = docs.shape[0]
    idf = np.log(n_docs) - np.log1p((docs > 0).sum(axis=0))
    if weighting == "tfidf":
        return np.sqrt(docs) * idf[None, :]
    length = docs.sum(axis=1)
    norm = (1.0 - b) + b * length / length.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        weighted = docs * (k1 + 1.0) / (k1 * norm[:, None] + docs) * idf[None, :]
    return np.where(docs > 0, weighted, 0.0)


def dense_cosine(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1)
    unit = vectors / np.where(norms > 0, norms, 1.0)[:, None]
    out = unit @ unit.T
    np.fill_diagonal(out, 0.0)
    return out


@pytest.mark.parametrize("weighting", ["none", "bm25", "tfidf"])
def test_itemknn_similarity_equals_dense_brute_force(
    weighting: str, grocery_data: ShopData
) -> None:
    need_module("implicit")
    model = make_model("itemknn", weighting=weighting, neighbours=None).fit(grocery_data)
    expected = dense_cosine(
        textbook_weights(grocery_data.basket_item.toarray(), weighting, k1=100.0, b=0.8)
    )
    np.testing.assert_allclose(dense_similarity(model), expected, rtol=1e-6, atol=1e-9)


def test_itemknn_plain_cosine_equals_implicit_cosine_recommender(grocery_data: ShopData) -> None:
    nearest = need_module("implicit.nearest_neighbours")
    model = make_model("itemknn", weighting="none", neighbours=None).fit(grocery_data)
    peer = nearest.CosineRecommender(K=grocery_data.n_items + 1)
    peer.fit(sp.csr_matrix(grocery_data.basket_item, dtype=np.float64), show_progress=False)
    theirs = np.asarray(peer.similarity.toarray())
    np.fill_diagonal(theirs, 0.0)
    np.testing.assert_allclose(dense_similarity(model), theirs, rtol=1e-6, atol=1e-9)


def test_itemknn_keeps_each_items_best_neighbours_and_sums_rows(grocery_data: ShopData) -> None:
    need_module("implicit")
    k = 7
    model = make_model("itemknn", weighting="bm25", neighbours=k).fit(grocery_data)
    full = dense_cosine(textbook_weights(grocery_data.basket_item.toarray(), "bm25", 100.0, 0.8))
    kept = dense_similarity(model)
    for row in range(full.shape[0]):
        values = np.sort(full[row][full[row] > 0])[::-1]
        np.testing.assert_allclose(np.sort(kept[row][kept[row] > 0])[::-1], values[:k], rtol=1e-6)
    cart = grocery_data.items.to_index(["whole milk", "rolls/buns", "soda"]).tolist()
    got = {s.item: s.score for s in model.suggest(cart, k=1000)}
    expected = kept[cart].sum(axis=0)
    reachable = (kept[cart] > 0).any(axis=0)
    reachable[cart] = False
    assert set(got) == set(np.flatnonzero(reachable).tolist())
    for item, value in got.items():
        assert value == pytest.approx(expected[item], rel=1e-6)


def test_userknn_scores_equal_dense_brute_force() -> None:
    shop = make_shop(n_users=120, n_items=40, n_pairs=4, n_triples=1, seed=11)
    data = shop.to_shopdata()
    k = 15
    model = make_model("userknn", neighbours=k, idf=True).fit(data)
    bought = (data.user_item.toarray() > 0).astype(np.float64)
    idf = np.log1p(data.n_users / np.maximum(bought.sum(axis=0), 1.0))
    profiles = bought * idf
    profiles /= np.where(np.linalg.norm(profiles, axis=1) > 0, np.linalg.norm(profiles, axis=1), 1)[
        :, None
    ]
    checked = 0
    for user in range(data.n_users):
        cart = np.zeros(data.n_items)
        cart[[0, 1]] = 1.0
        query = np.maximum(cart, bought[user]) * idf
        sims = profiles @ (query / np.linalg.norm(query))
        sims[user] = 0.0
        order = np.sort(sims)[::-1]
        if order[k - 1] == order[k]:
            continue  # a tie at the border: either neighbour is right
        who = np.flatnonzero(sims >= order[k - 1])
        who = who[sims[who] > 0]
        votes = sims[who] @ bought[who]
        rows = sp.csr_matrix(cart[None, :])
        got = model.score(rows, np.array([user]))[0]
        expected = np.where(votes > 0, votes, -np.inf)
        np.testing.assert_allclose(got, expected, rtol=1e-6)
        checked += 1
    assert checked > data.n_users // 2
