"""Co-occurrence, item-kNN and user-kNN against hand computations and brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from tests.conftest import need_module
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.models import make_model
from xsell.models.cooccurrence import Cooccurrence

# a b c d  ->  supports a=3 b=3 c=2 d=1; pairs ab=2 ac=2 bc=1 bd=1; N=4
TINY = [["a", "b"], ["a", "b", "c"], ["a", "c"], ["b", "d"]]


@pytest.fixture(scope="module")
def tiny() -> ShopData:
    return ShopData.from_baskets(TINY)


def _sim(model: Cooccurrence, data: ShopData, a: str, b: str) -> float:
    assert model.similarity_ is not None
    i, j = data.items.to_index([a, b])
    return float(model.similarity_[i, j])


@pytest.mark.parametrize(
    ("measure", "expected"),
    [
        ("count", {("a", "b"): 2, ("c", "a"): 2, ("b", "d"): 1, ("d", "b"): 1}),
        ("confidence", {("a", "b"): 2 / 3, ("c", "a"): 1.0, ("b", "d"): 1 / 3, ("d", "b"): 1.0}),
        ("lift", {("a", "b"): 2 * 4 / 9, ("a", "c"): 2 * 4 / 6, ("b", "d"): 4 / 3}),
        ("jaccard", {("a", "b"): 2 / 4, ("a", "c"): 2 / 3, ("b", "c"): 1 / 4}),
        ("cosine", {("a", "b"): 2 / 3, ("a", "c"): 2 / np.sqrt(6), ("b", "d"): 1 / np.sqrt(3)}),
        ("inclusion", {("a", "b"): 2 / 3, ("a", "c"): 1.0, ("b", "d"): 1.0}),
    ],
)
def test_measures_match_hand_computation(tiny: ShopData, measure: str, expected: dict) -> None:
    model = Cooccurrence(measure=measure, neighbours=None).fit(tiny)
    for (a, b), value in expected.items():
        assert _sim(model, tiny, a, b) == pytest.approx(value)
    assert _sim(model, tiny, "a", "d") == 0.0  # never together: no entry
    assert model.similarity_ is not None and model.similarity_.diagonal().sum() == 0


def test_min_count_pruning_and_scores(tiny: ShopData) -> None:
    model = Cooccurrence(measure="count", min_count=2, neighbours=None).fit(tiny)
    assert model.similarity_ is not None and model.similarity_.nnz == 4  # ab, ba, ac, ca
    top1 = Cooccurrence(measure="confidence", neighbours=1).fit(tiny)
    # b's partners: a (2/3), c (1/3), d (1/3) -> only a is kept.
    i = tiny.items.to_index(["b"])[0]
    assert top1.similarity_ is not None and top1.similarity_[i].nnz == 1
    rows = sp.csr_matrix(np.array([[1, 1, 0, 0]], dtype=np.float32))  # cart {a, b}
    summed = Cooccurrence(measure="confidence", neighbours=None).fit(tiny).score(rows)[0]
    biggest = (
        Cooccurrence(measure="confidence", neighbours=None, aggregate="max")
        .fit(tiny)
        .score(rows)[0]
    )
    c, d = tiny.items.to_index(["c", "d"])
    assert summed[c] == pytest.approx(2 / 3 + 1 / 3) and biggest[c] == pytest.approx(2 / 3)
    assert summed[d] == pytest.approx(1 / 3) and biggest[d] == pytest.approx(1 / 3)
    alone = sp.csr_matrix(np.array([[0, 0, 0, 1]], dtype=np.float32))  # cart {d}
    scores = Cooccurrence(measure="lift", neighbours=None).fit(tiny).score(alone)[0]
    assert np.isneginf(scores[tiny.items.to_index(["a", "c"])]).all()


def test_time_decay_weights_baskets_by_age() -> None:
    frame = pd.DataFrame(
        {
            "basket": ["1", "1", "2", "2", "3", "3"],
            "item": ["a", "b", "a", "c", "a", "b"],
            "time": pd.to_datetime(["2025-01-01"] * 2 + ["2025-01-11"] * 2 + ["2025-01-21"] * 2),
        }
    )
    data = ShopData.from_frame(frame, basket="basket", item="item", time="time")
    model = Cooccurrence(measure="count", half_life_days=10, neighbours=None).fit(data)
    # ab: ages 20 and 0 days -> 0.25 + 1; ac: age 10 -> 0.5
    assert _sim(model, data, "a", "b") == pytest.approx(1.25)
    assert _sim(model, data, "a", "c") == pytest.approx(0.5)
    assert model.n_baskets_ == pytest.approx(1.75)


def test_reason_names_the_cart_item_with_share_and_lift(tiny: ShopData) -> None:
    model = Cooccurrence(measure="lift", neighbours=None).fit(tiny)
    answer = model.complements("a", k=2)
    assert answer["item_id"].tolist() == ["c", "b"]
    assert answer["reason"].tolist() == [
        "bought with 'a' in 67% of its orders (lift 1.3)",
        "bought with 'a' in 67% of its orders (lift 0.9)",
    ]


def test_bad_parameters_name_the_value() -> None:
    with pytest.raises(ValidationError, match=r"measure must be one of .*'lift'.*got 'lyft'"):
        make_model("cooccurrence", measure="lyft")
    with pytest.raises(ValidationError, match="neighbours must be at least 1 or None, got 0"):
        make_model("cooccurrence", neighbours=0)
    with pytest.raises(ValidationError, match="half_life_days must be positive, got -1"):
        make_model("cooccurrence", half_life_days=-1)
    with pytest.raises(ValidationError, match="weighting must be one of"):
        make_model("itemknn", weighting="bm26")
    with pytest.raises(ValidationError, match=r"has no parameter 'foo'; its parameters are"):
        make_model("cooccurrence", foo=1)
    with pytest.raises(ValidationError, match=r"unknown model 'nope'; choose one of \['als'"):
        make_model("nope")


@pytest.mark.parametrize("measure", ["count", "confidence", "jaccard"])
def test_update_equals_refit_on_all_orders(measure: str) -> None:
    first = [["a", "b"], ["a", "b", "c"], ["a", "c"], ["b", "d"], ["c", "d"]]
    later = [["a", "d", "e"], ["e", "b"]]
    live = Cooccurrence(measure=measure, neighbours=None).fit(ShopData.from_baskets(first))
    before = live.complements("d", k=3)
    live.update(later, [None, None])
    full = ShopData.from_baskets(first + later)
    refit = Cooccurrence(measure=measure, neighbours=None).fit(full)
    assert live.similarity_ is not None and refit.similarity_ is not None
    touched = full.items.to_index(["a", "b", "d", "e"])
    order = live.items_.ids.to_index(full.items.ids)  # type: ignore[union-attr]
    got = live.similarity_[order][:, order].toarray()
    want = refit.similarity_.toarray()
    # Rows of the items in the new orders are exact; counts everywhere are exact.
    np.testing.assert_allclose(got[touched], want[touched])
    assert live.counts_ is not None and refit.counts_ is not None
    np.testing.assert_allclose(live.counts_[order][:, order].toarray(), refit.counts_.toarray())
    after = live.complements("d", k=10)
    assert "e" not in set(before["item_id"])
    assert after.set_index("item_id").loc["e", "source"] == "model"
    assert str(after.set_index("item_id").loc["e", "reason"]).startswith("bought with 'd' in 33%")


def _brute_cosine(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=0)
    sim = (x.T @ x) / np.outer(norms, norms)
    np.fill_diagonal(sim, 0.0)
    return sim


def test_itemknn_plain_cosine_matches_brute_force_and_implicit(shop_data: ShopData) -> None:
    model = make_model("itemknn", weighting="none", neighbours=None).fit(shop_data)
    x = shop_data.basket_item.toarray().astype(np.float64)
    want = _brute_cosine(x)
    got = model.similarity_.toarray()  # type: ignore[attr-defined]
    np.testing.assert_allclose(got, want, atol=1e-9)
    need_module("implicit")
    from implicit.nearest_neighbours import CosineRecommender

    peer = CosineRecommender(K=shop_data.n_items)
    peer.fit(sp.csr_matrix(shop_data.basket_item, dtype=np.float64), show_progress=False)
    theirs = peer.similarity.toarray()
    np.fill_diagonal(theirs, 0.0)
    np.testing.assert_allclose(got, theirs, atol=1e-6)


def test_itemknn_bm25_is_cosine_of_implicit_bm25_vectors(shop_data: ShopData) -> None:
    need_module("implicit")
    from implicit.nearest_neighbours import bm25_weight

    model = make_model("itemknn", weighting="bm25", neighbours=5).fit(shop_data)
    weighted = bm25_weight(sp.csr_matrix(shop_data.basket_item.T, dtype=np.float64), K1=100, B=0.8)
    want = _brute_cosine(weighted.toarray().T)
    got = model.similarity_  # type: ignore[attr-defined]
    for row in range(0, shop_data.n_items, 7):
        best = np.argsort(-want[row], kind="stable")[:5]
        assert set(got[row].indices) == set(best)
        np.testing.assert_allclose(got[row, best].toarray().ravel(), want[row, best], rtol=1e-6)


def test_userknn_matches_brute_force_neighbours(shop_data: ShopData) -> None:
    model = make_model("userknn", neighbours=10, idf=False).fit(shop_data)
    bought = (shop_data.user_item.toarray() > 0).astype(np.float64)
    cart = shop_data.basket_items(0)
    query = np.zeros(shop_data.n_items)
    query[cart] = 1.0
    sims = bought @ query / (np.linalg.norm(bought, axis=1) * np.linalg.norm(query) + 1e-300)
    best = np.argsort(-sims, kind="stable")[:10]
    want = sims[best] @ bought[best]
    got = model.score(sp.csr_matrix(query[None, :]))[0]
    finite = want > 0
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-9)
    assert np.isneginf(got[~finite]).all()


def test_userknn_never_counts_the_customer_as_their_own_neighbour(shop_data: ShopData) -> None:
    model = make_model("userknn", neighbours=1, idf=False).fit(shop_data)
    user = int(np.argmax(np.diff(shop_data.user_item.indptr)))
    own = shop_data.user_item[user].indices
    row = sp.csr_matrix(
        (np.ones(len(own)), (np.zeros(len(own)), own)), shape=(1, shop_data.n_items)
    )
    scores = model.score(row, np.array([user]))[0]
    neighbour_items = np.flatnonzero(np.isfinite(scores))
    assert not set(neighbour_items) >= set(own) or len(neighbour_items) > len(own)


@pytest.mark.parametrize(
    ("name", "params"),
    [("cooccurrence", {}), ("cooccurrence", {"measure": "count"}), ("itemknn", {})],
)
def test_sparse_ranking_equals_dense_ranking(shop_data: ShopData, name: str, params: dict) -> None:
    from xsell.models.base import basket_rows, top_k

    model = make_model(name, **params).fit(shop_data)
    contexts = [list(shop_data.basket_items(b)) for b in range(0, 600, 3)]
    fast = model.recommend_batch(contexts, k=15)
    rows = basket_rows(contexts, shop_data.n_items)
    scores = model.score(rows)
    np.testing.assert_array_equal(fast, top_k(scores, 15, rows))
    # Brute force with the documented tie rule (higher score, then lower item index).
    for r, context in enumerate(contexts):
        row = scores[r].copy()
        row[context] = -np.inf
        finite = np.flatnonzero(np.isfinite(row))
        want = finite[np.lexsort((finite, -row[finite]))][:15]
        assert fast[r][: len(want)].tolist() == want.tolist()
        assert (fast[r][len(want) :] == -1).all()
