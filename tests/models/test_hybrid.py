"""The hybrid: weights fitted on the latest training baskets only, blends by hand, the search."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pytest
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.data.splits import time_split
from xsell.data.synthetic import SyntheticShop
from xsell.errors import ValidationError
from xsell.models import Batch, Recommender, as_dense, basket_rows, make_model, rank, top_items
from xsell.models.hybrid import Hybrid, hit_rate, normalise_rows, simplex_grid
from xsell.models.rules_model import RulesModel


@dataclass
class Spy(Recommender):
    """A test double that scores at random and records what every copy was fitted on."""

    name = "spy"
    log: ClassVar[list[tuple[set[str], np.datetime64]]] = []

    seed: int = 0
    noise_: np.ndarray = field(default_factory=lambda: np.zeros(0), init=False, repr=False)

    def _fit(self, data: ShopData) -> None:
        Spy.log.append((set(data.baskets.ids), data.basket_time.max()))
        self.noise_ = np.random.default_rng(self.seed).random(data.n_items)

    def _score(self, baskets: sp.csr_matrix, users: np.ndarray | None) -> np.ndarray:
        return np.tile(self.noise_, (baskets.shape[0], 1))


@pytest.fixture(scope="module")
def rows(shop_data: ShopData) -> sp.csr_matrix:
    rng = np.random.default_rng(1)
    picked = rng.choice(shop_data.n_baskets, 60)
    return basket_rows([shop_data.basket_items(b).tolist()[:2] for b in picked], shop_data.n_items)


def test_fitted_weights_are_the_best_point_of_the_grid(shop_data: ShopData) -> None:
    model = Hybrid(models=("rules", "popularity", Spy())).fit(shop_data)
    assert model.weights_.sum() == pytest.approx(1.0) and (model.weights_ >= 0).all()
    best_weights, best_rate = max(model.search_, key=lambda pair: pair[1])
    assert len(model.search_) == len(simplex_grid(3, 10)) == 66
    assert model.weights_ == pytest.approx(np.array(best_weights))
    assert best_rate == max(rate for _, rate in model.search_)


def test_fixed_weights_are_normalised(shop_data: ShopData) -> None:
    model = Hybrid(models=("rules", "popularity"), weights=(2.0, 1.0)).fit(shop_data)
    assert model.weights_ == pytest.approx([2 / 3, 1 / 3])
    assert model.search_ == []


@pytest.mark.parametrize(("weights", "alone"), [((1.0, 0.0), "rules"), ((0.0, 1.0), "popularity")])
def test_weight_one_ranks_like_that_component(
    shop_data: ShopData, rows: sp.csr_matrix, weights: tuple[float, float], alone: str
) -> None:
    hybrid = Hybrid(models=("rules", "popularity"), weights=weights).fit(shop_data)
    component = make_model(alone).fit(shop_data)
    np.testing.assert_array_equal(
        top_items(rank(hybrid, Batch(rows), 20), 20),
        top_items(rank(component, Batch(rows), 20), 20),
    )


@pytest.mark.parametrize("normalise", ["rank", "minmax"])
def test_blend_equals_weighted_normalised_scores(
    shop_data: ShopData, rows: sp.csr_matrix, normalise: str
) -> None:
    hybrid = Hybrid(models=("rules", "popularity"), weights=(0.3, 0.7), normalise=normalise)
    hybrid.fit(shop_data)
    rules = normalise_rows(as_dense(RulesModel().fit(shop_data).score(rows)), normalise)
    popularity = normalise_rows(
        as_dense(make_model("popularity").fit(shop_data).score(rows)), normalise
    )
    # Popularity scores every item, so no item is left without evidence.
    expected = 0.3 * np.where(np.isfinite(rules), rules, 0.0) + 0.7 * popularity
    np.testing.assert_allclose(as_dense(hybrid.score(rows)), expected)


def test_normalise_rows_by_hand() -> None:
    scores = np.array([[3.0, -np.inf, 1.0, 3.0, 2.0], [5.0, 5.0, -np.inf, -np.inf, 5.0]])
    floor = 1e-3

    def squash(u: float) -> float:
        return floor + (1 - floor) * u

    ranks = normalise_rows(scores, "rank")
    # Finite scores 1 < 2 < 3 = 3: ranks 1, 2, 3.5, 3.5 out of 4.
    assert ranks[0] == pytest.approx(
        [squash(3.5 / 4), -np.inf, squash(1 / 4), squash(3.5 / 4), squash(2 / 4)]
    )
    assert ranks[1] == pytest.approx(
        [squash(2 / 3), squash(2 / 3), -np.inf, -np.inf, squash(2 / 3)]
    )
    minmax = normalise_rows(scores, "minmax")
    assert minmax[0] == pytest.approx([1.0, -np.inf, floor, 1.0, squash(0.5)])
    assert minmax[1] == pytest.approx([1.0, 1.0, -np.inf, -np.inf, 1.0])


def test_hit_rate_equals_top_k_membership_by_brute_force() -> None:
    rng = np.random.default_rng(5)
    scores = np.round(rng.random((200, 30)), 1)  # rounding makes ties
    scores[rng.random(scores.shape) < 0.2] = -np.inf
    contexts = [sorted(rng.choice(30, 3, replace=False).tolist()) for _ in range(200)]
    hidden = np.array([rng.choice(sorted(set(range(30)) - set(c))) for c in contexts])
    rows = basket_rows(contexts, 30)
    for k in (1, 5, 10):
        hits = []
        for row, context, item in zip(scores, contexts, hidden, strict=True):
            # Higher score first, ties to the lower index, the context never suggested.
            ranked = sorted(
                (i for i in range(30) if i not in context and np.isfinite(row[i])),
                key=lambda i: (-row[i], i),
            )
            hits.append(item in ranked[:k])
        assert hit_rate(scores, rows, hidden, k) == pytest.approx(np.mean(hits))


def test_simplex_grid() -> None:
    grid = simplex_grid(3, 4)
    assert len(grid) == 15  # C(4 + 2, 2)
    assert all(w.sum() == pytest.approx(1.0) and (w >= 0).all() for w in grid)
    assert len({tuple(w) for w in grid}) == 15
    # Nearest to equal weights first, so that a flat search keeps them.
    distance = [float(np.abs(w - 1 / 3).sum()) for w in grid]
    assert distance == sorted(distance)
    assert simplex_grid(2, 2)[0].tolist() == [0.5, 0.5]  # equal weights first


def test_validation_is_the_latest_share_of_the_fit_data_only(shop_data: ShopData) -> None:
    split = time_split(shop_data, "2025-10-01")
    train = split.train
    Spy.log.clear()
    Hybrid(models=(Spy(),), validation_share=0.25).fit(train)
    # One component: no weights to search, so it is fitted once, on all of train.
    assert len(Spy.log) == 1
    Spy.log.clear()
    model = Hybrid(models=(Spy(seed=1), Spy(seed=2)), validation_share=0.25).fit(train)
    validation = set(model.validation_baskets_)
    assert validation <= set(train.baskets.ids)
    assert not validation & set(split.test.baskets.ids)
    assert len(validation) == pytest.approx(0.25 * train.n_baskets, abs=3)
    mask = np.isin(train.baskets.ids, list(validation))
    assert (mask == model.validation_mask(train)).all()
    assert train.basket_time[mask].min() > train.basket_time[~mask].max()
    # Two components fitted on the earlier baskets, then refitted on all of train.
    searched, refitted = Spy.log[:2], Spy.log[2:]
    assert len(refitted) == 2
    for seen, newest in searched:
        assert seen == set(train.baskets.ids) - validation
        assert newest < train.basket_time[mask].min()
    for seen, _ in refitted:
        assert seen == set(train.baskets.ids)


def test_search_prefers_the_informative_component(shop_data: ShopData) -> None:
    model = Hybrid(models=("rules", Spy(seed=4))).fit(shop_data)
    assert model.weights_[0] > 0.5
    rates = dict(model.search_)
    assert rates[tuple(model.weights_)] > rates[(0.0, 1.0)]


def test_coordinate_search_for_many_components(shop_data: ShopData) -> None:
    model = Hybrid(models=("rules", "popularity", Spy(seed=1), Spy(seed=2)), grid_steps=4)
    model.fit(shop_data)
    assert model.weights_.sum() == pytest.approx(1.0)
    # Coordinate search starts from equal weights and only moves to better points.
    assert model.search_[0][0] == pytest.approx((0.25,) * 4)
    assert max(rate for _, rate in model.search_) == pytest.approx(
        dict(model.search_)[tuple(model.weights_)]
    )


def test_the_default_blends_cooccurrence_and_popularity(
    shop: SyntheticShop, shop_data: ShopData
) -> None:
    model = make_model("hybrid").fit(shop_data)
    assert [c.name for c in model.components_] == ["cooccurrence", "popularity"]  # type: ignore[attr-defined]
    for pair in shop.planted_pairs:
        assert pair.partner in set(model.complements(pair.anchor, k=5)["item_id"]), pair


def test_reasons_come_from_the_top_contributor(shop: SyntheticShop, shop_data: ShopData) -> None:
    model = Hybrid(models=("rules", "popularity"), weights=(0.9, 0.1)).fit(shop_data)
    pair = shop.planted_pairs[0]
    top = model.complements(pair.anchor, k=3)
    assert top.iloc[0]["item_id"] == pair.partner
    assert top.iloc[0]["reason"].startswith("rules: customers who bought '")
    only_popular = Hybrid(models=("rules", "popularity"), weights=(0.0, 1.0)).fit(shop_data)
    assert only_popular.complements(pair.anchor, k=1).iloc[0]["reason"].startswith("popularity: ")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"weights": (1.0,)}, r"hybrid: weights needs one weight per model \(2\), got \[1.0\]"),
        (
            {"weights": (1.0, -1.0)},
            r"hybrid: weights must be finite, >= 0 and not all 0, got \[1.0, -1.0\]",
        ),
        ({"models": ("hybrid",)}, "hybrid: a hybrid cannot blend another hybrid"),
        ({"models": (("itemknn", "bm25"),)}, r"models must hold registry names, \(name, params\)"),
    ],
)
def test_bad_parameters_are_named(params: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Hybrid(**{"models": ("rules", "popularity"), **params})


def test_an_unknown_component_is_named_at_fit(tiny: ShopData) -> None:
    with pytest.raises(ValidationError, match=r"unknown model 'nope'; choose one of \["):
        Hybrid(models=("rules", "nope")).fit(tiny)
