"""BM25 and TF-IDF weighting: implicit's own functions, and ``Bm25`` for rows seen later."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import scipy.sparse as sp

from tests.conftest import need_module
from tests.models.oracles import als_fold_in, textbook_weights
from xsell.data.shopdata import ShopData
from xsell.errors import MissingExtraError
from xsell.models import as_dense, basket_rows, make_model
from xsell.models.factorization import ALS
from xsell.models.itemknn import ItemKNN, cosine_neighbours
from xsell.models.weighting import Bm25, weighted


def _counts(seed: int) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((30, 12)) < 0.3, rng.integers(1, 4, (30, 12)), 0)
    return sp.csr_matrix(dense.astype(np.float64))


@pytest.mark.parametrize(("k1", "b"), [(100.0, 0.8), (1.2, 0.75), (50.0, 0.0)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bm25_weigh_of_the_training_rows_equals_implicit(k1: float, b: float, seed: int) -> None:
    nearest = need_module("implicit.nearest_neighbours")
    matrix = _counts(seed)
    theirs = nearest.bm25_weight(matrix, K1=k1, B=b).toarray()
    ours = Bm25.of(matrix, k1, b).weigh(matrix).toarray()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(weighted(matrix, "bm25", k1, b).toarray(), theirs, rtol=1e-12)
    # ... and both are the textbook formula.
    np.testing.assert_allclose(ours, textbook_weights(matrix.toarray(), "bm25", k1, b), rtol=1e-9)


def test_new_rows_are_weighed_with_the_training_statistics(shop_data: ShopData) -> None:
    need_module("implicit")
    train = shop_data.basket_item
    stats = Bm25.of(train, 100.0, 0.8)
    # A new row holding the same entries as a training row gets that row's weights.
    rows = sp.csr_matrix(train[[3, 17, 40]])
    np.testing.assert_allclose(
        stats.weigh(rows).toarray(), weighted(train, "bm25")[[3, 17, 40]].toarray(), rtol=1e-6
    )


def test_tfidf_and_none_equal_implicit_and_the_textbook() -> None:
    nearest = need_module("implicit.nearest_neighbours")
    matrix = _counts(4)
    np.testing.assert_allclose(
        weighted(matrix, "tfidf").toarray(), nearest.tfidf_weight(matrix).toarray(), rtol=1e-12
    )
    np.testing.assert_allclose(
        weighted(matrix, "tfidf").toarray(), textbook_weights(matrix.toarray(), "tfidf", 0, 0)
    )
    np.testing.assert_array_equal(weighted(matrix, "none").toarray(), matrix.toarray())


def test_missing_implicit_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "implicit", None)
    with pytest.raises(MissingExtraError, match=r"needs the Python package 'implicit'.*models"):
        weighted(_counts(0), "bm25")


def test_itemknn_weighs_item_vectors_with_implicit_bm25(shop_data: ShopData) -> None:
    nearest = need_module("implicit.nearest_neighbours")
    model = make_model("itemknn", weighting="bm25", k1=30.0, b=0.6, neighbours=None)
    assert isinstance(model, ItemKNN)
    model.fit(shop_data)
    vectors = nearest.bm25_weight(sp.csr_matrix(shop_data.basket_item.T, dtype=np.float64), 30, 0.6)
    assert model.similarity_ is not None
    np.testing.assert_allclose(
        model.similarity_.toarray(), cosine_neighbours(vectors, None).toarray(), rtol=1e-9
    )


def test_als_folds_carts_in_with_the_training_bm25_weights(shop_data: ShopData) -> None:
    need_module("implicit")
    model = ALS(factors=16, iterations=5, weighting="bm25", bm25_k1=40.0, bm25_b=0.7)
    model.fit(shop_data)
    carts = [[0, 5, 17], [3], list(range(40, 52))]
    rows = basket_rows(carts, shop_data.n_items)
    stats = Bm25.of(shop_data.basket_item, 40.0, 0.7)
    weights = stats.weigh(rows).toarray()
    folded = model.fold_in(rows)
    for r in range(len(carts)):
        np.testing.assert_allclose(
            folded[r],
            als_fold_in(model.item_factors_, model.alpha, model.regularization, weights[r]),
            atol=1e-4,
        )
    scores = as_dense(model.score(rows))
    np.testing.assert_allclose(scores, folded @ model.item_factors_.T, rtol=1e-5, atol=1e-5)
