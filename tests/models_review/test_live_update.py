"""Live learning (``Recommender.update``): co-occurrence equals a refit; every model survives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from tests.conftest import IN_CI
from tests.models_review.test_cooccurrence_oracle import MEASURE_NAMES, as_table
from xsell.data.shopdata import ShopData
from xsell.data.synthetic import SyntheticShop, make_shop
from xsell.errors import ValidationError
from xsell.models import REGISTRY, Recommender, load_model, make_model


@pytest.mark.parametrize("measure", MEASURE_NAMES)
@pytest.mark.parametrize("neighbours", [None, 8])
def test_updated_rows_equal_a_refit_on_all_orders(
    measure: str, neighbours: int | None, grocery_baskets: list[list[str]]
) -> None:
    old, new = grocery_baskets[:1200], grocery_baskets[1200:1300]
    new = [*new, ["brand new gadget", "whole milk"], ["brand new gadget", "yogurt", "whole milk"]]
    live = make_model("cooccurrence", measure=measure, neighbours=neighbours)
    live.fit(ShopData.from_baskets(old))
    live.update(new, [None] * len(new))
    refit = make_model("cooccurrence", measure=measure, neighbours=neighbours)
    refit.fit(ShopData.from_baskets(old + new))
    touched = {item for basket in new for item in basket}
    got, want = as_table(live), as_table(refit)  # type: ignore[arg-type]
    # Rows of items in the new orders are recomputed exactly.
    got_rows = {key: v for key, v in got.items() if key[0] in touched}
    want_rows = {key: v for key, v in want.items() if key[0] in touched}
    if neighbours is None:
        assert got_rows.keys() == want_rows.keys()
    else:
        # Ties at the pruning border may break differently: indices differ after the update.
        for item in touched:
            mine = sorted((v for k, v in got_rows.items() if k[0] == item), reverse=True)
            theirs = sorted((v for k, v in want_rows.items() if k[0] == item), reverse=True)
            assert mine == pytest.approx(theirs, rel=1e-9)
        got_rows = {k: v for k, v in got_rows.items() if k in want_rows}
    for key, value in got_rows.items():
        assert value == pytest.approx(want_rows[key], rel=1e-9)
    if measure in ("count", "confidence") and neighbours is None:
        # These measures of a row depend on that row's counts only: the whole model is exact.
        assert got.keys() == want.keys()
        for key, value in want.items():
            assert got[key] == pytest.approx(value, rel=1e-9)


def test_a_new_order_changes_answers_at_once(grocery_baskets: list[list[str]]) -> None:
    model = make_model("cooccurrence", measure="confidence")
    model.fit(ShopData.from_baskets(grocery_baskets[:500]))
    before = model.complements("whole milk", k=5)["item_id"].tolist()
    assert "gift card" not in before
    model.update(
        [["whole milk", "gift card"]] * 400, ["c1"] * 400, names={"gift card": "Gift card"}
    )
    after = model.complements("whole milk", k=5)
    assert after["item_id"].iloc[0] == "gift card"
    assert after["name"].iloc[0] == "Gift card"
    assert after["source"].iloc[0] == "model"
    partner = model.complements("gift card", k=1)
    assert partner["item_id"].tolist() == ["whole milk"]
    assert partner["reason"].iloc[0].startswith("bought with 'Gift card' in 100% of its orders")


def test_update_grows_items_users_and_histories(grocery_data: ShopData) -> None:
    model = make_model("cooccurrence").fit(grocery_data)
    n_items = model.n_items
    model.update(
        [["whole milk", "NEW-1"], ["NEW-1", "NEW-2"], ["yogurt"]],
        ["alice", "alice", None],
        names={"NEW-2": "Second new thing"},
    )
    table = model.items_
    assert table is not None and model.users_ is not None
    assert model.n_items == n_items + 2
    assert table.ids.to_external([n_items, n_items + 1]).tolist() == ["NEW-1", "NEW-2"]
    assert table.names[n_items] is None and table.names[n_items + 1] == "Second new thing"
    assert table.categories[n_items] is None and np.isnan(table.prices[n_items])
    assert table.popularity[n_items] == 2 and table.popularity[n_items + 1] == 1
    assert (
        table.popularity[table.ids.index_of("yogurt")]
        == grocery_data.item_basket_count[grocery_data.items.index_of("yogurt")] + 1
    )
    alice = model.users_.index_of("alice")
    assert alice >= 0
    bought = set(table.ids.to_external(model.history_items(alice)).tolist())
    assert bought == {"whole milk", "NEW-1", "NEW-2"}
    # The customer's live purchases count for exclude_seen.
    answer = model.recommend(["alice"], k=20, exclude_seen=True)
    assert not bought & set(answer["item_id"])
    # The fitted data is not changed behind the caller's back.
    assert grocery_data.n_users == 0 and grocery_data.user_item.shape[0] == 0


def test_update_needs_one_user_per_basket(grocery_data: ShopData) -> None:
    model = make_model("cooccurrence").fit(grocery_data)
    with pytest.raises(ValidationError, match="update needs one user per basket: got 2 baskets"):
        model.update([["a"], ["b"]], ["u"])


# ------------------------------------------------------------------ every registered model


@pytest.fixture(scope="module")
def small_shop() -> SyntheticShop:
    return make_shop(n_users=300, n_items=80, n_pairs=6, n_triples=1, seed=3)


def _model(name: str) -> Recommender:
    try:
        return make_model(name)
    except (ImportError, AttributeError) as exc:
        if IN_CI:
            pytest.fail(f"CI needs the model {name!r}: {exc}")
        pytest.skip(f"model {name!r} not available: {exc}")
        raise


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_model_answers_after_the_catalog_grew(
    name: str, small_shop: SyntheticShop, tmp_path: Path
) -> None:
    data = small_shop.to_shopdata()
    model = _model(name).fit(data)
    anchor = small_shop.planted_pairs[0].anchor
    known_user = str(data.users.ids[0])
    model.update(
        [[anchor, "LIVE-1"], ["LIVE-1", "LIVE-2"]], [known_user, "new-customer"], {"LIVE-1": "Live"}
    )
    n = model.n_items
    assert n == data.n_items + 2
    # The raw scores cover the grown catalog; an item a model never learned is -inf, never junk.
    rows = np.zeros((2, n), dtype=np.float32)
    rows[0, model.items_.ids.index_of("LIVE-1")] = 1  # type: ignore[union-attr]
    rows[1, model.items_.ids.index_of(anchor)] = 1  # type: ignore[union-attr]
    assert model.users_ is not None
    users = np.array([model.users_.index_of(known_user), model.users_.index_of("new-customer")])
    scores = model.score(sp.csr_matrix(rows), users)
    assert scores.shape == (2, n)
    assert not np.isnan(scores).any()
    if model.n_items_known_ < n:
        # A model that does not learn live gives the items it never saw no score.
        assert np.isneginf(scores[:, model.n_items_known_ :]).all()
    for frame in (
        model.recommend_for_basket([anchor, "LIVE-1"], k=5, user="new-customer"),
        model.recommend(["new-customer", known_user], k=5),
        model.complements("LIVE-2", k=5),
    ):
        assert len(frame) == len(frame["query"].unique()) * 5
        assert frame.groupby("query")["item_id"].apply(lambda s: s.is_unique).all()
    # The customer's live order is excluded as already bought.
    mine = model.recommend(["new-customer"], k=10, exclude_seen=True)
    assert not {"LIVE-1", "LIVE-2"} & set(mine["item_id"])
    # A grown model saves and loads to the same answers.
    again = load_model(model.save(tmp_path / name))
    left = model.recommend_for_basket([anchor, "LIVE-1"], k=5)
    right = again.recommend_for_basket([anchor, "LIVE-1"], k=5)
    assert left.equals(right)
