"""How well a campaign score orders customers: ROC-AUC, PR-AUC, lift, gains, calibration.

Scores may tie (an RFM score takes 13 values): the lift and the gains count a tie
group straddling a cut-off pro rata, which is the expected result of breaking the
ties at random, so a coarse score is neither helped nor hurt by the order of rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _check(label: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(label, dtype=np.float64)
    s = np.asarray(score, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"label and score differ in shape: {y.shape} vs {s.shape}")
    return y, s


def gains(label: np.ndarray, score: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Share of all buyers among the top ``shares`` of customers by score (ties pro rata)."""
    y, s = _check(label, score)
    n, buyers = len(y), y.sum()
    if n == 0 or buyers == 0:
        return np.full(len(shares), np.nan)
    groups = pd.DataFrame({"s": s, "y": y}).groupby("s", sort=True)["y"].agg(["size", "sum"])
    size = groups["size"].to_numpy()[::-1].astype(np.float64)
    hits = groups["sum"].to_numpy()[::-1]
    before = np.concatenate([[0.0], np.cumsum(size)])
    found = np.concatenate([[0.0], np.cumsum(hits)])
    out = []
    for share in np.asarray(shares, dtype=np.float64):
        take = share * n
        g = min(int(np.searchsorted(before, take, side="right")) - 1, len(size) - 1)
        partial = (take - before[g]) / size[g] * hits[g] if g < len(size) else 0.0
        out.append((found[g] + partial) / buyers)
    return np.array(out)


def lift_at(label: np.ndarray, score: np.ndarray, share: float = 0.1) -> float:
    """Buyer rate in the top ``share`` of customers over the overall buyer rate."""
    (found,) = gains(label, score, np.array([share]))
    return float(found / share)


def calibration(label: np.ndarray, probability: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Mean predicted and observed buying rate in ``bins`` groups of equal size by probability."""
    y, p = _check(label, probability)
    order = np.argsort(p, kind="stable")
    group = np.empty(len(p), dtype=np.int64)
    group[order] = np.arange(len(p)) * bins // max(len(p), 1)
    frame = pd.DataFrame({"bin": group, "predicted": p, "observed": y})
    return frame.groupby("bin").agg(
        predicted=("predicted", "mean"), observed=("observed", "mean"), customers=("bin", "size")
    )


def score_metrics(label: np.ndarray, score: np.ndarray, probability: bool) -> dict[str, float]:
    """ROC-AUC, PR-AUC (average precision), lift@10 %, and for probabilities the Brier score
    and the expected calibration error (mean gap between predicted and observed rate over
    ten equal bins)."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y, s = _check(label, score)
    out = {
        "roc_auc": float(roc_auc_score(y, s)),
        "pr_auc": float(average_precision_score(y, s)),
        "lift@10%": lift_at(y, s, 0.1),
        "buyer_rate": float(y.mean()),
    }
    if probability:
        bins = calibration(y, s)
        out["brier"] = float(brier_score_loss(y, s))
        out["calibration_error"] = float(
            np.average(np.abs(bins["predicted"] - bins["observed"]), weights=bins["customers"])
        )
    return out
