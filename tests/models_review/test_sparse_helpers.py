"""Sparse helpers of the neighbourhood models against dense NumPy (Hypothesis)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from xsell.models._sparse import prune_rows, replace_rows


@st.composite
def matrix_and_rows(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((n, n)) < 0.4, rng.integers(1, 5, (n, n)), 0).astype(np.float64)
    rows = rng.permutation(n)[: draw(st.integers(0, n))]
    new = np.where(rng.random((len(rows), n)) < 0.5, rng.integers(1, 5, (len(rows), n)), 0)
    return dense, rows, new.astype(np.float64)


@settings(max_examples=200, deadline=None)
@given(matrix_and_rows())
def test_replace_rows_equals_dense_assignment(
    case: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    dense, rows, new = case
    got = replace_rows(sp.csr_matrix(dense), rows, sp.csr_matrix(new))
    expected = dense.copy()
    expected[rows] = new
    np.testing.assert_array_equal(got.toarray(), expected)
    assert got.indptr[-1] == np.count_nonzero(expected)


@settings(max_examples=200, deadline=None)
@given(matrix_and_rows(), st.integers(1, 6))
def test_prune_rows_keeps_the_k_largest_with_lower_columns_on_ties(
    case: tuple[np.ndarray, np.ndarray, np.ndarray], k: int
) -> None:
    dense = case[0]
    got = prune_rows(sp.csr_matrix(dense), k).toarray()
    for row, values in enumerate(dense):
        stored = np.flatnonzero(values)
        # Largest values first; ties broken by the lower column (a stable sort of -value).
        best = stored[np.argsort(-values[stored], kind="stable")][:k]
        expected = np.zeros_like(values)
        expected[best] = values[best]
        np.testing.assert_array_equal(got[row], expected)
