"""Gains, lift and calibration by hand, ties counted pro rata (checked against the mean over
every order of the tied rows), and the AUCs against a brute-force pair count."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from xsell.evaluation.propensity_metrics import calibration, gains, lift_at, score_metrics


def test_gains_and_lift_without_ties_by_hand() -> None:
    label = np.array([1, 0, 1, 0, 0, 0, 0, 0, 1, 0])
    score = np.arange(10, 0, -1, dtype=float)  # row 0 best
    # Top 10 % = row 0 (a buyer): 1 of 3 buyers; top 30 %: rows 0-2 hold 2 buyers.
    assert gains(label, score, np.array([0.0, 0.1, 0.3, 1.0])).tolist() == pytest.approx(
        [0.0, 1 / 3, 2 / 3, 1.0]
    )
    assert lift_at(label, score, 0.1) == pytest.approx((1 / 1) / (3 / 10))


def test_ties_count_as_the_mean_over_every_order_of_the_tied_rows() -> None:
    label = np.array([1, 0, 0, 1, 0, 1])
    score = np.array([2.0, 2.0, 2.0, 1.0, 1.0, 0.0])
    shares = np.array([1 / 6, 2 / 6, 0.5, 4 / 6])
    # The oracle: every order of the rows, best score first, ties in every order.
    found = []
    for order in itertools.permutations(range(6)):
        ranked = sorted(order, key=lambda i: -score[i])
        hits = np.cumsum(label[ranked]) / label.sum()
        found.append([hits[round(s * 6) - 1] for s in shares])
    np.testing.assert_allclose(gains(label, score, shares), np.mean(found, axis=0))


def test_calibration_bins_hold_equal_numbers_of_customers() -> None:
    p = np.array([0.1, 0.9, 0.2, 0.8])
    y = np.array([0, 1, 1, 1])
    bins = calibration(y, p, bins=2)
    assert bins["customers"].tolist() == [2, 2]
    assert bins["predicted"].tolist() == pytest.approx([0.15, 0.85])
    assert bins["observed"].tolist() == pytest.approx([0.5, 1.0])


def test_aucs_against_brute_force() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(60) < 0.3).astype(int)
    s = np.round(rng.random(60) + 0.5 * y, 1)  # coarse: many ties
    pos, neg = s[y == 1], s[y == 0]
    pairs = [(a > b) + 0.5 * (a == b) for a in pos for b in neg]
    got = score_metrics(y, s, probability=False)
    assert got["roc_auc"] == pytest.approx(np.mean(pairs))
    assert got["buyer_rate"] == pytest.approx(y.mean())
    assert "brier" not in got
    p = np.clip(s / 1.5, 0, 1)
    assert score_metrics(y, p, probability=True)["brier"] == pytest.approx(np.mean((p - y) ** 2))
