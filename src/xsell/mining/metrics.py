"""Rule interestingness metrics, each a small named function of three supports.

Every function takes the supports (fractions of baskets) of the antecedent
``s_a``, of the consequent ``s_c`` and of both together ``s_ac``, as NumPy arrays,
and returns an array. Formulas follow mlxtend's table of rule metrics, so results
can be checked against it. :data:`METRICS` is the registry: its keys are the
column names of a rules table and build the error messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np

from xsell.errors import ValidationError

Metric = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def support(s_a: np.ndarray, s_c: np.ndarray, s_ac: np.ndarray) -> np.ndarray:
    """Support: ``s(A∪C)``, the share of baskets holding both sides. Range [0, 1]."""
    return s_ac


def confidence(s_a: np.ndarray, s_c: np.ndarray, s_ac: np.ndarray) -> np.ndarray:
    """Confidence: ``s(A∪C) / s(A)``, how often C is bought when A is. Range [0, 1]."""
    return s_ac / s_a


def lift(s_a: np.ndarray, s_c: np.ndarray, s_ac: np.ndarray) -> np.ndarray:
    """Lift: ``s(A∪C) / (s(A) s(C))``; 1 is independence, above 1 a complement. Range [0, inf)."""
    return s_ac / (s_a * s_c)


def leverage(s_a: np.ndarray, s_c: np.ndarray, s_ac: np.ndarray) -> np.ndarray:
    """Leverage: ``s(A∪C) - s(A) s(C)``, co-occurrence above independence. Range [-1, 1]."""
    return s_ac - s_a * s_c


def conviction(s_a: np.ndarray, s_c: np.ndarray, s_ac: np.ndarray) -> np.ndarray:
    """Conviction: ``(1 - s(C)) / (1 - confidence)``; ``inf`` when confidence is 1.

    Range [0, inf].
    """
    conf = s_ac / s_a
    out = np.full(np.shape(conf), np.inf)
    below = conf < 1.0
    out[below] = (1.0 - s_c[below]) / (1.0 - conf[below])
    return out


def zhangs_metric(s_a: np.ndarray, s_c: np.ndarray, s_ac: np.ndarray) -> np.ndarray:
    """Zhang's metric: ``leverage / max(s(A∪C)(1 - s(A)), s(A)(s(C) - s(A∪C)))``; 0 when 0/0.

    Association (+1) versus dissociation (-1). Range [-1, 1].
    """
    denominator = np.maximum(s_ac * (1 - s_a), s_a * (s_c - s_ac))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator == 0, 0.0, (s_ac - s_a * s_c) / denominator)


def jaccard(s_a: np.ndarray, s_c: np.ndarray, s_ac: np.ndarray) -> np.ndarray:
    """Jaccard: ``s(A∪C) / (s(A) + s(C) - s(A∪C))``, overlap of the basket sets. Range [0, 1]."""
    return s_ac / (s_a + s_c - s_ac)


def certainty(s_a: np.ndarray, s_c: np.ndarray, s_ac: np.ndarray) -> np.ndarray:
    """Certainty factor: ``(confidence - s(C)) / (1 - s(C))``; 0 when s(C) is 1. Range [-1, 1]."""
    denominator = 1 - s_c
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator == 0, 0.0, (s_ac / s_a - s_c) / denominator)


def kulczynski(s_a: np.ndarray, s_c: np.ndarray, s_ac: np.ndarray) -> np.ndarray:
    """Kulczynski: ``(s(A∪C)/s(A) + s(A∪C)/s(C)) / 2``, mean of both confidences. Range [0, 1]."""
    return (s_ac / s_a + s_ac / s_c) / 2


#: Name -> metric function; the names are rules-table columns.
METRICS: Final[dict[str, Metric]] = {
    f.__name__: f
    for f in (
        support,
        confidence,
        lift,
        leverage,
        conviction,
        zhangs_metric,
        jaccard,
        certainty,
        kulczynski,
    )
}


def cosine(s_a: np.ndarray, s_c: np.ndarray, s_ac: np.ndarray) -> np.ndarray:
    """Cosine: ``s(A∪C) / sqrt(s(A) s(C))``, overlap scaled by both sizes. Range [0, 1]."""
    return s_ac / np.sqrt(s_a * s_c)


def inclusion(s_a: np.ndarray, s_c: np.ndarray, s_ac: np.ndarray) -> np.ndarray:
    """Inclusion: ``s(A∪C) / min(s(A), s(C))``, the larger of both confidences. Range [0, 1]."""
    return s_ac / np.minimum(s_a, s_c)


#: Name -> measure of how strongly two items go together (co-occurrence models, category
#: affinity); each a function of the same three supports. All but ``support`` and ``lift``
#: are ratios of supports, so basket counts give the same values; ``lift`` takes counts with
#: ``s_ac`` scaled by the number of baskets. Their trade-offs: ``support`` and
#: ``confidence`` favour best sellers, ``lift`` favours rare pairs (give it a floor of
#: co-purchases), ``jaccard``, ``cosine`` and ``inclusion`` sit in between.
SIMILARITIES: Final[dict[str, Metric]] = {
    f.__name__: f for f in (support, confidence, lift, jaccard, cosine, inclusion, kulczynski)
}

#: Columns a rules table can be filtered or sorted by: the metrics plus counts and tests.
SORTABLE: Final = (
    *METRICS,
    "count",
    "antecedent_support",
    "consequent_support",
    "p_value",
    "q_value",
)


def get_metric(name: str) -> Metric:
    """The metric function called ``name``; the error lists every known metric."""
    try:
        return METRICS[name]
    except KeyError:
        raise ValidationError(f"unknown metric {name!r}; choose one of {sorted(METRICS)}") from None


def check_column(name: str, parameter: str = "sort_by") -> str:
    """Validate a column name for sorting or filtering a rules table."""
    if name not in SORTABLE:
        raise ValidationError(
            f"unknown metric {name!r} for {parameter}; choose one of {sorted(SORTABLE)}"
        )
    return name
