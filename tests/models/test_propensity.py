"""Propensity classifiers: contributions that add up to the log-odds, a planted feature on
top, probabilities that rank a planted signal, and their errors."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import need_module
from xsell.errors import ValidationError
from xsell.models.propensity import MODELS, Propensity, parse_models


def _planted(seed: int = 0, n: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    """Five features; only feature 2 moves the chance to buy."""
    rng = np.random.default_rng(seed)
    x = rng.exponential(3.0, size=(n, 5))
    logit = 1.2 * (np.log1p(x[:, 2]) - 1.4)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return x, y


@pytest.mark.parametrize("name", ["logreg", "gbdt"])
def test_contributions_plus_base_equal_the_log_odds(name: str) -> None:
    need_module("sklearn" if name == "logreg" else "lightgbm")
    x, y = _planted()
    model = Propensity(name).fit(x, y)
    values, base = model.contributions(x[:50])
    raw = model.raw(x[:50])
    np.testing.assert_allclose(values.sum(axis=1) + base, raw, atol=1e-9)
    # The log-odds are the probability's: an independent check of ``raw``.
    np.testing.assert_allclose(1 / (1 + np.exp(-raw)), model.predict(x[:50]), atol=1e-9)


@pytest.mark.parametrize("name", ["logreg", "gbdt"])
def test_the_planted_feature_tops_the_contributions(name: str) -> None:
    x, y = _planted(1)
    model = Propensity(name).fit(x, y)
    extreme = x[np.abs(np.log1p(x[:, 2]) - 1.4) > 1.0][:30]
    explained = model.explain(extreme, [f"f{j}" for j in range(5)])
    assert explained is not None
    tops = [e.contributions[0].feature for e in explained]
    assert tops.count("f2") >= 0.9 * len(tops), tops


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_ranks_the_planted_signal(name: str) -> None:
    from sklearn.metrics import roc_auc_score

    x, y = _planted(2)
    test_x, test_y = _planted(3)
    p = Propensity(name).fit(x, y).predict(test_x)
    assert ((p >= 0) & (p <= 1)).all()
    # The oracle: the true chance of each test row ranks at about this AUC.
    true = 1 / (1 + np.exp(-1.2 * (np.log1p(test_x[:, 2]) - 1.4)))
    assert roc_auc_score(test_y, p) > roc_auc_score(test_y, true) - 0.05


def test_the_forest_has_no_additive_account() -> None:
    x, y = _planted()
    model = Propensity("forest").fit(x, y)
    assert model.explain(x[:3], ["a", "b", "c", "d", "e"]) is None
    with pytest.raises(ValidationError, match="forest: a random forest has no additive"):
        model.contributions(x[:3])


def test_errors_name_the_models_and_the_cause() -> None:
    assert parse_models("gbdt, logreg,gbdt") == ["gbdt", "logreg"]
    with pytest.raises(ValidationError, match="--models: unknown model svm; choose from logreg"):
        parse_models("logreg,svm")
    with pytest.raises(ValidationError, match="unknown propensity model 'svm'"):
        Propensity("svm")
    with pytest.raises(ValidationError, match="gbdt: the training customers are all non-buyers"):
        Propensity("gbdt").fit(np.ones((5, 2)), np.zeros(5))
    with pytest.raises(ValidationError, match="logreg: fit the propensity model first"):
        Propensity("logreg").predict(np.ones((2, 2)))
