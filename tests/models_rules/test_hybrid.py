"""The hybrid: weights sum to 1, one-component blends rank like the component, no leakage."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.data.split import time_split
from xsell.data.synthetic import SyntheticShop
from xsell.errors import ValidationError
from xsell.models import load_model, make_model
from xsell.models.base import Recommender, basket_rows, top_k
from xsell.models.hybrid import Hybrid, _hit_rate, _simplex_grid, normalise_rows
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

    def score(self, baskets: sp.csr_matrix, users: np.ndarray | None = None) -> np.ndarray:
        self.require_fitted()
        return np.tile(self.noise_, (baskets.shape[0], 1))


@pytest.fixture
def contexts(shop_data: ShopData) -> list[list[int]]:
    rng = np.random.default_rng(1)
    return [shop_data.basket_items(b).tolist()[:2] for b in rng.choice(shop_data.n_baskets, 60)]


def test_fitted_weights_sum_to_one(shop_data: ShopData) -> None:
    model = Hybrid(models=("rules", "popularity", Spy())).fit(shop_data)
    assert model.weights_.sum() == pytest.approx(1.0)
    assert (model.weights_ >= 0).all()
    # The search tried every grid point and kept the best one.
    best_weights, best_rate = max(model.search_, key=lambda pair: pair[1])
    assert best_rate == max(rate for _, rate in model.search_)
    assert len(model.search_) == len(_simplex_grid(3, 10)) == 66
    assert model.weights_ == pytest.approx(np.array(best_weights))


def test_fixed_weights_are_normalised(shop_data: ShopData) -> None:
    model = Hybrid(models=("rules", "popularity"), weights=(2.0, 1.0)).fit(shop_data)
    assert model.weights_ == pytest.approx([2 / 3, 1 / 3])
    assert model.search_ == []


@pytest.mark.parametrize(("weights", "alone"), [((1.0, 0.0), "rules"), ((0.0, 1.0), "popularity")])
def test_weight_one_ranks_like_that_component(
    shop_data: ShopData, contexts: list[list[int]], weights: tuple[float, float], alone: str
) -> None:
    hybrid = Hybrid(models=("rules", "popularity"), weights=weights).fit(shop_data)
    component = make_model(alone).fit(shop_data)
    np.testing.assert_array_equal(
        hybrid.recommend_batch(contexts, k=20), component.recommend_batch(contexts, k=20)
    )


@pytest.mark.parametrize("normalise", ["rank", "minmax"])
def test_blend_equals_weighted_normalised_scores(
    shop_data: ShopData, contexts: list[list[int]], normalise: str
) -> None:
    hybrid = Hybrid(models=("rules", "popularity"), weights=(0.3, 0.7), normalise=normalise).fit(
        shop_data
    )
    rows = basket_rows(contexts, shop_data.n_items)
    rules = normalise_rows(RulesModel().fit(shop_data).score(rows), normalise)
    popularity = normalise_rows(make_model("popularity").fit(shop_data).score(rows), normalise)
    # Popularity scores every item, so no item is left without evidence.
    expected = 0.3 * np.where(np.isfinite(rules), rules, 0.0) + 0.7 * popularity
    np.testing.assert_allclose(hybrid.score(rows), expected)


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


def test_hit_rate_equals_top_k_membership() -> None:
    rng = np.random.default_rng(5)
    scores = np.round(rng.random((200, 30)), 1)  # rounding makes ties
    scores[rng.random(scores.shape) < 0.2] = -np.inf
    contexts = [sorted(rng.choice(30, 3, replace=False).tolist()) for _ in range(200)]
    hidden = np.array([rng.choice(sorted(set(range(30)) - set(c))) for c in contexts])
    rows = basket_rows(contexts, 30)
    for k in (1, 5, 10):
        best = top_k(scores, k, rows)
        expected = np.mean([h in set(b.tolist()) for h, b in zip(hidden, best, strict=True)])
        assert _hit_rate(scores, rows, hidden, k) == pytest.approx(expected)


def test_simplex_grid() -> None:
    grid = _simplex_grid(3, 4)
    assert len(grid) == 15  # C(4 + 2, 2)
    assert all(w.sum() == pytest.approx(1.0) and (w >= 0).all() for w in grid)
    assert len({tuple(w) for w in grid}) == 15


def test_validation_is_the_latest_share_of_the_fit_data_only(shop_data: ShopData) -> None:
    split = time_split(shop_data, "2025-10-01")
    train = split.train
    Spy.log.clear()
    model = Hybrid(models=(Spy(),), validation_share=0.25).fit(train)
    # One component: no weights to search, so it is fitted once, on all of train.
    assert len(Spy.log) == 1
    Spy.log.clear()
    model = Hybrid(models=(Spy(seed=1), Spy(seed=2)), validation_share=0.25).fit(train)
    validation = set(model.validation_baskets_)
    assert validation <= set(train.baskets.ids)
    assert not validation & set(split.test.baskets.ids)
    assert len(validation) == pytest.approx(0.25 * train.n_baskets, abs=3)
    mask = np.isin(train.baskets.ids, list(validation))
    assert train.basket_time[mask].min() > train.basket_time[~mask].max()
    # Two components fitted on the earlier baskets, then refitted on all of train.
    searched, refitted = Spy.log[:2], Spy.log[2:]
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
    model = Hybrid(models=("rules", "popularity", Spy(seed=1), Spy(seed=2)), grid_steps=4).fit(
        shop_data
    )
    assert model.weights_.sum() == pytest.approx(1.0)
    assert max(rate for _, rate in model.search_) == pytest.approx(
        dict(model.search_)[tuple(model.weights_)]
    )


def test_with_cooccurrence_default(shop: SyntheticShop, shop_data: ShopData) -> None:
    model = make_model("hybrid").fit(shop_data)
    assert [c.name for c in model.components_] == ["cooccurrence", "popularity"]
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


def test_save_load_and_refit_change_nothing(
    shop_data: ShopData, contexts: list[list[int]], tmp_path: Path
) -> None:
    model = Hybrid(models=("rules", "popularity")).fit(shop_data)
    rows = basket_rows(contexts, shop_data.n_items)
    before = model.score(rows)
    loaded = load_model(model.save(tmp_path / "bundle"))
    np.testing.assert_array_equal(loaded.score(rows), before)
    np.testing.assert_array_equal(model.fit(shop_data).score(rows), before)


def test_batch_equals_one_by_one(shop_data: ShopData) -> None:
    model = Hybrid(models=("rules", "popularity")).fit(shop_data)
    items = list(shop_data.items.ids[:6])
    carts = [[items[0], items[1]], [items[2]], [items[3], items[4], items[5]]]
    batch = model._answer(
        [",".join(c) for c in carts], carts, [None] * 3, 5, None, False, use_history=False
    )
    one_by_one = pd.concat([model.recommend_for_basket(c, k=5) for c in carts], ignore_index=True)
    pd.testing.assert_frame_equal(batch, one_by_one)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"models": ()}, "models must name at least one component, got none"),
        (
            {"validation_share": 1.0},
            r"validation_share must be between 0 and 1 \(exclusive\), got 1.0",
        ),
        ({"normalise": "z"}, r"normalise must be one of \['rank', 'minmax'\], got 'z'"),
        ({"k": 0}, "k must be a whole number >= 1, got 0"),
        ({"weights": (1.0,)}, r"weights needs one weight per model \(2\), got \[1.0\]"),
        (
            {"weights": (1.0, -1.0)},
            r"weights must be finite, >= 0 and not all 0, got \[1.0, -1.0\]",
        ),
        ({"models": ("hybrid",)}, "a hybrid cannot blend another hybrid"),
        ({"models": ("rules", "nope")}, r"unknown model 'nope'; choose one of \["),
    ],
)
def test_bad_parameters_are_named(tiny: ShopData, params: dict, message: str) -> None:
    base: dict = {"models": ("rules", "popularity")}
    with pytest.raises(ValidationError, match=message):
        Hybrid(**{**base, **params}).fit(tiny)
