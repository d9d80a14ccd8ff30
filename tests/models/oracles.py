"""Brute-force oracles of the neighbourhood models: plain loops and dense NumPy."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence

import numpy as np


def pair_and_item_counts(
    baskets: Sequence[Sequence[str]], weights: Sequence[float] | None = None
) -> tuple[Counter[tuple[str, str]], Counter[str], float]:
    """(ordered pair counts, item counts, number of baskets), each basket counted once per pair."""
    pairs: Counter[tuple[str, str]] = Counter()
    items: Counter[str] = Counter()
    weights = [1.0] * len(baskets) if weights is None else list(weights)
    for basket, w in zip(baskets, weights, strict=True):
        unique = sorted(set(basket))
        for a in unique:
            items[a] += w
        for a, b in itertools.permutations(unique, 2):
            pairs[a, b] += w
    return pairs, items, float(sum(weights))


def measure(name: str, together: float, count_a: float, count_b: float, n: float) -> float:
    """The textbook formula of each co-occurrence measure (row item ``a``, candidate ``b``)."""
    formulas = {
        "count": lambda: together,
        "confidence": lambda: together / count_a,
        "lift": lambda: together * n / (count_a * count_b),
        "jaccard": lambda: together / (count_a + count_b - together),
        "cosine": lambda: together / math.sqrt(count_a * count_b),
        "inclusion": lambda: together / min(count_a, count_b),
    }
    return float(formulas[name]())


def similarity_table(
    baskets: Sequence[Sequence[str]],
    name: str,
    min_count: float = 1.0,
    neighbours: int | None = None,
    weights: Sequence[float] | None = None,
    item_order: Sequence[str] | None = None,
) -> dict[tuple[str, str], float]:
    """``{(a, b): similarity}`` keeping each row's ``neighbours`` best (ties: lower index)."""
    pairs, items, n = pair_and_item_counts(baskets, weights)
    full = {
        (a, b): measure(name, c, items[a], items[b], n)
        for (a, b), c in pairs.items()
        if c >= min_count - 1e-9
    }
    if neighbours is None:
        return full
    position = {item: i for i, item in enumerate(item_order or sorted(items))}
    by_row: dict[str, list[tuple[float, int, str]]] = {}
    for (a, b), value in full.items():
        by_row.setdefault(a, []).append((-value, position[b], b))
    kept = {}
    for a, row in by_row.items():
        for negative, _, b in sorted(row)[:neighbours]:
            kept[a, b] = -negative
    return kept


def basket_scores(
    table: dict[tuple[str, str], float], cart: Sequence[str], how: str = "sum"
) -> dict[str, float]:
    """Score of every item reachable from the cart: sum (or max) over the cart's items."""
    out: dict[str, float] = {}
    for (a, b), value in table.items():
        if a in cart:
            out[b] = out.get(b, 0.0) + value if how == "sum" else max(out.get(b, -np.inf), value)
    return out


def textbook_weights(documents: np.ndarray, weighting: str, k1: float, b: float) -> np.ndarray:
    """Dense documents x terms counts weighted as in the literature (BM25, TF-IDF) or not.

    ``idf = log(N) - log(1 + df)`` as implicit defines it; BM25 scales each entry
    ``tf (k1 + 1) / (k1 ((1 - b) + b len / mean len) + tf)``; TF-IDF ``sqrt(tf) idf``.
    """
    docs = documents.astype(np.float64)
    if weighting == "none":
        return docs
    idf = np.log(docs.shape[0]) - np.log1p((docs > 0).sum(axis=0))
    if weighting == "tfidf":
        return np.sqrt(docs) * idf[None, :]
    length = docs.sum(axis=1)
    norm = (1.0 - b) + b * length / length.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        weighted = docs * (k1 + 1.0) / (k1 * norm[:, None] + docs) * idf[None, :]
    return np.where(docs > 0, weighted, 0.0)


def dense_cosine(vectors: np.ndarray) -> np.ndarray:
    """Row x row cosine similarity with a zero diagonal (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1)
    unit = vectors / np.where(norms > 0, norms, 1.0)[:, None]
    out = unit @ unit.T
    np.fill_diagonal(out, 0.0)
    return out


def als_fold_in(
    item_factors: np.ndarray, alpha: float, regularization: float, row: np.ndarray
) -> np.ndarray:
    """The ALS vector of a new row: minimise ``sum_i c_i (p_i - x.y_i)^2 + reg |x|^2``.

    ``c_i = alpha * row_i`` where the row has an entry, else 1; ``p_i`` is 1 on
    entries. Solved directly, as stacked least squares.
    """
    y = item_factors.astype(np.float64)
    confidence = np.where(row > 0, alpha * row, 1.0)
    preference = (row > 0).astype(np.float64)
    w = np.sqrt(confidence)
    design = np.vstack([w[:, None] * y, np.sqrt(regularization) * np.eye(y.shape[1])])
    target = np.concatenate([w * preference, np.zeros(y.shape[1])])
    return np.linalg.lstsq(design, target, rcond=None)[0]
