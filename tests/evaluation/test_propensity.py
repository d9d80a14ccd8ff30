"""The propensity backtest and campaign list on the synthetic shop: the periods, models that
beat mailing at random, nothing after the date looked at, and the errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.shops import standard_data
from xsell.errors import ValidationError
from xsell.evaluation.propensity import RFM, backtest, campaign

AS_OF = "2025-10-01"
MODELS = ("logreg", "gbdt")


def _target() -> str:
    data = standard_data()
    categories = pd.Series(data.item_categories()[data.lines["item"].to_numpy()])
    return f"category={categories.value_counts().index[0]}"


@pytest.fixture(scope="module")
def result() -> object:
    return backtest(standard_data(), _target(), AS_OF, 30, MODELS)


def test_the_backtest_learns_then_tests_a_horizon_later(result: object) -> None:
    assert result.train_as_of == pd.Timestamp("2025-08-02")  # type: ignore[attr-defined]
    assert result.test_as_of == pd.Timestamp("2025-09-01")  # type: ignore[attr-defined]
    metrics = result.metrics  # type: ignore[attr-defined]
    assert metrics.index.tolist() == [*MODELS, RFM]
    # Mailing at random reaches buyers at their overall rate: a lift of 1, an AUC of 0.5.
    # The synthetic customers keep their taste in categories, which RFM does not see.
    for name in MODELS:
        assert metrics.loc[name, "roc_auc"] > 0.6, metrics
        assert metrics.loc[name, "lift@10%"] > 1.3, metrics
        assert metrics.loc[name, "roc_auc"] > metrics.loc[RFM, "roc_auc"] + 0.05, metrics
    assert 0.0 < metrics.loc[MODELS[0], "brier"] < metrics.loc[MODELS[0], "buyer_rate"]
    gains = result.gains  # type: ignore[attr-defined]
    assert gains.iloc[0].tolist() == [0.0] * 3 and gains.iloc[-1].tolist() == pytest.approx(
        [1.0] * 3
    )
    assert (np.diff(gains.to_numpy(), axis=0) >= -1e-12).all()


def test_the_campaign_ranks_every_customer_and_looks_at_nothing_later(result: object) -> None:
    data = standard_data()
    ranked = campaign(data, _target(), AS_OF, 30, MODELS, result)  # type: ignore[arg-type]
    assert ranked["rank"].tolist() == list(range(1, len(ranked) + 1))
    assert (np.diff(ranked["probability"].to_numpy()) <= 0).all()
    assert ranked["user_id"].is_unique
    assert ranked["reasons"].str.match(r"^(logreg|gbdt): raised by: ").mean() > 0.9
    best = result.best()  # type: ignore[attr-defined]
    assert ranked["probability"].tolist() == ranked[f"p_{best}"].tolist()
    before = data.subset_baskets(data.basket_time < np.datetime64(pd.Timestamp(AS_OF), "ns"))
    again = campaign(
        before, _target(), AS_OF, 30, MODELS, backtest(before, _target(), AS_OF, 30, MODELS)
    )
    pd.testing.assert_frame_equal(ranked, again)


def test_dates_without_enough_history_or_buyers_are_clear_errors() -> None:
    data = standard_data()
    with pytest.raises(ValidationError, match=r"--as-of 2025-02-01: the backtest learns as of"):
        backtest(data, _target(), "2025-02-01", 30, MODELS)
    with pytest.raises(ValidationError, match="--horizon: expected a whole number of days >= 1"):
        backtest(data, _target(), AS_OF, 0, MODELS)
    with pytest.raises(ValidationError, match=r"no customer bought it between 2027-"):
        backtest(data, _target(), "2027-06-01", 30, MODELS)
