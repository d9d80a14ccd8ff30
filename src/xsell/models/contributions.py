"""Why a learned model scored a row as it did: additive feature contributions, in words.

For tree models the contributions are SHAP values computed by LightGBM itself
(``Booster.predict(..., pred_contrib=True)``, the TreeSHAP algorithm; the
``shap`` package returns the same numbers); for a logistic regression they are
each coefficient times the feature's distance from its training mean. Either
way the contributions plus the base value equal the model's raw score (a
LambdaRank score, a log-odds), which is what makes them a fair account.

Features that say one thing (a component model's score, rank and raw strength)
are added up into one :class:`Contribution` and worded once, so a merchandiser
reads "ranked up by: bought with 'Mug' in 31 % of its orders (+0.82)".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The smallest contribution worded in a sentence (it shows as +0.01 or more).
_SHOWN = 0.005


@dataclass(frozen=True)
class Contribution:
    """One group of features and how much it moved the score, with its wording."""

    feature: str
    value: float
    words: str

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "contribution": self.value, "words": self.words}


@dataclass(frozen=True)
class Explanation:
    """The score of one row as ``base`` plus its contributions (largest effect first)."""

    base: float
    contributions: tuple[Contribution, ...]

    @property
    def score(self) -> float:
        """``base`` plus every contribution: the model's raw score of the row."""
        return self.base + float(sum(c.value for c in self.contributions))

    def sentence(self, top: int = 3, up_by: str = "ranked up by", down_by: str = "down by") -> str:
        """``ranked up by: A (+0.82), B (+0.31); down by: C (-0.12)`` (the ``top`` of each)."""
        # What rounds to +0.00 says nothing to a reader: it is kept in the numbers only.
        up = [c for c in self.contributions if c.value >= _SHOWN][:top]
        down = [c for c in self.contributions if c.value <= -_SHOWN][:top]
        parts = []
        if up:
            parts.append(f"{up_by}: " + ", ".join(_worded(c) for c in up))
        if down:
            parts.append(f"{down_by}: " + ", ".join(_worded(c) for c in down))
        return "; ".join(parts) if parts else "no feature moved its score"

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "score": self.score,
            "contributions": [c.to_dict() for c in self.contributions],
        }


def _worded(c: Contribution) -> str:
    return f"{c.words} ({c.value:+.2f})"


def tree_contributions(booster: Any, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SHAP values of a LightGBM booster's rows: (``n x n_features``, base value per row).

    One ``pred_contrib`` call; its last column is the expected value (the base).
    """
    rows = np.asarray(features, dtype=np.float64)
    if len(rows) == 0:
        return np.zeros((0, rows.shape[1] if rows.ndim == 2 else 0)), np.zeros(0)
    # One thread: a request explains ~10 rows, and waking LightGBM's thread pool for
    # them costs more than it saves on a busy machine.
    out = np.asarray(booster.predict(rows, pred_contrib=True, num_threads=1), dtype=np.float64)
    return out[:, :-1], out[:, -1]


def explain_rows(
    values: np.ndarray,
    base: np.ndarray,
    groups: Sequence[str],
    words: Callable[[int, str], str],
    top: int = 3,
) -> list[Explanation]:
    """Per-row explanations from a contributions matrix whose columns belong to ``groups``.

    Parameters
    ----------
    values:
        ``n x n_features`` contributions.
    base:
        Base value of each row.
    groups:
        The group (what the feature says) of each column; columns of one group are added up.
    words:
        ``words(row, group)`` wording of one group for one row; asked only for the
        ``top`` groups up and down that an answer shows, the rest get the group name.
    """
    names = list(dict.fromkeys(groups))
    column_group = np.array([names.index(g) for g in groups], dtype=np.int64)
    # Columns x groups one-hot: one product adds up the columns of each group.
    onehot = np.zeros((len(groups), len(names)))
    onehot[np.arange(len(groups)), column_group] = 1.0
    summed = np.asarray(values, dtype=np.float64) @ onehot
    out = []
    for row in range(values.shape[0]):
        order = np.argsort(-np.abs(summed[row]), kind="stable")
        shown = {int(g) for g in [j for j in order if summed[row, j] > 0][:top]} | {
            int(g) for g in [j for j in order if summed[row, j] < 0][:top]
        }
        contributions = tuple(
            Contribution(
                names[g],
                float(summed[row, g]),
                words(row, names[g]) if g in shown else names[g],
            )
            for g in (int(j) for j in order)
        )
        out.append(Explanation(float(base[row]), contributions))
    return out
