"""Is a rule more than chance? Fisher's exact test and the Benjamini-Hochberg correction.

A rule ``A -> C`` is a 2x2 table over baskets (A or not, C or not). Under
independence with the margins fixed, the number of baskets holding both is
hypergeometric, so the one-sided Fisher p-value of a *positive* association is
``P[X >= n(A∪C)]`` with ``X ~ Hypergeom(N, n(C), n(A))``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def fisher_p_values(
    count_ac: np.ndarray, count_a: np.ndarray, count_c: np.ndarray, n_baskets: int
) -> np.ndarray:
    """One-sided (greater) Fisher exact p-value of each rule, from basket counts.

    Equal to ``scipy.stats.fisher_exact(table, alternative="greater")`` on the
    table ``[[n(AC), n(A) - n(AC)], [n(C) - n(AC), N - n(A) - n(C) + n(AC)]]``,
    vectorised over rules.
    """
    count_ac = np.asarray(count_ac, dtype=np.int64)
    p = stats.hypergeom.sf(count_ac - 1, n_baskets, np.asarray(count_c), np.asarray(count_a))
    return np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), controlling the false discovery rate."""
    p_values = np.asarray(p_values, dtype=np.float64)
    if p_values.size == 0:
        return p_values.copy()
    return np.asarray(stats.false_discovery_control(p_values, method="bh"), dtype=np.float64)
