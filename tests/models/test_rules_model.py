"""The rules model against hand computations and brute-force matching of every rule."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.data.synthetic import SyntheticShop
from xsell.errors import ValidationError
from xsell.mining import association_rules, frequent_itemsets, save_rules
from xsell.models import as_dense, basket_rows, make_model
from xsell.models.rules_model import RulesModel


def _fit_tiny(tiny: ShopData, **params: object) -> RulesModel:
    model = make_model("rules", min_count=1, min_confidence=0.0, **params)
    assert isinstance(model, RulesModel)
    return model.fit(tiny)


def _scores(model: RulesModel, data: ShopData, basket: list[str]) -> dict[str, float]:
    rows = basket_rows([data.items.to_index(basket).tolist()], data.n_items)
    return dict(zip(data.items.ids, as_dense(model.score(rows))[0].tolist(), strict=True))


# TINY (abc, ab, ac, bcd). For the cart {a, b} these rules fire (confidence, lift):
#   a->b 2/3 8/9, a->c 2/3 8/9, b->a 2/3 8/9, b->c 2/3 8/9, b->d 1/3 4/3, ab->c 1/2 2/3.
@pytest.mark.parametrize(
    ("combine", "metric", "expected"),
    [
        ("max", "confidence", {"a": 2 / 3, "b": 2 / 3, "c": 2 / 3, "d": 1 / 3}),
        ("sum", "confidence", {"a": 2 / 3, "b": 2 / 3, "c": 2 / 3 + 2 / 3 + 1 / 2, "d": 1 / 3}),
        (
            "noisy_or",
            "confidence",
            {"a": 2 / 3, "b": 2 / 3, "c": 1 - (1 / 3) * (1 / 3) * (1 / 2), "d": 1 / 3},
        ),
        ("max", "lift", {"a": 8 / 9, "b": 8 / 9, "c": 8 / 9, "d": 4 / 3}),
        ("sum", "lift", {"a": 8 / 9, "b": 8 / 9, "c": 8 / 9 + 8 / 9 + 2 / 3, "d": 4 / 3}),
    ],
)
def test_scores_match_hand_computation(
    tiny: ShopData, combine: str, metric: str, expected: dict[str, float]
) -> None:
    model = _fit_tiny(tiny, combine=combine, metric=metric)
    assert _scores(model, tiny, ["a", "b"]) == pytest.approx(expected)


def test_only_rules_inside_the_basket_fire(tiny: ShopData) -> None:
    model = _fit_tiny(tiny, combine="sum")
    # Cart {d}: only d->b (1.0) and d->c (1.0); nothing leads to a.
    got = _scores(model, tiny, ["d"])
    assert got["a"] == -np.inf
    assert got["b"] == pytest.approx(1.0) and got["c"] == pytest.approx(1.0)
    assert all(v == -np.inf for v in _scores(model, tiny, []).values())
    # Which distinct antecedents each basket holds: {d} holds exactly the antecedent (d,).
    fired = model.fired(basket_rows([tiny.items.to_index(["d"]).tolist()], tiny.n_items))
    assert fired.nnz == 1
    antecedent = model.antecedents_[fired.indices[0]].indices
    assert tiny.items.to_external(antecedent).tolist() == ["d"]


def test_max_len_limits_antecedents(tiny: ShopData) -> None:
    model = _fit_tiny(tiny, combine="sum", max_len=2)
    # Without ab->c only a->c and b->c fire for c.
    assert _scores(model, tiny, ["a", "b"])["c"] == pytest.approx(4 / 3)


def test_reasons_carry_the_rule_evidence(tiny: ShopData) -> None:
    model = _fit_tiny(tiny)
    context = tiny.items.to_index(["a", "b"]).tolist()
    d, c = tiny.items.to_index(["d", "c"]).tolist()
    why_d, why_c = model.reasons(context, -1, [d, c])
    assert why_d == "customers who bought 'b' also bought this in 33% of 3 orders (lift 1.3)"
    assert why_c.endswith("; 2 more rules agree")
    assert "in 67% of 3 orders (lift 0.9)" in why_c


def test_reasons_name_two_item_antecedents(tiny: ShopData) -> None:
    model = _fit_tiny(tiny, metric="lift")
    context = tiny.items.to_index(["b", "c"]).tolist()
    (d,) = tiny.items.to_index(["d"]).tolist()
    # Rules to d: b->d and c->d (lift 4/3 each), bc->d (confidence 1/2, lift 2): the strongest.
    (why,) = model.reasons(context, -1, [d])
    assert why.startswith("customers who bought 'b' and 'c' also bought this in 50% of 2 orders")
    assert "(lift 2.0); 2 more rules agree" in why


def _brute_force(model: RulesModel, data: ShopData, basket: set[int]) -> np.ndarray:
    """Scores by checking every kept rule one by one."""
    index = {item: i for i, item in enumerate(data.items.ids)}
    out = np.full(data.n_items, -np.inf)
    fired: dict[int, list[float]] = {}
    for ante, cons, value in zip(
        model.rules_["antecedent"],
        model.rules_["consequent"],
        model.rules_[model.metric],
        strict=True,
    ):
        if {index[a] for a in ante} <= basket:
            for c in cons:
                fired.setdefault(index[c], []).append(float(value))
    for item, values in fired.items():
        if model.combine == "max":
            out[item] = max(values)
        elif model.combine == "sum":
            out[item] = sum(values)
        else:
            out[item] = 1 - np.prod([1 - v for v in values])
    return out


@pytest.mark.parametrize("combine", ["max", "sum", "noisy_or"])
def test_batch_scores_equal_brute_force_matching(shop_data: ShopData, combine: str) -> None:
    model = RulesModel(min_count=3, min_confidence=0.02, combine=combine).fit(shop_data)
    assert len(model.rules_) > 100
    assert model.rules_["antecedent"].map(len).max() == 2  # max_len 3: two-item antecedents
    rng = np.random.default_rng(0)
    baskets = [
        sorted(set(rng.choice(shop_data.n_items, size=rng.integers(0, 6), replace=False).tolist()))
        for _ in range(40)
    ]
    baskets += [shop_data.basket_items(b).tolist() for b in rng.choice(shop_data.n_baskets, 40)]
    scores = as_dense(model.score(basket_rows(baskets, shop_data.n_items)))
    for row, basket in zip(scores, baskets, strict=True):
        np.testing.assert_allclose(row, _brute_force(model, shop_data, set(basket)), rtol=1e-9)


def test_planted_partners_come_with_the_rule_as_reason(
    shop: SyntheticShop, shop_data: ShopData
) -> None:
    model = RulesModel().fit(shop_data)
    for pair in shop.planted_pairs:
        top = model.complements(pair.anchor, k=5)
        assert pair.partner in set(top["item_id"]), pair
        row = top[top["item_id"] == pair.partner].iloc[0]
        name = shop_data.item_names()[shop_data.items.index_of(pair.anchor)]
        assert row["reason"].startswith(f"customers who bought '{name}' also bought this in ")


def test_top_k_keeps_the_strongest_rules(shop_data: ShopData) -> None:
    model = RulesModel(top_k=25, min_count=5, metric="lift").fit(shop_data)
    assert len(model.rules_) == 25
    everything = RulesModel(min_count=5, metric="lift", min_confidence=0.0).fit(shop_data)
    cutoff = np.sort(everything.rules_["lift"].to_numpy())[::-1][24]
    assert model.rules_["lift"].min() == pytest.approx(cutoff)


def test_significance_filter_drops_weak_rules(shop_data: ShopData) -> None:
    loose = RulesModel(min_count=3).fit(shop_data)
    strict = RulesModel(min_count=3, max_q=0.01).fit(shop_data)
    assert 0 < len(strict.rules_) < len(loose.rules_)
    assert (strict.rules_["q_value"] <= 0.01).all()


def test_fit_from_rules_saved_in_the_store(shop_data: ShopData, tmp_path: object) -> None:
    itemsets = frequent_itemsets(shop_data, 5, max_len=3)
    rules = association_rules(itemsets, min_confidence=0.05)
    store = f"{tmp_path}/shop.duckdb"
    save_rules(store, rules)
    from_store = RulesModel(rules_from=store).fit(shop_data)
    mined = RulesModel(min_count=5, min_confidence=0.05).fit(shop_data)
    given = RulesModel().fit_rules(shop_data, rules)
    rows = basket_rows([[0, 1], [2], [3, 4, 5]], shop_data.n_items)
    np.testing.assert_allclose(as_dense(from_store.score(rows)), as_dense(mined.score(rows)))
    np.testing.assert_allclose(as_dense(given.score(rows)), as_dense(mined.score(rows)))


def test_rules_with_unknown_items_are_dropped(tiny: ShopData) -> None:
    model = _fit_tiny(tiny)
    rules = model.rules_.copy()
    rules.loc[0, "antecedent"] = ("zz",)
    refit = RulesModel(min_confidence=0.0).fit_rules(tiny, rules)
    assert len(refit.rules_) == len(model.rules_) - 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"combine": "noisy_or", "metric": "lift"},
            r"rules: combine='noisy_or' .* needs metric='confidence', got metric='lift'",
        ),
        ({"min_support": 0.1, "top_k": 5}, "rules: set min_support or top_k, not both"),
    ],
)
def test_conflicting_parameters_are_named(params: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RulesModel(**params)


def test_a_missing_rule_store_is_named(tiny: ShopData) -> None:
    with pytest.raises(ValidationError, match=r"rules_from: no store at /nowhere/shop\.duckdb"):
        RulesModel(rules_from="/nowhere/shop.duckdb").fit(tiny)


def test_rules_table_without_needed_columns(tiny: ShopData) -> None:
    model = _fit_tiny(tiny)
    with pytest.raises(ValidationError, match=r"rules table lacks columns \['lift'\]"):
        RulesModel().fit_rules(tiny, model.rules_.drop(columns=["lift"]))


def test_no_rule_at_all_leaves_every_score_minus_inf(tiny: ShopData) -> None:
    model = make_model("rules", min_count=4).fit(tiny)
    assert len(model.rules_) == 0
    scores = model.score(sp.csr_matrix(np.ones((2, tiny.n_items))))
    assert np.isneginf(as_dense(scores)).all()
