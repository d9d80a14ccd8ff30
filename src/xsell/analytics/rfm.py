"""RFM scoring: recency, frequency and monetary value in quintiles, mapped to named segments."""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from xsell.analytics.common import line_revenue, need_customers, need_times
from xsell.data.shopdata import ShopData

#: Segment of every (R score, F score), rows R = 1..5, columns F = 1..5: the usual
#: marketing map (champions buy often and lately; hibernating neither).
SEGMENT_GRID: Final = (
    ("hibernating", "hibernating", "at risk", "at risk", "can't lose them"),
    ("hibernating", "hibernating", "at risk", "at risk", "can't lose them"),
    ("about to sleep", "about to sleep", "need attention", "loyal", "loyal"),
    ("promising", "potential loyalists", "potential loyalists", "loyal", "loyal"),
    ("new customers", "potential loyalists", "potential loyalists", "champions", "champions"),
)
#: Segment names, best first (the order charts use).
SEGMENT_ORDER: Final = (
    "champions",
    "loyal",
    "potential loyalists",
    "new customers",
    "promising",
    "need attention",
    "about to sleep",
    "can't lose them",
    "at risk",
    "hibernating",
)


def quintile_scores(values: np.ndarray) -> np.ndarray:
    """Score 1..5 of each value: ``1 + floor(5 * share of values strictly below it)``.

    Equal values get equal scores (a quintile boundary never splits a tie), so a
    long tail of one-time buyers all score 1 on frequency.
    """
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return np.empty(0, dtype=np.int64)
    below = rankdata(values, method="min") - 1
    return (1 + np.floor(5 * below / len(values))).astype(np.int64)


def segment_of(r: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Segment name of each (R, F) score pair, from :data:`SEGMENT_GRID`."""
    grid = np.array(SEGMENT_GRID, dtype=object)
    return grid[np.asarray(r) - 1, np.asarray(f) - 1]


def rfm_segments(data: ShopData, now: np.datetime64 | str | None = None) -> pd.DataFrame:
    """Recency, frequency, monetary value, their quintile scores and the segment of every customer.

    Parameters
    ----------
    data:
        Order lines with customer ids and times (prices optional).
    now:
        Reference time for recency; default the time of the last order in ``data``.

    Returns
    -------
    pandas.DataFrame
        One row per customer with at least one order: ``user`` (index),
        ``user_id``, ``recency_days`` (whole days since the last order),
        ``frequency`` (orders), ``monetary`` (revenue; NaN without prices), scores
        ``r``, ``f``, ``m`` (1..5, from :func:`quintile_scores`; ``m`` is 0 without
        prices), ``rfm`` (e.g. ``"545"``) and ``segment``.

    Raises
    ------
    Unavailable
        When every order is anonymous or no order has a time.
    """
    owners = need_customers(data, "RFM segments")
    times = need_times(data, "RFM segments")
    known = (owners >= 0) & ~np.isnat(times)
    baskets = pd.DataFrame({"user": owners[known], "time": times[known]})
    per_user = baskets.groupby("user", sort=True).agg(
        last=("time", "max"), frequency=("time", "size")
    )
    reference = pd.Timestamp(now).to_datetime64() if now is not None else np.max(times[known])
    recency = (reference - per_user["last"].to_numpy()).astype("timedelta64[s]").astype(np.int64)
    revenue = line_revenue(data)
    line_user = data.lines["user"].to_numpy()
    priced = (line_user >= 0) & np.isfinite(revenue)
    monetary = (
        pd.Series(revenue[priced])
        .groupby(line_user[priced])
        .sum()
        .reindex(per_user.index)
        .to_numpy(dtype=np.float64)
    )
    has_money = bool(priced.any())
    out = pd.DataFrame(
        {
            "user_id": data.users.to_external(per_user.index.to_numpy()),
            "recency_days": recency // 86400,
            "frequency": per_user["frequency"].to_numpy(np.int64),
            "monetary": monetary if has_money else np.nan,
        },
        index=pd.Index(per_user.index.to_numpy(), name="user"),
    )
    out["r"] = quintile_scores(-out["recency_days"].to_numpy(np.float64))
    out["f"] = quintile_scores(out["frequency"].to_numpy(np.float64))
    out["m"] = (
        quintile_scores(np.nan_to_num(out["monetary"].to_numpy(np.float64), nan=0.0))
        if has_money
        else 0
    )
    out["rfm"] = out["r"].astype(str) + out["f"].astype(str) + out["m"].astype(str)
    out["segment"] = segment_of(out["r"].to_numpy(), out["f"].to_numpy())
    return out
