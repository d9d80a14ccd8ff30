"""The margin objective and the overstock boost: weights by hand, the ranking routine's order
against a brute-force reorder of the model's own scores, and the errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.shops import fitted
from xsell.data.idmap import IdMap
from xsell.data.synthetic import SyntheticShop
from xsell.errors import ValidationError
from xsell.models import BusinessRules, Query, basket_rows
from xsell.models.items import ItemTable
from xsell.models.objective import item_weights, margin_weights, overstock, reweigh


def _table(margins: list[float], stock: list[float], popularity: list[float]) -> ItemTable:
    n = len(margins)
    return ItemTable(
        ids=IdMap.from_index(pd.Index([f"i{j}" for j in range(n)])),
        names=np.array([f"item {j}" for j in range(n)], dtype=object),
        categories=np.array([None] * n, dtype=object),
        prices=np.full(n, 10.0),
        in_stock=np.ones(n, dtype=bool),
        popularity=np.asarray(popularity, dtype=float),
        margins=np.asarray(margins, dtype=float),
        stock=np.asarray(stock, dtype=float),
    )


def test_margin_weights_by_hand() -> None:
    table = _table([4.0, 1.0, np.nan, -2.0, 9.0], [np.nan] * 5, [1] * 5)
    # Unknown: the median known margin (2.5 of 4, 1, -2, 9... = median(4, 1, -2, 9) = 2.5);
    # a loss: 1 % of the median positive margin (median(4, 1, 9) = 4 -> 0.04).
    expected = np.sqrt([4.0, 1.0, 2.5, 0.04, 9.0])
    np.testing.assert_allclose(margin_weights(table, 0.5), expected)
    np.testing.assert_allclose(margin_weights(table, 0.0), np.ones(5))


def test_overstock_by_hand() -> None:
    # Cover = stock / orders: 1, 2, 4, 8 (median 3): log2(cover / 3) clipped to [0, 1].
    table = _table([1.0] * 5, [10, 20, 40, 80, np.nan], [10, 10, 10, 10, 10])
    expected = [0.0, 0.0, np.log2(4 / 3), 1.0, 0.0]
    np.testing.assert_allclose(overstock(table), expected)
    weights = item_weights(table, "relevance", 0.5, 2.0)
    assert weights is not None
    np.testing.assert_allclose(weights, 1 + 2.0 * np.array(expected))
    assert item_weights(table, "relevance", 0.9, 0.0) is None
    assert item_weights(table, "margin", 0.0, 0.0) is None


def test_negative_scores_are_shifted_before_reweighing() -> None:
    np.testing.assert_allclose(
        reweigh(np.array([-1.0, 1.0, 3.0]), np.array([5.0, 2.0, 1.0])), [0.0, 4.0, 4.0]
    )


@pytest.mark.parametrize("sensitivity", [0.0, 0.5, 1.0])
def test_the_ranking_equals_a_brute_force_reorder_of_the_models_scores(
    sensitivity: float, shop: SyntheticShop
) -> None:
    model = fitted("cooccurrence")
    table = model.require_fitted()
    weights = margin_weights(table, sensitivity)
    for pair in shop.planted_pairs[:6]:
        anchor = table.ids.index_of(pair.anchor)
        scores = model.score(basket_rows([[anchor]], len(table)))
        row = np.asarray(scores.toarray() if hasattr(scores, "toarray") else scores)[0]
        row = np.where(np.isfinite(row), row, -np.inf)
        row[anchor] = -np.inf  # the cart itself is never suggested
        candidates = np.flatnonzero(np.isfinite(row) & (row > -np.inf))
        value = reweigh(row[candidates], weights[candidates])
        order = candidates[np.lexsort((candidates, -value))][:5]
        rules = BusinessRules(objective="margin", margin_sensitivity=sensitivity)
        [found] = model.answer([Query((pair.anchor,))], 5, rules)
        picked = [i for i, s in zip(found.items, found.sources, strict=True) if s == "model"]
        assert len(picked) >= 3
        assert picked == order[: len(picked)].tolist(), sensitivity


def test_a_higher_sensitivity_suggests_items_that_earn_more(shop: SyntheticShop) -> None:
    model = fitted("cooccurrence")
    table = model.require_fitted()
    earned = []
    for s in (0.0, 1.0):
        rules = BusinessRules(objective="margin", margin_sensitivity=s)
        answers = model.answer([Query((p.anchor,)) for p in shop.planted_pairs], 5, rules)
        earned.append(np.mean([table.margins[a.items].mean() for a in answers]))
    assert earned[1] > earned[0]


def test_bad_objectives_are_clear_errors() -> None:
    with pytest.raises(
        ValidationError, match=r"objective must be one of \['relevance', 'margin'\]"
    ):
        BusinessRules(objective="profit")
    with pytest.raises(ValidationError, match=r"margin_sensitivity must be in \[0, 1\], got 1.5"):
        BusinessRules(objective="margin", margin_sensitivity=1.5)
    with pytest.raises(ValidationError, match="overstock_boost must be >= 0, got -1"):
        BusinessRules(overstock_boost=-1)
    table = _table([np.nan, np.nan], [np.nan, np.nan], [1, 1])
    with pytest.raises(ValidationError, match="objective 'margin' needs item margins"):
        margin_weights(table, 0.5)
