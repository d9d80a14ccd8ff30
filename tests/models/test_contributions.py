"""Additive contributions: grouping and wording checked by hand, LightGBM's SHAP values
against the ``shap`` package, and a planted feature that must top them."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import need_module
from xsell.models.contributions import Contribution, Explanation, explain_rows, tree_contributions


def test_columns_of_one_group_add_up_and_sort_by_effect() -> None:
    values = np.array([[0.5, -0.2, 0.1, -0.6]])
    groups = ["a", "b", "a", "c"]
    [found] = explain_rows(values, np.array([1.0]), groups, lambda row, g: f"words {g}")
    # a = 0.5 + 0.1, b = -0.2, c = -0.6: largest effect first.
    assert [(c.feature, round(c.value, 10)) for c in found.contributions] == [
        ("a", 0.6),
        ("c", -0.6),
        ("b", -0.2),
    ]
    assert found.score == pytest.approx(1.0 + 0.5 - 0.2 + 0.1 - 0.6)
    assert found.sentence() == (
        "ranked up by: words a (+0.60); down by: words c (-0.60), words b (-0.20)"
    )


def test_only_the_top_groups_are_worded_and_tiny_ones_are_left_out() -> None:
    values = np.array([[0.4, 0.3, 0.2, 0.001]])
    asked: list[str] = []

    def words(row: int, group: str) -> str:
        asked.append(group)
        return group.upper()

    [found] = explain_rows(values, np.zeros(1), ["w", "x", "y", "z"], words, top=2)
    assert sorted(asked) == ["w", "x"]
    assert found.sentence(top=3) == "ranked up by: W (+0.40), X (+0.30), y (+0.20)"
    assert Explanation(0.0, (Contribution("q", 0.001, "q"),)).sentence() == (
        "no feature moved its score"
    )


def test_to_dict_carries_base_score_and_each_contribution() -> None:
    found = Explanation(0.5, (Contribution("a", 0.25, "A"), Contribution("b", -0.5, "B")))
    assert found.to_dict() == {
        "base": 0.5,
        "score": 0.25,
        "contributions": [
            {"feature": "a", "contribution": 0.25, "words": "A"},
            {"feature": "b", "contribution": -0.5, "words": "B"},
        ],
    }


def _booster(features: np.ndarray, label: np.ndarray) -> object:
    lightgbm = need_module("lightgbm")
    model = lightgbm.LGBMRegressor(n_estimators=30, num_leaves=8, verbose=-1, random_state=0)
    return model.fit(features, label).booster_


def test_lightgbm_contributions_equal_shap_and_add_up_to_the_prediction() -> None:
    rng = np.random.default_rng(3)
    features = rng.normal(size=(400, 5))
    label = features[:, 0] * 2 + features[:, 1] * features[:, 2] + rng.normal(0, 0.1, 400)
    booster = _booster(features, label)
    rows = features[:25]
    values, base = tree_contributions(booster, rows)
    raw = np.asarray(booster.predict(rows, raw_score=True))  # type: ignore[attr-defined]
    np.testing.assert_allclose(values.sum(axis=1) + base, raw, atol=1e-9)
    shap = need_module("shap")
    theirs = np.asarray(shap.TreeExplainer(booster).shap_values(rows))
    np.testing.assert_allclose(values, theirs, atol=1e-6)


def test_a_planted_feature_tops_the_contributions() -> None:
    rng = np.random.default_rng(5)
    features = rng.normal(size=(600, 6))
    planted = 4
    label = 3.0 * features[:, planted] + rng.normal(0, 0.05, 600)
    booster = _booster(features, label)
    rows = features[np.abs(features[:, planted]) > 1.0][:20]
    values, base = tree_contributions(booster, rows)
    found = explain_rows(values, base, [f"f{j}" for j in range(6)], lambda r, g: g)
    assert [e.contributions[0].feature for e in found] == [f"f{planted}"] * len(rows)


def test_no_rows_give_empty_contributions() -> None:
    values, base = tree_contributions(object(), np.zeros((0, 4)))
    assert values.shape == (0, 4)
    assert base.shape == (0,)
