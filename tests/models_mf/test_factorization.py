"""ALS and BPR: planted complements, the fold-in against a direct least-squares solve, contract."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from tests.conftest import need_module
from xsell.data.shopdata import ShopData
from xsell.data.synthetic import SyntheticShop
from xsell.errors import NotFittedError, ValidationError
from xsell.models import make_model
from xsell.models.base import basket_rows
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
def fitted(request: pytest.FixtureRequest, shop_data: ShopData) -> ALS | BPR:
    need_module("implicit")
    name, params = request.param
    model = make_model(name, **params).fit(shop_data)
    assert isinstance(model, ALS | BPR)
    return model


def test_planted_partner_in_top_10(
    fitted: ALS | BPR, shop: SyntheticShop, shop_data: ShopData
) -> None:
    anchors = []
    for pair in shop.planted_pairs:
        a, b = shop_data.items.to_index([pair.anchor, pair.partner])
        if shop_data.item_basket_count[a] >= 30:
            anchors.append((a, b))
    assert len(anchors) >= 10
    top = fitted.recommend_batch([[a] for a, _ in anchors], k=10)
    hits = [b in row for (_, b), row in zip(anchors, top, strict=True)]
    assert all(hits), f"missed: {[a for (a, _), h in zip(anchors, hits, strict=True) if not h]}"


def _lstsq_fold_in(model: ALS, row: np.ndarray) -> np.ndarray:
    """Minimise sum_i c_i (p_i - x.y_i)^2 + reg |x|^2 directly, as stacked least squares."""
    y = model.item_factors_.astype(np.float64)
    confidence = np.where(row > 0, model.alpha * row, 1.0)
    preference = (row > 0).astype(np.float64)
    weights = np.sqrt(confidence)
    design = np.vstack([weights[:, None] * y, np.sqrt(model.regularization) * np.eye(y.shape[1])])
    target = np.concatenate([weights * preference, np.zeros(y.shape[1])])
    solution, *_ = np.linalg.lstsq(design, target, rcond=None)
    return solution


@pytest.mark.parametrize("weighting", ["none", "bm25"])
def test_basket_fold_in_equals_least_squares(shop_data: ShopData, weighting: str) -> None:
    need_module("implicit")
    model = ALS(factors=16, iterations=5, weighting=weighting).fit(shop_data)
    carts = [[0, 5, 17], [3], list(range(40, 52))]
    rows = basket_rows(carts, model.n_items)
    folded = model._fold_in(model._context_rows(rows))
    weighted = model._weigh(model._context_rows(rows)).toarray()
    for r in range(len(carts)):
        expected = _lstsq_fold_in(model, weighted[r].astype(np.float64))
        np.testing.assert_allclose(folded[r], expected, atol=1e-4)
    scores = model.score(rows)
    np.testing.assert_allclose(scores[0], folded[0] @ model.item_factors_.T, rtol=1e-5, atol=1e-5)


def test_bpr_cart_vector_is_mean_of_item_vectors(shop_data: ShopData) -> None:
    need_module("implicit")
    model = BPR(factors=8, iterations=5).fit(shop_data)
    y = model.item_factors_.astype(np.float64)
    scores = model.score(basket_rows([[2, 9]], model.n_items))[0]
    cart = np.append((y[2, :-1] + y[9, :-1]) / 2, 1.0)
    np.testing.assert_allclose(scores, y @ cart, rtol=1e-5, atol=1e-6)


def test_known_user_adds_own_vector(shop_data: ShopData) -> None:
    need_module("implicit")
    model = ALS(on="users", factors=16, iterations=5, user_weight=0.5).fit(shop_data)
    rows = basket_rows([[4]], model.n_items)
    cart = model._fold_in(model._context_rows(rows))[0]
    scores = model.score(rows, np.array([7]))[0]
    expected = (cart + 0.5 * model.user_factors_[7]) @ model.item_factors_.T
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)
    # an empty cart of a known customer is still scored from the customer
    assert np.isfinite(model.score(basket_rows([[]], model.n_items), np.array([7]))).any()
    assert np.isneginf(model.score(basket_rows([[]], model.n_items), np.array([-1]))).all()


def test_deterministic_refit_pickle_and_batch(fitted: ALS | BPR, shop_data: ShopData) -> None:
    carts = [[0, 1], [10], [20, 30, 40], []]
    users = np.array([0, -1, 5, 3])
    rows = basket_rows(carts, fitted.n_items)
    scores = fitted.score(rows, users)
    again = make_model(fitted.name, **fitted.params()).fit(shop_data)
    np.testing.assert_array_equal(again.score(rows, users), scores)
    loaded = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(loaded.score(rows, users), scores)
    one_by_one = np.vstack([fitted.score(rows[r], users[r : r + 1]) for r in range(len(carts))])
    np.testing.assert_allclose(one_by_one, scores, rtol=1e-6, atol=1e-6)


def test_items_added_after_fit_score_minus_inf(fitted: ALS | BPR) -> None:
    n = fitted.n_items
    wider = sp.csr_matrix(([1.0, 1.0], ([0, 0], [3, n + 2])), shape=(1, n + 5))
    scores = fitted.score(wider)
    assert scores.shape == (1, n + 5) or scores.shape == (1, n)
    assert np.isneginf(scores[0, n:]).all()
    assert np.isfinite(scores[0, :n]).sum() > 0


def test_reason_names_the_cart_item(fitted: ALS | BPR, shop_data: ShopData) -> None:
    answer = fitted.complements(shop_data.items.ids[0], k=3)
    name = shop_data.item_names()[0]
    assert (answer["source"] == "model").all()
    assert (
        answer["reason"]
        .str.contains(f"customers who buy {name!r} \\(factor similarity", regex=True)
        .all()
    )


def test_bad_parameters_and_unfitted(shop_data: ShopData) -> None:
    with pytest.raises(NotFittedError, match="'als' is not fitted"):
        ALS().score(basket_rows([[0]], 3))
    with pytest.raises(
        ValidationError, match=r"on must be one of \['baskets', 'users'\], got 'orders'"
    ):
        ALS(on="orders").fit(shop_data)
    with pytest.raises(
        ValidationError, match=r"weighting must be one of \['none', 'bm25'\], got 'tfidf'"
    ):
        BPR(weighting="tfidf").fit(shop_data)
    with pytest.raises(ValidationError, match="factors must be a positive integer, got 0"):
        ALS(factors=0).fit(shop_data)
    with pytest.raises(ValidationError, match="alpha must be > 0, got -1"):
        ALS(alpha=-1).fit(shop_data)


def test_users_mode_needs_known_customers() -> None:
    need_module("implicit")
    data = ShopData.from_baskets([["a", "b"], ["b", "c"]])
    with pytest.raises(ValidationError, match="on='users' needs baskets of known customers"):
        ALS(on="users").fit(data)
    assert ALS(factors=2, iterations=2).fit(data).score(basket_rows([[0]], 3)).shape == (1, 3)
