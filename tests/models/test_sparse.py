"""Sparse helpers of the neighbourhood models against dense NumPy (Hypothesis) and by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.shops import dated
from xsell.data.shopdata import ShopData
from xsell.models._sparse import (
    basket_weights,
    entry_positions,
    prune_rows,
    replace_rows,
    sparse_scores,
    summed_evidence,
)


@st.composite
def matrix_and_rows(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
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
    got = prune_rows(sp.csr_matrix(dense), k)
    assert got.has_sorted_indices
    for row, values in enumerate(dense):
        stored = np.flatnonzero(values)
        # Largest values first; ties broken by the lower column (a stable sort of -value).
        best = stored[np.argsort(-values[stored], kind="stable")][:k]
        expected = np.zeros_like(values)
        expected[best] = values[best]
        np.testing.assert_array_equal(got.toarray()[row], expected)
    np.testing.assert_array_equal(prune_rows(sp.csr_matrix(dense), None).toarray(), dense)


@settings(max_examples=200, deadline=None)
@given(matrix_and_rows(), st.booleans(), st.integers(0, 2**31 - 1))
def test_entry_positions_point_at_each_stored_pair_and_minus_one_elsewhere(
    case: tuple[np.ndarray, np.ndarray, np.ndarray], shuffled: bool, seed: int
) -> None:
    dense = case[0]
    n = len(dense)
    rng = np.random.default_rng(seed)
    matrix = sp.csr_matrix(dense)
    if shuffled:  # the same entries, columns in a random order within each row
        for row in range(n):
            lo, hi = matrix.indptr[row], matrix.indptr[row + 1]
            order = lo + rng.permutation(hi - lo)
            matrix.indices[lo:hi] = matrix.indices[order]
            matrix.data[lo:hi] = matrix.data[order]
        matrix.has_sorted_indices = False
    rows = rng.integers(0, n, 30)
    cols = rng.integers(0, n, 30)
    got = entry_positions(matrix, rows, cols)
    for row, col, at in zip(rows, cols, got, strict=True):
        if dense[row, col] == 0:
            assert at == -1
        else:
            assert matrix.indptr[row] <= at < matrix.indptr[row + 1]
            assert matrix.indices[at] == col
            assert matrix.data[at] == dense[row, col]


@settings(max_examples=100, deadline=None)
@given(matrix_and_rows())
def test_sum_and_max_of_similarity_rows_equal_loops(
    case: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    similarity, _, carts = case
    n = similarity.shape[0]
    baskets = sp.csr_matrix((carts[:, :n] > 0).astype(np.float64))
    total = sparse_scores(baskets, sp.csr_matrix(similarity), "sum")
    biggest = sparse_scores(baskets, sp.csr_matrix(similarity), "max")
    evidence = summed_evidence(baskets, sp.csr_matrix(similarity)).toarray()
    for r in range(baskets.shape[0]):
        cart = baskets[r].indices
        if len(cart) == 0:
            assert np.isneginf(total[r]).all() and np.isneginf(biggest[r]).all()
            continue
        reached = (similarity[cart] > 0).any(axis=0)
        np.testing.assert_array_equal(np.isfinite(total[r]), reached)
        np.testing.assert_allclose(total[r][reached], similarity[cart].sum(axis=0)[reached])
        np.testing.assert_allclose(biggest[r][reached], similarity[cart].max(axis=0)[reached])
        np.testing.assert_allclose(evidence[r], similarity[cart].sum(axis=0))


def test_basket_weights_halve_every_half_life() -> None:
    data = dated([["a"], ["b"], ["a", "b"]], [0, 10, 30])
    np.testing.assert_allclose(basket_weights(data, 10.0), [0.125, 0.25, 1.0])
    np.testing.assert_array_equal(basket_weights(data, None), [1.0, 1.0, 1.0])
    untimed = ShopData.from_baskets([["a"], ["b"]])
    np.testing.assert_array_equal(basket_weights(untimed, 10.0), [1.0, 1.0])


def test_baskets_without_a_time_count_fully() -> None:
    frame = pd.DataFrame(
        {
            "basket_id": ["1", "2", "3"],
            "item_id": ["a", "b", "c"],
            "time": [pd.Timestamp("2025-01-01"), pd.NaT, pd.Timestamp("2025-01-11")],
        }
    )
    weights = basket_weights(ShopData.from_frame(frame), 10.0)
    order = ShopData.from_frame(frame).baskets.ids.tolist()
    assert dict(zip(order, weights.tolist(), strict=True)) == pytest.approx(
        {"1": 0.5, "2": 1.0, "3": 1.0}
    )
