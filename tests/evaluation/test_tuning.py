"""Tuning is seeded, searches only training data and fails clearly on bad ranges."""

from __future__ import annotations

import pytest

from tests.conftest import need_module
from tests.evaluation.doubles import SpyCooccurrence
from xsell.data.shopdata import ShopData
from xsell.data.splits import Split
from xsell.errors import ValidationError
from xsell.evaluation import make_split
from xsell.evaluation.tuning import SPACES, parse_literal, parse_space, search_space, tune
from xsell.models import model_parameters


@pytest.fixture(scope="module")
def split(shop_data: ShopData) -> Split:
    return make_split(shop_data, "2025-10-01")


def test_tuning_never_sees_a_test_basket(split: Split, monkeypatch: pytest.MonkeyPatch) -> None:
    need_module("optuna")
    spies: list[SpyCooccurrence] = []

    def fake_make_model(name: str, **params: float) -> SpyCooccurrence:
        spy = SpyCooccurrence(**params)
        spies.append(spy)
        return spy

    monkeypatch.setattr("xsell.evaluation.tuning.make_model", fake_make_model)
    monkeypatch.setattr("xsell.evaluation.tuning.model_parameters", lambda name: ["weight"])
    result = tune("spy", split.train, "2025-10-01", n_trials=3, space={"weight": (0.5, 2.0)})
    test_ids = set(split.test.baskets.ids.tolist())
    fitted = [s for s in spies if s.seen_baskets]
    assert len(fitted) == 3
    for spy in fitted:
        assert not test_ids & set(spy.seen_baskets)
        # Fitted on the earlier part of train only: validation baskets are held out too.
        assert len(spy.seen_baskets) == result.validation["fit_baskets"]
    assert result.validation["fit_baskets"] + result.validation["validation_baskets"] == (
        split.train.n_baskets
    )


def test_same_seed_same_trials(split: Split) -> None:
    need_module("optuna")
    first = tune("popularity", split.train, "2025-10-01", n_trials=4, seed=3, max_queries=300)
    second = tune("popularity", split.train, "2025-10-01", n_trials=4, seed=3, max_queries=300)
    assert first.trials == second.trials
    assert first.best_params == second.best_params
    assert first.best_value == max(t["value"] for t in first.trials)
    assert set(first.best_params) == {"half_life_days"}


def test_parse_space() -> None:
    assert parse_space(["a=1:5", "b=0.1:2:log", "c=lift,jaccard,3"]) == {
        "a": (1, 5),
        "b": (0.1, 2, "log"),
        "c": ["lift", "jaccard", 3],
    }
    with pytest.raises(ValidationError, match=r"search range 'a': expected name=low:high"):
        parse_space(["a"])
    with pytest.raises(ValidationError, match=r"search range 'a=1:x': 'x' is not a number"):
        parse_space(["a=1:x"])
    with pytest.raises(ValidationError, match=r"expected name=low:high\[:log\]"):
        parse_space(["a=1:2:3"])
    assert [parse_literal(t) for t in ("3", "0.5", "True", "none", " lift ")] == [
        3,
        0.5,
        True,
        None,
        "lift",
    ]


def test_bad_tuning_requests(split: Split) -> None:
    need_module("optuna")
    with pytest.raises(ValidationError, match=r"model 'popularity' has no parameter 'alpha'"):
        search_space("popularity", {"alpha": (1, 2)})
    with pytest.raises(ValidationError, match="n_trials must be at least 1, got 0"):
        tune("popularity", split.train, "random", n_trials=0)
    with pytest.raises(ValidationError, match=r"rank metric must be one of .* got 'coverage@10'"):
        tune("popularity", split.train, "random", metric="coverage@10")
    with pytest.raises(ValidationError, match=r"metric must look like recall@10, got 'recall'"):
        tune("popularity", split.train, "random", metric="recall")


def test_every_default_search_range_is_a_parameter_of_its_model() -> None:
    for model, space in SPACES.items():
        assert set(space) <= set(model_parameters(model)), model
        assert search_space(model) == space
    with pytest.raises(ValidationError, match=r"no default search space for model 'hybrid'"):
        search_space("hybrid")
