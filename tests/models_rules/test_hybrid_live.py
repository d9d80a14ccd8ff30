"""A served hybrid learns from live orders through its components."""

from __future__ import annotations

from xsell.data.synthetic import make_shop
from xsell.models import make_model


def test_hybrid_forwards_live_orders_to_its_components() -> None:
    data = make_shop(n_users=200, n_items=60, seed=2).to_shopdata()
    model = make_model("hybrid", models=("cooccurrence", "popularity"), weights=(0.9, 0.1))
    model.fit(data)
    model.update([["NEW-LAMP", "NEW-BULB"]] * 3, ["U00001", "NEW-CUSTOMER", None])
    answer = model.complements("NEW-LAMP", k=3)
    assert answer["item_id"].iloc[0] == "NEW-BULB"
    assert answer["source"].iloc[0] == "model"
    for component in model.components_:  # type: ignore[attr-defined]
        assert "NEW-BULB" in component.items_.ids
    assert (
        model.recommend(["NEW-CUSTOMER"], k=2, exclude_seen=True)["item_id"]
        .isin(["NEW-LAMP", "NEW-BULB"])
        .sum()
        == 0
    )
