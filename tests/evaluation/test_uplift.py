"""Uplift intervals against statsmodels and a bootstrap; the SRM check; an A/A check."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from tests.conftest import need_module
from xsell.errors import ValidationError
from xsell.evaluation.experiment import Arm, UnitTable
from xsell.evaluation.uplift import compare, ratio_estimate, sample_ratio, summarize


def fixed_sessions(seed: int, n: int, rate: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.exponential(8.0, n) * (rng.random(n) < rate)


def test_per_session_interval_equals_statsmodels_welch_z_interval() -> None:
    weightstats = need_module("statsmodels.stats.weightstats")
    treated, control = fixed_sessions(1, 3000, 0.12), fixed_sessions(2, 2500, 0.10)
    found = compare(treated, np.ones_like(treated), control, np.ones_like(control))
    oracle = weightstats.CompareMeans.from_data(treated, control)
    low, high = oracle.zconfint_diff(alpha=0.05, usevar="unequal")
    _, p = oracle.ztest_ind(usevar="unequal")
    assert found.difference == pytest.approx(treated.mean() - control.mean())
    assert (found.difference_low, found.difference_high) == pytest.approx((low, high), rel=1e-9)
    assert found.p_value == pytest.approx(p, rel=1e-9)


def test_ratio_interval_agrees_with_a_bootstrap_over_units() -> None:
    rng = np.random.default_rng(3)
    n = 2000
    impressions = rng.integers(1, 6, n).astype(float)
    clicks = rng.binomial(impressions.astype(int), 0.08).astype(float)
    r, var = ratio_estimate(clicks, impressions)
    assert r == pytest.approx(clicks.sum() / impressions.sum())
    boot = stats.bootstrap(
        (clicks, impressions),
        lambda y, x, axis=-1: y.sum(axis=axis) / x.sum(axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=4000,
        method="percentile",
        random_state=np.random.default_rng(0),
    )
    # the bootstrap standard error of the unit-resampled ratio matches the delta method
    assert math.sqrt(var) == pytest.approx(boot.standard_error, rel=0.08)


def test_relative_interval_brackets_the_true_ratio_under_the_delta_method() -> None:
    treated, control = fixed_sessions(4, 4000, 0.15), fixed_sessions(5, 4000, 0.10)
    found = compare(treated, np.ones_like(treated), control, np.ones_like(control))
    assert found.relative == pytest.approx(treated.mean() / control.mean() - 1)
    assert found.relative_low < found.relative < found.relative_high
    assert found.significant == (found.difference_low > 0)


def test_compare_refuses_a_level_outside_zero_one() -> None:
    ones = np.ones(3)
    with pytest.raises(ValidationError, match=r"level must be between 0 and 1, got 1\.5"):
        compare(ones, ones, ones, ones, level=1.5)


def test_sample_ratio_matches_the_chi_square_formula() -> None:
    found = sample_ratio([5200, 4800], [50, 50])
    chi2 = (5200 - 5000) ** 2 / 5000 + (4800 - 5000) ** 2 / 5000
    assert found["chi2"] == pytest.approx(chi2)
    assert found["p_value"] == pytest.approx(stats.chi2.sf(chi2, 1))
    assert found["mismatch"] is True  # p = 6e-5
    assert sample_ratio([5030, 4970], [50, 50])["mismatch"] is False


def test_a_a_comparisons_are_significant_about_five_percent_of_the_time() -> None:
    rng = np.random.default_rng(11)
    significant = 0
    for _ in range(400):
        a, b = rng.exponential(5.0, (2, 800)) * (rng.random((2, 800)) < 0.2)
        significant += compare(a, np.ones_like(a), b, np.ones_like(b)).significant
    # binomial(400, 0.05): mean 20, sd 4.4
    assert 8 <= significant <= 34


def test_summarize_reports_arms_uplift_and_srm() -> None:
    table = UnitTable(
        ["u1", "u2", "u3", "u4"],
        ["a", "a", "b", "b"],
        {
            "impressions": np.array([2.0, 2.0, 2.0, 2.0]),
            "clicks": np.array([0.0, 1.0, 1.0, 2.0]),
            "carts": np.array([0.0, 0.0, 1.0, 1.0]),
            "orders": np.array([1.0, 1.0, 1.0, 1.0]),
            "attached_orders": np.array([0.0, 1.0, 1.0, 1.0]),
            "revenue": np.array([0.0, 2.0, 4.0, 6.0]),
        },
    )
    arms = [Arm("a", "pop", 50), Arm("b", "cooc", 50)]
    report = summarize("exp", table, arms)
    a, b = report["arms"]
    assert (a["sessions"], b["sessions"]) == (2, 2)
    assert (a["ctr"], b["ctr"]) == (0.25, 0.75)
    assert (a["attach_rate"], b["attach_rate"]) == (0.5, 1.0)
    assert (a["revenue_per_session"], b["revenue_per_session"]) == (1.0, 5.0)
    revenue = next(u for u in report["uplift"] if u["metric"] == "revenue_per_session")
    assert revenue["difference"] == 4.0 and revenue["arm"] == "b"
    assert report["sample_ratio"]["mismatch"] is False
    with pytest.raises(ValidationError, match="control arm 'c' is not an arm of 'exp'"):
        summarize("exp", table, arms, control="c")
