"""The shop simulator: shoppers follow the planted complements, and experiments see it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from xsell.data.synthetic import SyntheticShop
from xsell.evaluation.experiment import Arm
from xsell.models import load_model
from xsell.serving.simulator import (
    Behaviour,
    LocalArms,
    Session,
    complements_of,
    offline_experiment,
    react,
    sessions,
)


def test_complements_are_the_planted_pairs_and_triples_both_ways(shop: SyntheticShop) -> None:
    partners = complements_of(shop)
    pair = shop.planted_pairs[0]
    assert pair.partner in partners[pair.anchor]
    assert pair.anchor in partners[pair.partner]
    a, b, c = shop.planted_triples[0].items
    assert {b, c} <= partners[a]


def test_a_session_clicks_carts_and_orders_by_its_draws() -> None:
    # two suggestions: X is a complement of the cart's A, Y is not
    draws = np.array([0.30, 0.50, 0.02, 0.90])  # X clicked then carted; Y clicked, not carted
    session = Session("s1", ["A"], draws)
    answer = {"recommendation_id": "r1", "items": [{"item_id": "X"}, {"item_id": "Y"}]}
    events = react(session, answer, {"A": {"X"}}, Behaviour(0.35, 0.03, 0.6))
    assert [(e["type"], e["items"]) for e in events] == [
        ("impression", ["X", "Y"]),
        ("click", ["X", "Y"]),
        ("cart", ["X"]),
        ("order", ["A", "X"]),
    ]
    assert all(e["session"] == "s1" and e["recommendation_id"] == "r1" for e in events)


def test_sessions_are_reproducible_carts_of_real_orders(shop: SyntheticShop) -> None:
    first = list(sessions(shop, 50, seed=3))
    again = list(sessions(shop, 50, seed=3))
    assert [s.cart for s in first] == [s.cart for s in again]
    baskets = shop.lines.groupby("basket_id")["item_id"].agg(set).tolist()
    assert all(any(set(s.cart) <= b for b in baskets) for s in first)
    assert all(1 <= len(s.cart) <= 3 for s in first)


def test_an_offline_experiment_finds_the_model_of_the_planted_complements_better(
    shop: SyntheticShop, popularity_bundle: Path, cooccurrence_bundle: Path
) -> None:
    arms = [Arm("pop", "pop", 50), Arm("cooc", "cooc", 50)]
    local = LocalArms(
        {"pop": load_model(popularity_bundle), "cooc": load_model(cooccurrence_bundle)}, k=10
    )
    report = offline_experiment(shop, arms, local, 3000, seed=0)
    revenue = next(u for u in report["uplift"] if u["metric"] == "revenue_per_session")
    assert revenue["arm"] == "cooc"
    assert revenue["difference_low"] > 0  # the interval excludes zero
    assert report["sample_ratio"]["mismatch"] is False
    assert sum(a["sessions"] for a in report["arms"]) == 3000
    # and an A/A of the same model is no different on the same sessions
    same = offline_experiment(shop, [Arm("a", "x", 1), Arm("b", "x", 1)],
                              LocalArms({"a": local.models["cooc"], "b": local.models["cooc"]}),
                              3000, seed=0)  # fmt: skip
    aa = next(u for u in same["uplift"] if u["metric"] == "revenue_per_session")
    assert math.isfinite(aa["p_value"])
    assert not aa["significant"]  # fixed sessions: this one A/A run is not a false positive
