"""Models made of models: how components are given, copied, and fed live orders."""

from __future__ import annotations

import pytest

from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.models import make_model
from xsell.models.ensemble import Ensemble, component_spec
from xsell.models.hybrid import Hybrid


def test_components_are_names_pairs_or_unfitted_models() -> None:
    assert component_spec("popularity") == ("popularity", {})
    assert component_spec(("cooccurrence", {"measure": "lift"})) == (
        "cooccurrence",
        {"measure": "lift"},
    )
    assert component_spec(["itemknn", {"neighbours": 5}]) == ("itemknn", {"neighbours": 5})
    given = make_model("cooccurrence", measure="count")
    assert component_spec(given) == ("cooccurrence", given.params())
    for bad in (3, ("itemknn", "bm25"), ("itemknn",), None):
        with pytest.raises(
            ValidationError,
            match=r"models must hold registry names, \(name, params\) pairs or Recommender",
        ):
            component_spec(bad)


def test_a_given_model_is_copied_never_fitted_itself(shop_data: ShopData) -> None:
    given = make_model("cooccurrence", measure="count")
    hybrid = Hybrid(models=(given, "popularity"), weights=(1.0, 1.0)).fit(shop_data)
    assert given.items_ is None
    first = hybrid.components_[0]
    assert first is not given and first.params() == given.params()
    # Per-name parameters override a component's own.
    tuned = Hybrid(
        models=("cooccurrence", "popularity"),
        weights=(1.0, 1.0),
        component_params={"cooccurrence": {"measure": "lift"}},
    ).fit(shop_data)
    assert tuned.components_[0].params()["measure"] == "lift"


def test_live_orders_reach_every_component(shop_data: ShopData) -> None:
    # Pairs seen once count (min_count=1), so three live orders make a pair.
    components = (("cooccurrence", {"min_count": 1}), "popularity")
    model = make_model("hybrid", models=components, weights=(0.9, 0.1))
    model.fit(shop_data)
    assert isinstance(model, Ensemble) and model.learns_live
    customer = str(shop_data.users.ids[1])
    model.update([["NEW-LAMP", "NEW-BULB"]] * 3, [customer, "NEW-CUSTOMER", None])
    answer = model.complements("NEW-LAMP", k=3)
    assert answer["item_id"].iloc[0] == "NEW-BULB"
    assert answer["source"].iloc[0] == "model"
    for component in model.components_:
        table = component.require_fitted()
        assert "NEW-BULB" in table.ids
        assert component.users_ is not None and "NEW-CUSTOMER" in component.users_
        assert len(table) == model.n_items
    mine = model.recommend(["NEW-CUSTOMER"], k=2, exclude_seen=True)["item_id"]
    assert not set(mine) & {"NEW-LAMP", "NEW-BULB"}
