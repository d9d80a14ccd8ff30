"""Frequently bought together: item x item co-occurrence, in the spirit of SAR.

Pair counts come from one sparse product ``Xᵀ W X`` over the baskets x items
matrix (``W`` the per-basket time-decay weights). A measure turns counts into
similarities, rows are pruned to the strongest ``neighbours`` and kept sparse;
a cart scores every item by summing (or taking the max of) the rows of its items.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import scipy.sparse as sp

from xsell.data.idmap import IdMap
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.models._sparse import (
    PAIR_MEASURES,
    basket_weights,
    entries,
    entry_positions,
    measured_pairs,
    pair_values,
    replace_rows,
    sparse_scores,
    summed_evidence,
)
from xsell.models.base import Recommender
from xsell.models.fallback import popular_reason
from xsell.models.items import ItemTable, one_row
from xsell.models.params import integer, number, one_of, param

MEASURES: Final = PAIR_MEASURES
__all__ = ["AGGREGATES", "MEASURES", "Cooccurrence", "pair_values", "similarity_from_counts"]
AGGREGATES: Final = ("sum", "max")


def similarity_from_counts(
    counts: sp.csr_matrix,
    n_baskets: float,
    measure: str,
    min_count: float = 1.0,
    neighbours: int | None = None,
) -> sp.csr_matrix:
    """Item x item similarities (row ``a``, column ``b``) from counts, supports on the diagonal.

    Every measure but ``count`` is the :mod:`xsell.mining.metrics` function of the
    pair's basket counts: ``confidence`` is directional, P(b | a); ``lift`` P(a, b) /
    (P(a) P(b)); ``jaccard``, ``cosine`` and ``inclusion`` normalise the overlap by
    the union, the geometric mean and the smaller item. The diagonal and pairs below
    ``min_count`` are dropped; each row keeps its ``neighbours`` strongest partners.
    """
    if measure not in MEASURES:
        raise ValidationError(f"measure must be one of {list(MEASURES)}, got {measure!r}")
    return measured_pairs(counts, n_baskets, measure, min_count, neighbours)[0]


#: :func:`default_min_count` is this share of the baskets, within its bounds.
MIN_COUNT_SHARE = 0.001
MIN_COUNT_BOUNDS = (1, 20)


def default_min_count(n_baskets: int) -> float:
    """Baskets a pair needs by default: 0.1 % of the baskets, at least 1 and at most 20.

    Measured on Online Retail (19,650 baskets, floor 20) against no floor:
    recall@10 of basket completion 0.184 vs 0.179 with ``jaccard`` and 0.128 vs
    0.023 with ``lift``; small shops keep every pair seen (floor 1).
    """
    low, high = MIN_COUNT_BOUNDS
    return float(min(high, max(low, math.ceil(MIN_COUNT_SHARE * n_baskets))))


@dataclass
class Cooccurrence(Recommender):
    """Items bought in the same baskets as the cart's items.

    Parameters
    ----------
    measure:
        ``count``, ``confidence`` (directional P(b|a)), ``lift``, ``jaccard``,
        ``cosine`` or ``inclusion``.
    min_count:
        Pairs seen in fewer baskets are ignored; with ``half_life_days`` the
        baskets are the decayed weights, so an old pair counts less than 1.
        ``None`` (the default) is :func:`default_min_count` of the baskets fitted on:
        pairs seen once or twice in a large shop are chance, and a measure such as
        ``lift`` would put them first.
    neighbours:
        Keep only this many strongest partners per item (``None`` keeps all).
    half_life_days:
        When set, a basket counts ``0.5 ** (age / half_life_days)`` (age from the
        newest basket); baskets learned through ``update`` count fully.
    aggregate:
        ``sum`` or ``max`` of the basket items' similarities.
    """

    name = "cooccurrence"
    learns_live = True

    measure: str = param("jaccard", one_of(*MEASURES))
    min_count: float | None = param(None, number(low=0, none=True))
    neighbours: int | None = param(200, integer(low=1, none=True))
    half_life_days: float | None = param(None, number(low=0, low_open=True, none=True))
    aggregate: str = param("sum", one_of(*AGGREGATES))

    counts_: sp.csr_matrix | None = field(default=None, init=False, repr=False)
    similarity_: sp.csr_matrix | None = field(default=None, init=False, repr=False)
    #: The pair count of every kept similarity, entry for entry (for reasons).
    together_: sp.csr_matrix | None = field(default=None, init=False, repr=False)
    n_baskets_: float = field(default=0.0, init=False, repr=False)
    #: The ``min_count`` in force (``min_count``, or the default for the baskets fitted on).
    floor_: float = field(default=0.0, init=False, repr=False)
    #: ``(counts_, its diagonal)``: item supports for ``reasons``, valid while ``counts_`` is that.
    supports_: tuple[sp.csr_matrix, np.ndarray] | None = field(
        default=None, init=False, repr=False, compare=False, metadata={"stored": False}
    )

    def _fit(self, data: ShopData) -> None:
        weights = basket_weights(data, self.half_life_days)
        x = sp.csr_matrix(data.basket_item, dtype=np.float32)
        weighted = x
        if self.half_life_days is not None:
            weighted = x.copy()
            weighted.data *= np.repeat(weights, np.diff(x.indptr)).astype(np.float32)
        # Rows stay in the product's (unsorted) column order: sorting 11.5 M pairs on
        # Instacart took as long as the product; look-ups sort the few rows they need.
        self.counts_ = sp.csr_matrix(x.T.tocsr() @ weighted, dtype=np.float32)
        self.n_baskets_ = float(weights.sum())
        self.floor_ = (
            float(self.min_count) if self.min_count is not None else default_min_count(x.shape[0])
        )
        self.similarity_, self.together_ = self._similarity(self.counts_)
        self.supports_ = (self.counts_, self.counts_.diagonal().astype(np.float64))

    @classmethod
    def from_counts(
        cls,
        counts: sp.csr_matrix,
        n_baskets: float,
        *,
        items: ItemTable,
        users: IdMap,
        history: sp.csr_matrix,
        fitted_on: str,
        similarity: tuple[sp.csr_matrix, sp.csr_matrix] | None = None,
        **params: Any,
    ) -> Cooccurrence:
        """A fitted model from pair counts made elsewhere (a Spark job over a cluster's orders).

        Parameters
        ----------
        counts:
            Items x items: in how many baskets each pair was bought (item supports on
            the diagonal), what ``fit`` computes as ``XᵀX``.
        n_baskets:
            Number of baskets counted.
        items, users, history:
            The item table, the customer ids and the customers x items purchase counts.
        fitted_on:
            What identifies the data (a fingerprint).
        similarity:
            The measured, pruned pairs and their counts, when computed along with the
            counts; by default they are computed here as ``fit`` does.
        params:
            Hyper-parameters (``measure``, ``min_count``, ``neighbours``, ``aggregate``);
            time decay needs basket times, which counts do not carry.
        """
        model = cls(**params)
        if model.half_life_days is not None:
            raise ValidationError(
                "cooccurrence from pair counts: half_life_days needs each basket's time; "
                "fit on the orders instead"
            )
        model.items_ = items
        model.users_ = users
        model.history_ = sp.csr_matrix(history, dtype=np.float32)
        model.fitted_on_ = fitted_on
        model.n_items_known_, model.n_users_known_ = len(items), len(users)
        model.counts_ = sp.csr_matrix(counts, dtype=np.float32)
        model.n_baskets_ = float(n_baskets)
        model.similarity_, model.together_ = (
            similarity if similarity is not None else model._similarity(model.counts_)
        )
        model.supports_ = (model.counts_, model.counts_.diagonal().astype(np.float64))
        return model

    def _similarity(self, counts: sp.csr_matrix) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        return measured_pairs(counts, self.n_baskets_, self.measure, self.floor_, self.neighbours)

    def _update(self, baskets: sp.csr_matrix, users: np.ndarray) -> None:
        """Add the new orders' pair counts and recompute the rows of the items they touch.

        Rows of other items keep their similarities (their supports did not
        change; only measures normalised by a touched partner's support drift,
        until the next ``fit``).
        """
        assert self.counts_ is not None and self.similarity_ is not None
        assert self.together_ is not None
        n = baskets.shape[1]
        added = sp.csr_matrix(baskets.T.tocsr() @ baskets, dtype=np.float32)
        # Only the rows of the items in the new orders change (added is symmetric), so
        # they are spliced in: a sparse sum or a LIL round trip of the whole matrices
        # took ~1.8 s per order on Instacart.
        touched = np.unique(baskets.indices)
        self.n_baskets_ += baskets.shape[0]
        supports = np.zeros(n, dtype=np.float64)
        supports[: self.counts_.shape[0]] = self._supports()
        counts = _resized(self.counts_, n)
        similarity = _resized(self.similarity_, n)
        together = _resized(self.together_, n)
        if len(touched):
            rows = sp.csr_matrix(counts[touched] + added[touched], dtype=np.float32)
            supports[touched] = entries(rows, np.arange(len(touched)), touched)
            counts = replace_rows(counts, touched, rows)
            fresh, fresh_together = self._similarity(_rows_only(counts, touched))
            similarity = replace_rows(similarity, touched, fresh[touched])
            together = replace_rows(together, touched, fresh_together[touched])
        self.counts_ = counts
        self.supports_ = (counts, supports)
        self.similarity_ = similarity
        self.together_ = together

    def _score(self, baskets: sp.csr_matrix, users: np.ndarray | None) -> Any:
        assert self.similarity_ is not None
        if self.aggregate != "sum":
            return sparse_scores(baskets, self.similarity_, self.aggregate)
        if baskets.shape[0] == 1:
            # One cart (the API): a sparse product costs ~10x more than gathering its rows.
            one = baskets if isinstance(baskets, sp.csr_matrix) else sp.csr_matrix(baskets)
            return _one_cart_evidence(one, self.similarity_)
        return summed_evidence(baskets, self.similarity_)

    def _supports(self) -> np.ndarray:
        """The diagonal of ``counts_`` (baskets holding each item), cached with the matrix."""
        assert self.counts_ is not None
        if self.supports_ is None or self.supports_[0] is not self.counts_:
            self.supports_ = (self.counts_, self.counts_.diagonal().astype(np.float64))
        return self.supports_[1]

    def _reasons(self, context: Sequence[int], user: int, items: Sequence[int]) -> list[str]:
        table = self.require_fitted()
        similarity, together_, counts = self.similarity_, self.together_, self.counts_
        assert similarity is not None and together_ is not None and counts is not None
        n = similarity.shape[0]
        # A wrapper (hybrid) may ask with items added since this model last learned.
        ctx = np.asarray([a for a in context if a < n], dtype=np.int64)
        wanted = np.asarray(items, dtype=np.int64)
        learned = wanted < n
        if len(ctx) == 0 or not learned.any():
            return [popular_reason(table, b) for b in items]
        inside = wanted[learned]
        # One row slice per cart item (not one sparse look-up per pair): the strongest
        # partner of each suggestion, first in cart order on ties.
        pos = entry_positions(similarity, np.repeat(ctx, len(inside)), np.tile(inside, len(ctx)))
        strengths = np.where(pos >= 0, similarity.data[np.maximum(pos, 0)], 0.0)
        best = np.argmax(strengths.reshape(len(ctx), len(inside)), axis=0)
        partner = ctx[best]
        at = pos.reshape(len(ctx), len(inside))[best, np.arange(len(inside))]
        together = np.where(at >= 0, together_.data[np.maximum(at, 0)], 0.0).astype(np.float64)
        if (at < 0).any():
            # A pair the pruned rows dropped (asked by an ensemble): its count, looked up.
            missing = np.flatnonzero(at < 0)
            together[missing] = entries(counts, partner[missing], inside[missing])
        supports = self._supports()
        support_a, support_b = supports[partner], supports[inside]
        texts = iter(
            _bought_with(table, int(a), float(c), float(sa), float(sb), self.n_baskets_)
            for a, c, sa, sb in zip(partner, together, support_a, support_b, strict=True)
        )
        return [
            next(texts) if inside_b else popular_reason(table, b)
            for b, inside_b in zip(items, learned, strict=True)
        ]


def _bought_with(
    table: ItemTable, a: int, together: float, support_a: float, support_b: float, n: float
) -> str:
    share = together / support_a if support_a else 0.0
    lift = together * n / (support_a * support_b) if support_a * support_b else 0.0
    return f"bought with '{table.label(a)}' in {share:.0%} of its orders (lift {lift:.1f})"


def _one_cart_evidence(basket: sp.csr_matrix, similarity: sp.csr_matrix) -> sp.csr_matrix:
    """:func:`summed_evidence` of a single row, bit for bit (same summation order)."""
    if not basket.has_canonical_format:
        basket = basket.copy()
        basket.sum_duplicates()
    items = basket.indices[basket.indptr[0] : basket.indptr[1]].astype(np.int64)
    weights = basket.data[basket.indptr[0] : basket.indptr[1]].astype(np.float64)
    cols, sums = _gathered_rows(similarity, items, weights)
    return one_row(cols, sums, similarity.shape[1])


def _gathered_rows(
    similarity: sp.csr_matrix, items: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Columns (ascending) and nonzero sums of the ``items`` rows, each times its weight.

    Adds in the order of ``items``, like the sparse product ``basket @ similarity``.
    """
    if len(items) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    starts, ends = similarity.indptr[items], similarity.indptr[items + 1]
    cols = np.concatenate([similarity.indices[s:e] for s, e in zip(starts, ends, strict=True)])
    values = np.concatenate([similarity.data[s:e] for s, e in zip(starts, ends, strict=True)])
    values = values.astype(np.float64)
    if weights is not None and (weights != 1.0).any():
        values *= np.repeat(weights, ends - starts)
    if len(cols) == 0:
        return cols.astype(np.int64), values
    # A stable sort keeps each column's terms in cart order and bincount adds one term after
    # the other (no pairwise summation), so the sums equal the product's bit for bit.
    order = np.argsort(cols, kind="stable")
    cols, values = cols[order], values[order]
    starts_group = np.concatenate(([True], cols[1:] != cols[:-1]))
    sums = np.bincount(np.cumsum(starts_group) - 1, weights=values)
    keep = sums != 0
    return cols[starts_group][keep].astype(np.int64), sums[keep]


def _resized(matrix: sp.csr_matrix, n: int) -> sp.csr_matrix:
    if matrix.shape == (n, n):
        return matrix
    out = sp.csr_matrix(matrix, copy=True)
    out.resize((n, n))
    return out


def _rows_only(counts: sp.csr_matrix, rows: np.ndarray) -> sp.csr_matrix:
    """``counts`` with only ``rows`` kept (plus the whole diagonal, for the supports)."""
    n = counts.shape[0]
    kept = replace_rows(sp.csr_matrix((n, n), dtype=counts.dtype), rows, counts[rows])
    others = np.ones(n, dtype=bool)
    others[rows] = False
    diagonal = sp.diags(np.where(others, counts.diagonal(), 0.0).astype(counts.dtype))
    return sp.csr_matrix(kept + diagonal)
