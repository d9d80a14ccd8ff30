"""Exact lookup of itemsets (rows of sorted item indices) by content, vectorised.

Rules need the count of every antecedent and consequent, and closed/maximal
checks need every immediate subset: millions of lookups, so rows are hashed with
NumPy (wrapping uint64 arithmetic), binary-searched, and then compared in full,
so a hash collision can never return a wrong itemset.
"""

from __future__ import annotations

import numpy as np

_MULTIPLIERS = np.random.default_rng(20240611).integers(
    1, np.iinfo(np.int64).max, size=256, dtype=np.int64
).astype(np.uint64) | np.uint64(1)


def row_hash(rows: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row of an ``(m, L)`` integer matrix."""
    if rows.shape[1] > len(_MULTIPLIERS):
        raise ValueError(f"itemsets longer than {len(_MULTIPLIERS)} items are not supported")
    mixed = (rows.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)) * _MULTIPLIERS[: rows.shape[1]]
    out = np.bitwise_xor.reduce(mixed ^ (mixed >> np.uint64(29)), axis=1) if rows.shape[1] else None
    if out is None:
        return np.zeros(rows.shape[0], np.uint64)
    return np.asarray(out * np.uint64(0xBF58476D1CE4E5B9), dtype=np.uint64)


class LevelIndex:
    """The itemsets of one length, findable by their sorted item indices."""

    def __init__(self, rows: np.ndarray) -> None:
        self.rows = np.ascontiguousarray(rows, dtype=np.int64)
        hashes = row_hash(self.rows)
        self._order = np.argsort(hashes, kind="stable")
        self._sorted = hashes[self._order]
        self._unique = len(self._sorted) < 2 or bool(np.all(np.diff(self._sorted) != 0))
        self._dict: dict[tuple[int, ...], int] | None = None

    def find(self, queries: np.ndarray) -> np.ndarray:
        """Row number of each query row in this level, ``-1`` when absent."""
        queries = np.ascontiguousarray(queries, dtype=np.int64)
        if len(self.rows) == 0 or len(queries) == 0:
            return np.full(len(queries), -1, np.int64)
        if self._unique:
            hashes = row_hash(queries)
            pos = np.minimum(np.searchsorted(self._sorted, hashes), len(self._sorted) - 1)
            found = self._order[pos]
            same = (self._sorted[pos] == hashes) & np.all(self.rows[found] == queries, axis=1)
            return np.where(same, found, -1)
        # Two stored rows share a hash (astronomically rare): fall back to a dict.
        if self._dict is None:
            self._dict = {tuple(r): i for i, r in enumerate(self.rows.tolist())}
        return np.array([self._dict.get(tuple(q), -1) for q in queries.tolist()], np.int64)


class ItemsetIndex:
    """Every itemset of a table by length: ``levels[L]`` holds the rows of length L."""

    def __init__(self, levels: dict[int, np.ndarray]) -> None:
        self.levels = {length: LevelIndex(rows) for length, rows in levels.items()}

    def find(self, queries: np.ndarray) -> np.ndarray:
        level = self.levels.get(queries.shape[1])
        if level is None:
            return np.full(len(queries), -1, np.int64)
        return level.find(queries)
