"""Review tests of ALS/BPR (factorization.py, written by the first models-B engineer).

Independent oracles: implicit's own BM25 weighting, a NumPy solve of the ALS
fold-in, live updates through the base class, and real Online Retail baskets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from tests.conftest import need_module, shared_file
from xsell.data.ingest import ingest_lines
from xsell.data.shopdata import ShopData
from xsell.data.split import time_split
from xsell.data.store import Store
from xsell.data.synthetic import make_shop
from xsell.evaluation.protocols import basket_completion
from xsell.evaluation.runner import evaluate_model
from xsell.models import make_model
from xsell.models.base import basket_rows
from xsell.models.factorization import ALS


@pytest.fixture(scope="module")
def small() -> ShopData:
    return make_shop(n_users=300, n_items=80, seed=7).to_shopdata()


def test_bm25_equals_implicit_bm25_weight(small: ShopData) -> None:
    nn = need_module("implicit.nearest_neighbours")
    model = ALS(weighting="bm25", factors=8, iterations=2, bm25_k1=50.0, bm25_b=0.6).fit(small)
    ours = model._weigh(small.basket_item.astype(np.float32).tocsr()).toarray()
    theirs = nn.bm25_weight(small.basket_item.astype(np.float64), K1=50.0, B=0.6).toarray()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_cart_score_is_numpy_fold_in(small: ShopData) -> None:
    need_module("implicit")
    model = ALS(factors=12, iterations=4, alpha=5.0, regularization=0.1).fit(small)
    cart = [3, 11, 40]
    y = model.item_factors_.astype(np.float64)
    c = np.full(len(cart), 5.0)  # alpha * 1 for each cart item
    a = y.T @ y + 0.1 * np.eye(12) + (y[cart].T * (c - 1.0)) @ y[cart]
    x = np.linalg.solve(a, y[cart].T @ c)
    scores = model.score(basket_rows([cart], small.n_items))[0]
    trained = np.isfinite(scores)
    np.testing.assert_allclose(scores[trained], (y @ x)[trained], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["als", "bpr"])
def test_live_update_keeps_old_scores_and_serves_new_ids(name: str, small: ShopData) -> None:
    need_module("implicit")
    model = make_model(name, factors=8, iterations=3).fit(small)
    before = model.score(basket_rows([[1, 2]], small.n_items))
    model.update([["NEW-1", small.items.ids[1]]], users=["NEW-CUSTOMER"], names={"NEW-1": "x"})
    after = model.score(basket_rows([[1, 2]], model.n_items))
    assert after.shape == (1, small.n_items + 1)
    np.testing.assert_array_equal(after[:, : small.n_items], before)
    assert np.isneginf(after[0, -1])  # no factors for an item added live
    answer = model.recommend(["NEW-CUSTOMER"], k=3)
    assert len(answer) == 3


@pytest.mark.slow
def test_als_beats_popularity_on_online_retail(tmp_path: Path) -> None:
    need_module("implicit")
    store = Store(tmp_path / "shop.duckdb")
    ingest_lines(store, shared_file("online_retail/online_retail.csv"), preset="online-retail")
    split = time_split(ShopData.from_store(store), "2011-10-01")
    queries = basket_completion(split, max_queries=2000, seed=0)
    als = evaluate_model(make_model("als"), split, queries, ks=(10,))
    popular = evaluate_model(make_model("popularity"), split, queries, ks=(10,))
    assert als.metrics["recall@10"] > 2 * popular.metrics["recall@10"]


def test_empty_rows_fold_in_to_nothing(small: ShopData) -> None:
    need_module("implicit")
    model = ALS(factors=8, iterations=2).fit(small)
    empty = sp.csr_matrix((2, small.n_items), dtype=np.float32)
    assert np.isneginf(model.score(empty)).all()
