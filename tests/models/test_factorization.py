"""ALS and BPR: planted complements, the fold-in against a direct solve, customers, live orders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from tests.conftest import need_module
from tests.models.oracles import als_fold_in
from xsell.data.shopdata import ShopData
from xsell.data.splits import time_split
from xsell.data.synthetic import SyntheticShop
from xsell.errors import ValidationError
from xsell.evaluation import basket_completion, evaluate_model
from xsell.models import Batch, as_dense, basket_rows, load_model, make_model, rank, top_items
from xsell.models.factorization import ALS, BPR

CONFIGS = [
    ("als", {}),
    ("als", {"on": "users"}),
    ("als", {"weighting": "bm25"}),
    ("bpr", {}),
]


@pytest.fixture(
    scope="module",
    params=CONFIGS,
    ids=lambda c: f"{c[0]}-{'-'.join(map(str, c[1].values())) or 'default'}",
)
def model(request: pytest.FixtureRequest, shop_data: ShopData) -> ALS | BPR:
    need_module("implicit")
    name, params = request.param
    fitted = make_model(name, factors=32, **params).fit(shop_data)
    assert isinstance(fitted, ALS | BPR)
    return fitted


def test_planted_partner_in_top_10(
    model: ALS | BPR, shop: SyntheticShop, shop_data: ShopData
) -> None:
    pairs = [
        tuple(shop_data.items.to_index([p.anchor, p.partner]).tolist())
        for p in shop.planted_pairs
        if shop_data.item_basket_count[shop_data.items.index_of(p.anchor)] >= 25
    ]
    assert len(pairs) >= 8
    rows = basket_rows([[a] for a, _ in pairs], shop_data.n_items)
    top = top_items(rank(model, Batch(rows), 10), 10)
    missed = [a for (a, b), row in zip(pairs, top, strict=True) if b not in row]
    assert not missed, f"{model.name} missed the partners of {missed}"


@pytest.mark.parametrize("params", [{}, {"alpha": 5.0, "regularization": 0.1}])
def test_cart_fold_in_is_the_least_squares_solve(shop_data: ShopData, params: dict) -> None:
    need_module("implicit")
    als = ALS(factors=12, iterations=4, **params).fit(shop_data)
    carts = [[0, 5, 17], [3], list(range(40, 52))]
    rows = basket_rows(carts, shop_data.n_items)
    folded = als.fold_in(rows)
    for r in range(len(carts)):
        np.testing.assert_allclose(
            folded[r],
            als_fold_in(als.item_factors_, als.alpha, als.regularization, rows[r].toarray()[0]),
            atol=1e-4,
        )
    # The same solve by its normal equations: (YᵀY + Yᵀ(C - I)Y + λI) x = YᵀCp.
    y, cart = als.item_factors_.astype(np.float64), carts[0]
    c = np.full(len(cart), als.alpha)
    a = y.T @ y + als.regularization * np.eye(12) + (y[cart].T * (c - 1.0)) @ y[cart]
    np.testing.assert_allclose(folded[0], np.linalg.solve(a, y[cart].T @ c), atol=1e-4)
    np.testing.assert_allclose(
        as_dense(als.score(rows)), folded @ als.item_factors_.T, rtol=1e-5, atol=1e-5
    )


def test_bpr_cart_vector_is_the_mean_of_its_item_vectors(shop_data: ShopData) -> None:
    need_module("implicit")
    bpr = BPR(factors=8, iterations=5).fit(shop_data)
    y = bpr.item_factors_.astype(np.float64)
    scores = as_dense(bpr.score(basket_rows([[2, 9]], bpr.n_items)))[0]
    # The last factor is the item bias: the cart's side of it is 1.
    cart = np.append((y[2, :-1] + y[9, :-1]) / 2, 1.0)
    np.testing.assert_allclose(scores, y @ cart, rtol=1e-5, atol=1e-6)


def test_a_known_customer_adds_their_own_vector(shop_data: ShopData) -> None:
    need_module("implicit")
    als = ALS(on="users", factors=16, iterations=5, user_weight=0.5).fit(shop_data)
    rows = basket_rows([[4]], als.n_items)
    cart = als.fold_in(rows)[0]
    scores = as_dense(als.score(rows, np.array([7])))[0]
    expected = (cart + 0.5 * als.user_factors_[7]) @ als.item_factors_.T
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)
    # An empty cart of a known customer is still scored from the customer; of a guest, not.
    empty = basket_rows([[]], als.n_items)
    np.testing.assert_allclose(
        as_dense(als.score(empty, np.array([7])))[0],
        0.5 * als.user_factors_[7] @ als.item_factors_.T,
        rtol=1e-5,
        atol=1e-5,
    )
    assert np.isneginf(as_dense(als.score(empty, np.array([-1])))).all()
    assert np.isneginf(as_dense(als.score(sp.csr_matrix((2, als.n_items))))).all()


def test_refit_save_load_and_batch_change_nothing(
    model: ALS | BPR, shop_data: ShopData, tmp_path: Path
) -> None:
    carts = [[0, 1], [10], [20, 30, 40], []]
    users = np.array([0, -1, 5, 3])
    rows = basket_rows(carts, model.n_items)
    scores = as_dense(model.score(rows, users))
    again = make_model(model.name, **model.params()).fit(shop_data)
    np.testing.assert_array_equal(as_dense(again.score(rows, users)), scores)
    loaded = load_model(model.save(tmp_path / "bundle"))
    np.testing.assert_array_equal(as_dense(loaded.score(rows, users)), scores)
    one_by_one = np.vstack(
        [as_dense(model.score(rows[r], users[r : r + 1])) for r in range(len(carts))]
    )
    np.testing.assert_allclose(one_by_one, scores, rtol=1e-6, atol=1e-6)


def test_reason_names_the_cart_item(model: ALS | BPR, shop_data: ShopData) -> None:
    answer = model.complements(shop_data.items.ids[0], k=3)
    name = shop_data.item_names()[0]
    assert (answer["source"] == "model").all()
    assert (
        answer["reason"]
        .str.startswith(f"often bought by customers who buy {name!r} (factor similarity ")
        .all()
    )


def test_live_orders_keep_old_scores_and_serve_new_ids(shop_data: ShopData) -> None:
    need_module("implicit")
    for name in ("als", "bpr"):
        fitted = make_model(name, factors=8, iterations=3).fit(shop_data)
        rows = basket_rows([[1, 2]], shop_data.n_items)
        before = as_dense(fitted.score(rows))
        fitted.update([["NEW-1", shop_data.items.ids[1]]], ["NEW-CUSTOMER"], {"NEW-1": "x"})
        after = as_dense(fitted.score(basket_rows([[1, 2]], fitted.n_items)))
        assert after.shape == (1, shop_data.n_items + 1)
        np.testing.assert_array_equal(after[:, : shop_data.n_items], before)
        assert np.isneginf(after[0, -1])  # no factors for an item added live
        assert len(fitted.recommend(["NEW-CUSTOMER"], k=3)) == 3


def test_users_mode_needs_known_customers() -> None:
    need_module("implicit")
    data = ShopData.from_baskets([["a", "b"], ["b", "c"]])
    with pytest.raises(ValidationError, match="als: on='users' needs baskets of known customers"):
        ALS(on="users").fit(data)
    scores = ALS(factors=2, iterations=2).fit(data).score(basket_rows([[0]], 3))
    assert as_dense(scores).shape == (1, 3)


@pytest.mark.slow
def test_als_beats_popularity_on_online_retail(retail_data: ShopData) -> None:
    need_module("implicit")
    split = time_split(retail_data, "2011-10-01")
    queries = basket_completion(split, max_queries=2000, seed=0)
    als = evaluate_model(make_model("als"), split, queries, ks=(10,))
    popular = evaluate_model(make_model("popularity"), split, queries, ks=(10,))
    assert als.metrics["recall@10"] > 2 * popular.metrics["recall@10"]
