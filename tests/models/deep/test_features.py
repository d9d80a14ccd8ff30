"""Item features of the deep models (category, brand, price band, name tokens) by hand."""

from __future__ import annotations

from tests.models.deep.helpers import hand_shop
from xsell.models.deep.features import ItemFeatures


def test_item_features_are_codes_with_zero_for_unknown() -> None:
    f = ItemFeatures.of(hand_shop())
    assert f.categories.tolist() == [1, 1, 1, 2, 0]
    assert f.brands.tolist() == [1, 2, 1, 0, 2]
    assert f.bands[4] == 0 and f.bands[3] < f.bands[0] < f.bands[1] < f.bands[2]
    # Tokens found in two or more names: "mug" and "red".
    mug, red = 1, 2
    assert f.tokens[0, :2].tolist() == [red, mug] and f.tokens[1, 0] == mug
    assert (f.tokens[3] == 0).all() and (f.tokens[4] == 0).all()
