"""Per-arm metrics of an online experiment, uplift against control with confidence intervals.

Every metric is a ratio of per-unit sums, ``R = sum(y) / sum(x)`` (``x = 1`` for a
per-session metric). Units are independent, the events within one are not, so
the variance of ``R`` comes from the **delta method** on unit-level totals
(Deng, Lu & Litz, "Applying the Delta Method in Metric Analytics", KDD 2018):

    Var(R) ~= (s_yy - 2 R s_xy + R^2 s_xx) / (n * mean(x)^2)

with sample (co)variances. The difference of two arms has the sum of their
variances and a normal interval; the relative uplift ``R_t / R_c - 1`` uses the
delta method once more (``Var(log R) ~= Var(R) / R^2``). For ``x = 1`` this is
Welch's unequal-variance interval for a difference of means with normal quantiles.
A sample-ratio mismatch (SRM) check compares the units per arm with the
configured weights (chi-square goodness of fit).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from xsell.errors import ValidationError
from xsell.evaluation.experiment import Arm, UnitTable

#: metric -> (numerator count, denominator count or None for "per session"), and its words
METRICS: dict[str, tuple[str, str | None, str]] = {
    "ctr": ("clicks", "impressions", "clicks on suggested items per impression"),
    "cart_rate": ("carts", "impressions", "suggested items added to cart per impression"),
    "attach_rate": ("attached_orders", "orders", "share of orders with an attributed item"),
    "revenue_per_session": ("revenue", None, "attributed cross-sell revenue per session"),
}
#: The metric an experiment is decided on.
PRIMARY = "revenue_per_session"
#: p-value below which the sample ratio is called mismatched (a common, strict choice).
SRM_ALPHA = 0.001
METHOD = "delta method (normal interval on unit-level totals)"


def ratio_estimate(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """``sum(y) / sum(x)`` and its delta-method variance (``nan`` when undefined)."""
    n = len(y)
    if n == 0 or x.sum() == 0:
        return math.nan, math.nan
    r = float(y.sum() / x.sum())
    if n < 2:
        return r, math.nan
    cov = np.cov(np.vstack([y, x]), ddof=1)
    mean_x = float(x.mean())
    var = (cov[0, 0] - 2 * r * cov[0, 1] + r * r * cov[1, 1]) / (n * mean_x * mean_x)
    return r, float(max(var, 0.0))


@dataclass(frozen=True)
class Uplift:
    """A treatment arm against control on one metric (``level`` intervals)."""

    metric: str
    arm: str
    control: str
    value: float
    control_value: float
    difference: float
    difference_low: float
    difference_high: float
    relative: float
    relative_low: float
    relative_high: float
    p_value: float
    significant: bool


def compare(
    y_t: np.ndarray,
    x_t: np.ndarray,
    y_c: np.ndarray,
    x_c: np.ndarray,
    metric: str = PRIMARY,
    arm: str = "treatment",
    control: str = "control",
    level: float = 0.95,
) -> Uplift:
    """Uplift of a ratio metric of the treatment units (``y_t / x_t``) over control's."""
    if not 0 < level < 1:
        raise ValidationError(f"level must be between 0 and 1, got {level}")
    z = float(stats.norm.ppf(0.5 + level / 2))
    r_t, v_t = ratio_estimate(y_t, x_t)
    r_c, v_c = ratio_estimate(y_c, x_c)
    diff = r_t - r_c
    se = math.sqrt(v_t + v_c) if math.isfinite(v_t + v_c) else math.nan
    if se > 0:
        p = float(2 * stats.norm.sf(abs(diff) / se))
    else:
        p = math.nan if not math.isfinite(se) else (1.0 if diff == 0 else 0.0)
    rel = rel_low = rel_high = math.nan
    if r_c > 0 and r_t > 0 and math.isfinite(v_t + v_c):
        log_se = math.sqrt(v_t / r_t**2 + v_c / r_c**2)
        log_ratio = math.log(r_t / r_c)
        rel = r_t / r_c - 1
        rel_low = math.exp(log_ratio - z * log_se) - 1
        rel_high = math.exp(log_ratio + z * log_se) - 1
    low, high = diff - z * se, diff + z * se
    return Uplift(
        metric=metric,
        arm=arm,
        control=control,
        value=r_t,
        control_value=r_c,
        difference=diff,
        difference_low=low,
        difference_high=high,
        relative=rel,
        relative_low=rel_low,
        relative_high=rel_high,
        p_value=p,
        significant=bool(math.isfinite(low) and (low > 0 or high < 0)),
    )


def sample_ratio(counts: Sequence[int], weights: Sequence[float]) -> dict[str, float | bool]:
    """Chi-square test of the units per arm against the arms' weights (SRM check)."""
    observed = np.asarray(counts, dtype=float)
    total = observed.sum()
    if total == 0:
        return {"chi2": math.nan, "p_value": math.nan, "mismatch": False}
    share = np.asarray(weights, dtype=float) / float(np.sum(weights))
    result = stats.chisquare(observed, share * total)
    p = float(result.pvalue)
    return {"chi2": float(result.statistic), "p_value": p, "mismatch": bool(p < SRM_ALPHA)}


def _columns(table: UnitTable, rows: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    numerator, denominator, _ = METRICS[metric]
    y = table.counts[numerator][rows]
    x = np.ones_like(y) if denominator is None else table.counts[denominator][rows]
    return y, x


def summarize(
    name: str, table: UnitTable, arms: Sequence[Arm], control: str | None = None
) -> dict[str, Any]:
    """The experiment's report as JSON-ready data: arms, metrics, uplifts, SRM check.

    ``control`` defaults to the first arm.
    """
    control = control or arms[0].name
    if control not in {a.name for a in arms}:
        raise ValidationError(
            f"control arm {control!r} is not an arm of {name!r}; "
            f"choose one of {[a.name for a in arms]}"
        )
    out_arms = []
    for arm in arms:
        rows = table.arm_rows(arm.name)
        values: dict[str, Any] = {"arm": arm.name, "bundle": arm.bundle, "weight": arm.weight}
        values["sessions"] = int(rows.sum())
        for count in ("impressions", "clicks", "carts", "orders", "attached_orders", "revenue"):
            values[count] = float(table.counts[count][rows].sum()) if len(rows) else 0.0
        for metric in METRICS:
            values[metric] = ratio_estimate(*_columns(table, rows, metric))[0]
        out_arms.append(values)
    base = table.arm_rows(control)
    uplifts = [
        asdict(
            compare(
                *_columns(table, table.arm_rows(arm.name), metric),
                *_columns(table, base, metric),
                metric=metric,
                arm=arm.name,
                control=control,
            )
        )
        for arm in arms
        if arm.name != control
        for metric in METRICS
    ]
    srm = sample_ratio([a["sessions"] for a in out_arms], [a.weight for a in arms])
    return {
        "experiment": name,
        "control": control,
        "method": METHOD,
        "level": 0.95,
        "primary_metric": PRIMARY,
        "metrics": {m: words for m, (_, _, words) in METRICS.items()},
        "arms": out_arms,
        "uplift": uplifts,
        "sample_ratio": srm,
    }
