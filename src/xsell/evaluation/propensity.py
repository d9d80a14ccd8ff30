"""Campaign targeting: a time-based backtest of the propensity models, then the ranked list.

For a campaign on ``as_of`` with a ``horizon`` of H days nothing at or after
``as_of`` is looked at:

* **backtest**: each model learns from the customers as of ``as_of - 2H`` (label:
  bought the target in the next H days) and is tested on the customers as of
  ``as_of - H`` (label: bought it in the H days up to ``as_of``), beside the RFM
  baseline (R + F + M quintile scores) on the same test customers;
* **campaign**: the models learn again, as of ``as_of - H``, and score every
  customer as of ``as_of``; the list is ranked by the model that lifted most in the
  backtest, with its probability and the top reasons (its feature contributions;
  a forest's reasons come from the best model that has them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.evaluation.propensity_metrics import gains, score_metrics
from xsell.models.propensity import Propensity
from xsell.models.propensity_features import (
    Features,
    customer_features,
    feature_words,
    labels,
    rfm_score,
    target_items,
)

#: Shares of customers at which the gains chart is drawn.
GAIN_SHARES = np.linspace(0.0, 1.0, 21)
RFM = "rfm"


@dataclass
class Backtest:
    """Metrics of every model and the baseline on the later period, and what they saw."""

    target: str
    train_as_of: pd.Timestamp
    test_as_of: pd.Timestamp
    horizon_days: int
    metrics: pd.DataFrame
    gains: pd.DataFrame
    train_customers: int
    train_buyers: int
    scores: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    label: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    def best(self, explaining: bool = False) -> str:
        """The model with the highest lift@10 % (``explaining``: among logreg and gbdt)."""
        frame = self.metrics.drop(index=RFM)
        if explaining:
            frame = frame[frame.index.isin(["logreg", "gbdt"])]
        if frame.empty:
            return ""
        return str(frame["lift@10%"].idxmax())


def _period(
    data: ShopData, at: pd.Timestamp, horizon: int, target: np.ndarray
) -> tuple[Features, np.ndarray]:
    features = customer_features(data, at, target)
    return features, labels(data, features.users, features.as_of, horizon, target)


def _check_horizon(data: ShopData, as_of: pd.Timestamp, horizon: int) -> None:
    if horizon < 1:
        raise ValidationError(f"--horizon: expected a whole number of days >= 1, got {horizon}")
    times = data.basket_time
    first = pd.Timestamp(np.nanmin(times[~np.isnat(times)]))
    start = as_of - pd.Timedelta(days=2 * horizon)
    if start <= first:
        raise ValidationError(
            f"--as-of {as_of.date()}: the backtest learns as of {start.date()} "
            f"(as-of minus twice the {horizon}-day horizon), before the first order "
            f"({first.date()}); choose a later --as-of or a shorter --horizon"
        )


def backtest(
    data: ShopData,
    target: str,
    as_of: str | pd.Timestamp,
    horizon_days: int = 30,
    models: Sequence[str] = ("logreg", "forest", "gbdt"),
    seed: int = 0,
) -> Backtest:
    """Learn as of ``as_of - 2H``, test as of ``as_of - H`` (see the module docstring)."""
    at = pd.Timestamp(as_of)
    _check_horizon(data, at, horizon_days)
    mask = target_items(data, target)
    h = pd.Timedelta(days=horizon_days)
    train, y_train = _period(data, at - 2 * h, horizon_days, mask)
    test, y_test = _period(data, at - h, horizon_days, mask)
    if not y_test.any():
        raise ValidationError(
            f"--target {target}: no customer bought it between {(at - h).date()} and "
            f"{at.date()}, so the backtest has nothing to find"
        )
    scores = {
        name: Propensity(name, seed).fit(train.values, y_train).predict(test.values)
        for name in models
    }
    scores[RFM] = rfm_score(test)
    metrics = pd.DataFrame(
        {name: score_metrics(y_test, s, probability=name != RFM) for name, s in scores.items()}
    ).T
    metrics.index.name = "model"
    curve = pd.DataFrame(
        {name: gains(y_test, s, GAIN_SHARES) for name, s in scores.items()}, index=GAIN_SHARES
    )
    curve.index.name = "share of customers"
    return Backtest(
        target,
        at - 2 * h,
        at - h,
        horizon_days,
        metrics,
        curve,
        len(y_train),
        int(y_train.sum()),
        scores,
        y_test,
    )


def campaign(
    data: ShopData,
    target: str,
    as_of: str | pd.Timestamp,
    horizon_days: int,
    models: Sequence[str],
    result: Backtest,
    seed: int = 0,
    reasons: int = 3,
) -> pd.DataFrame:
    """Every customer as of ``as_of``, most likely buyer first (see the module docstring).

    Columns: ``rank``, ``user_id``, ``probability`` (of the backtest's best model),
    one ``p_<model>`` per model, ``rfm_score`` and ``reasons``.
    """
    at = pd.Timestamp(as_of)
    mask = target_items(data, target)
    learn, y = _period(data, at - pd.Timedelta(days=horizon_days), horizon_days, mask)
    now = customer_features(data, at, mask)
    fitted = {name: Propensity(name, seed).fit(learn.values, y) for name in models}
    p = {name: model.predict(now.values) for name, model in fitted.items()}
    best = result.best() or next(iter(models))
    speaker = best if fitted[best].explains else result.best(explaining=True)
    words: list[str] = [""] * len(now.users)
    if speaker:
        explained = fitted[speaker].explain(
            now.values, now.names, lambda row, name: feature_words(now, row, name), top=reasons
        )
        assert explained is not None
        words = [e.sentence(reasons, "raised by", "lowered by") for e in explained]
    out = pd.DataFrame(
        {
            "user_id": data.users.ids[now.users].astype(str),
            "probability": p[best],
            **{f"p_{name}": values for name, values in p.items()},
            "rfm_score": rfm_score(now),
            "reasons": [f"{speaker}: {w}" if speaker else "" for w in words],
        }
    )
    out = out.sort_values(["probability", "user_id"], ascending=[False, True], kind="stable")
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.reset_index(drop=True)
