"""The one ranking routine against a brute-force sort of the raw scores."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from tests.shops import fitted
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.models import (
    MAX_K,
    Batch,
    BusinessRules,
    Recommender,
    as_dense,
    basket_rows,
    make_model,
    rank,
    top_items,
)
from xsell.models import ranking as R


def brute_force(scores: np.ndarray, excluded: list[int], k: int) -> list[int]:
    """Items with a finite score, not excluded, best first, ties to the lower index."""
    return sorted(
        (i for i in range(len(scores)) if i not in excluded and np.isfinite(scores[i])),
        key=lambda i: (-scores[i], i),
    )[:k]


@pytest.mark.parametrize(
    ("name", "params"),
    [("cooccurrence", {}), ("cooccurrence", {"measure": "count"}), ("itemknn", {}), ("rules", {})],
)
def test_sparse_and_dense_scores_rank_like_a_brute_force_sort(
    shop_data: ShopData, name: str, params: dict
) -> None:
    model = fitted(name, **params)
    contexts = [shop_data.basket_items(b).tolist() for b in range(0, 600, 3)]
    rows = basket_rows(contexts, shop_data.n_items)
    top = top_items(rank(model, Batch(rows), 15), 15)
    scores = as_dense(model.score(rows))
    for r, context in enumerate(contexts):
        want = brute_force(scores[r], context, 15)
        assert top[r][: len(want)].tolist() == want
        assert (top[r][len(want) :] == -1).all()


def test_ties_go_to_the_lower_item_index(tiny: ShopData) -> None:
    flat = _Flat().fit(tiny)
    ranked = rank(flat, Batch(basket_rows([[2]], tiny.n_items)), 3)[0]
    assert ranked.items == [0, 1, 3] and ranked.scores == [1.0, 1.0, 1.0]
    assert ranked.n_model == 3 and ranked.trace is None


@dataclass
class _Flat(Recommender):
    """A test double: every item scores 1, except those in ``hidden_`` (no evidence)."""

    name = "flat"
    hidden: tuple[int, ...] = ()
    calls_: list[int] = field(default_factory=list, init=False, repr=False)

    def _fit(self, data: ShopData) -> None:
        self.calls_ = []

    def _score(self, baskets: sp.csr_matrix, users: np.ndarray | None) -> np.ndarray:
        self.calls_.append(baskets.shape[0])
        out = np.ones(baskets.shape)
        out[:, list(self.hidden)] = -np.inf
        return out


def test_fill_appends_best_sellers_after_the_models_picks(tiny: ShopData) -> None:
    # Items a and c have no evidence; popularity: a 3, b 3, c 3, d 1 (ties: lower index).
    model = _Flat(hidden=(0, 2)).fit(tiny)
    rows = basket_rows([[3]], tiny.n_items)
    plain = rank(model, Batch(rows), 3)[0]
    assert plain.items == [1] and plain.n_model == 1
    filled = rank(model, Batch(rows), 3, fill=True)[0]
    assert filled.items == [1, 0, 2] and filled.n_model == 1
    assert filled.scores == [1.0, 0.0, 0.0]
    assert filled.same_category == [False, False]


def test_cart_exclusion_and_modes(tiny: ShopData) -> None:
    model = _Flat().fit(tiny)
    rows = basket_rows([[0, 1]], tiny.n_items)
    bought = [np.array([1, 3])]
    assert rank(model, Batch(rows), 4)[0].items == [2, 3]
    assert rank(model, Batch(rows), 4, exclude_cart=False)[0].items == [0, 1, 2, 3]
    # Explicit carts may differ from what the model looks at.
    assert rank(model, Batch(rows, carts=[np.array([2])]), 4)[0].items == [0, 1, 3]
    batch = Batch(rows, bought=bought)
    assert rank(model, batch, 4, mode="explore", exclude_cart=False)[0].items == [0, 2]
    assert rank(model, batch, 4, mode="repeat", exclude_cart=False)[0].items == [1, 3]
    assert rank(model, batch, 4, mode="mixed", exclude_cart=False)[0].items == [0, 1, 2, 3]
    with pytest.raises(
        ValidationError, match=r"mode must be one of \['mixed', 'explore', 'repeat'\], got 'new'"
    ):
        rank(model, batch, 4, mode="new")


def test_k_is_checked(tiny: ShopData) -> None:
    model = _Flat().fit(tiny)
    for bad in (0, MAX_K + 1, 1.5, False):
        with pytest.raises(ValidationError, match=f"k must be an integer from 1 to {MAX_K}, got"):
            rank(model, Batch(basket_rows([[0]], tiny.n_items)), bad)  # type: ignore[arg-type]
    assert R.check_k(np.int64(3)) == 3


def test_scoring_in_chunks_gives_the_same_answers(
    shop_data: ShopData, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = fitted("cooccurrence")
    rows = basket_rows([shop_data.basket_items(b).tolist() for b in range(50)], shop_data.n_items)
    whole = top_items(rank(model, Batch(rows), 10), 10)
    flat = _Flat(hidden=(5,)).fit(shop_data)
    rank(flat, Batch(rows), 10)
    assert flat.calls_ == [50]
    monkeypatch.setattr(R, "chunk_rows", lambda n_items: 7)
    seen: list[int] = []
    rank(flat, Batch(rows), 10, progress=seen.append)
    assert flat.calls_[1:] == [7] * 7 + [1] and seen == flat.calls_[1:]
    np.testing.assert_array_equal(top_items(rank(model, Batch(rows), 10), 10), whole)


def test_chunk_rows_bounds_dense_cells() -> None:
    assert R.chunk_rows(100, 700) == 7
    assert R.chunk_rows(10**9, 10) == 1
    assert R.chunk_rows(1, 10**9) == 2000
    assert R.chunk_rows(0) == 2000


def test_top_items_pads_with_minus_one() -> None:
    ranked = [R.Ranked([4, 2], [1.0, 0.5], 2, []), R.Ranked([], [], 0, [])]
    assert top_items(ranked, 3).tolist() == [[4, 2, -1], [-1, -1, -1]]


def test_the_category_cap_reaches_past_a_crowded_category_before_falling_back() -> None:
    """20 partners of A share category X; Y0 (bought with A once) beats a best-seller fill."""
    rows: list[tuple[int, str]] = []
    for j in range(20):
        for _ in range(3):
            rows += [(len(rows), "A"), (len(rows), f"X{j}")]
    rows += [(len(rows), "A"), (len(rows), "Y0")]
    rows += [(len(rows) + b, "P0") for b in range(30)]
    lines = pd.DataFrame(rows, columns=["basket_id", "item_id"]).astype(str)
    catalog = pd.DataFrame(
        {
            "item_id": ["A", *(f"X{j}" for j in range(20)), "Y0", "P0"],
            "category": ["C", *["X"] * 20, "Y", "Z"],
        }
    )
    data = ShopData.from_frame(lines, catalog=catalog)
    co = make_model("cooccurrence", measure="count").fit(data)
    answer = co.recommend_for_basket(["A"], k=3, rules={"max_per_category": 1})
    assert answer["item_id"].tolist() == ["X0", "Y0", "P0"]
    assert answer["source"].tolist() == ["model", "model", "fallback"]
    table = co.require_fitted()
    capped = rank(
        co,
        Batch(basket_rows([[table.ids.index_of("A")]], len(table))),
        3,
        BusinessRules(max_per_category=1),
        explain=True,
    )[0]
    assert capped.trace is not None and len(capped.trace["max_per_category"]) == 19
