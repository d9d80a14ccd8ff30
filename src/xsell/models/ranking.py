"""The one ranking routine: scores, business rules, the best ``k``, the category cap, the fill.

Under a margin objective or an overstock boost the allowed candidates' scores
are reweighed before the best ``k`` are taken (:mod:`xsell.models.objective`),
and the answer's scores are the reweighed ones.

Offline evaluation, the table answers of :class:`~xsell.models.base.Recommender`
and the HTTP API all rank through :func:`rank`. A batch is scored in chunks (so
dense score rows stay within :data:`CHUNK_CELLS`); each query then keeps the
items its business rules allow, sorted by score with ties going to the lower item
index, capped per category, and, when asked, filled up with best sellers
(:mod:`xsell.models.fallback`). In the mixed mode a model that learned a
:class:`~xsell.models.slots.SlotSplit` (``slots_``) gives a known customer's
list a share of new items: its best repeat and best new items are composed by
:func:`xsell.models.slots.compose`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from xsell.errors import ValidationError
from xsell.models import fallback as fill_policy
from xsell.models.business_rules import BusinessRules, check_mode
from xsell.models.items import ItemTable
from xsell.models.objective import reweigh
from xsell.models.slots import compose

if TYPE_CHECKING:
    from xsell.models.base import Recommender

#: Largest k a caller may ask for.
MAX_K = 1000
#: Dense score cells (rows x items) one chunk may hold: about 0.3 GB of float64.
CHUNK_CELLS = 40_000_000


@dataclass(frozen=True)
class Batch:
    """Queries by dense index, row by row.

    Attributes
    ----------
    contexts:
        ``n x n_items`` binary CSR: what the model looks at (a cart, a page item, a
        customer's history).
    users:
        ``n`` customer indices (``-1`` unknown), or ``None`` when no query has one.
    carts:
        Per row, the items already in the basket (never suggested unless
        ``exclude_cart`` is off); ``None`` means the context rows.
    bought:
        Per row, what the customer bought before (``exclude_bought`` and the
        explore / repeat modes); ``None`` means nothing known.
    """

    contexts: sp.csr_matrix
    users: np.ndarray | None = None
    carts: Sequence[np.ndarray] | None = None
    bought: Sequence[np.ndarray] | None = None

    def __len__(self) -> int:
        return int(self.contexts.shape[0])

    def cart(self, row: int) -> np.ndarray:
        if self.carts is not None:
            return np.asarray(self.carts[row], dtype=np.int64)
        lo, hi = self.contexts.indptr[row], self.contexts.indptr[row + 1]
        return self.contexts.indices[lo:hi].astype(np.int64)

    def bought_by(self, row: int) -> np.ndarray:
        if self.bought is None:
            return np.empty(0, dtype=np.int64)
        return np.asarray(self.bought[row], dtype=np.int64)


@dataclass
class Ranked:
    """One query's ranked item indices: the model's picks first, then best sellers."""

    items: list[int]
    scores: list[float]
    #: How many leading items the model picked (the rest are the fill).
    n_model: int
    #: For each filled item, whether it shares a category with the cart.
    same_category: list[bool]
    #: Rule name -> item indices it removed (``explain`` only).
    trace: dict[str, list[int]] | None = None


def chunk_rows(n_items: int, cells: int = CHUNK_CELLS) -> int:
    """Rows per scoring chunk for a catalog of ``n_items`` (between 1 and 2,000)."""
    return int(max(1, min(2000, cells // max(n_items, 1))))


def rank(
    model: Recommender,
    batch: Batch,
    k: int,
    rules: BusinessRules | None = None,
    *,
    mode: str = "mixed",
    exclude_cart: bool = True,
    fill: bool = False,
    explain: bool = False,
    progress: Callable[[int], None] | None = None,
) -> list[Ranked]:
    """Rank the items of every query of ``batch`` under ``rules``.

    Parameters
    ----------
    model:
        A fitted recommender; its :meth:`~xsell.models.base.Recommender.score` is
        called once per chunk of rows.
    k:
        Most items per query.
    rules:
        Business rules (none by default).
    mode:
        ``"mixed"``, ``"explore"`` (never what the customer bought) or ``"repeat"``
        (only what they bought). Mixed lists follow the model's slot split when it
        learned one (``slots_``), for rows with a known customer and purchases.
    exclude_cart:
        Leave out the cart's own items (off for next-basket, where repeats count).
    fill:
        Fill short lists with best sellers the rules allow.
    explain:
        Record which items each rule removed.
    progress:
        Called with the number of rows done after each chunk.
    """
    table = model.require_fitted()
    check_k(k)
    rules = rules or BusinessRules()
    check_mode(mode)
    item_mask = rules.item_mask(table)
    weights = rules.item_weights(table)
    # The cap may skip any number of candidates: then every item with evidence is ranked.
    depth = None if rules.max_per_category else k
    slots = model.slots_ if mode == "mixed" else None
    out: list[Ranked] = []
    step = chunk_rows(len(table))
    for start in range(0, len(batch), step):
        stop = min(len(batch), start + step)
        users = None if batch.users is None else np.asarray(batch.users[start:stop])
        whole = start == 0 and stop == len(batch)  # one request: no slice to copy
        scores = model.score(batch.contexts if whole else batch.contexts[start:stop], users)
        sparse = None
        if sp.issparse(scores):
            sparse = scores if isinstance(scores, sp.csr_matrix) else sp.csr_matrix(scores)
        shares = None
        if slots is not None and users is not None:
            shares = slots.shares_for(model.history_, users)
        for r, row in enumerate(range(start, stop)):
            cart = batch.cart(row)
            bought = batch.bought_by(row)
            trace: dict[str, list[int]] | None = {} if explain else None
            allowed = rules.allowed(
                table,
                cart.tolist(),
                bought.tolist(),
                trace,
                mode=mode,
                exclude_cart=exclude_cart,
                item_mask=item_mask,
            )
            if sparse is not None:
                lo, hi = sparse.indptr[r], sparse.indptr[r + 1]
                cols: np.ndarray | None = sparse.indices[lo:hi].astype(np.int64)
                row_scores = np.asarray(sparse.data[lo:hi], dtype=np.float64)
            else:
                cols, row_scores = None, np.asarray(scores[r], dtype=np.float64)
            if shares is not None and np.isfinite(shares[r]) and len(bought):
                ranked, values = _mixed(
                    cols, row_scores, allowed, bought, shares[r], depth, weights
                )
            else:
                ranked, values = _best(cols, row_scores, allowed, depth, weights)
            picked = rules.cap_per_category(table, ranked.tolist(), k, trace)
            score_of = dict(zip(ranked.tolist(), values.tolist(), strict=True))
            answer = Ranked(picked, [score_of[i] for i in picked], len(picked), [], trace)
            if fill and len(picked) < k:
                _fill(answer, table, rules, cart, allowed, k, trace)
            out.append(answer)
        if progress is not None:
            progress(stop - start)
    return out


def check_k(k: int) -> int:
    """``k`` if it is a whole number from 1 to :data:`MAX_K`."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1 or k > MAX_K:
        raise ValidationError(f"k must be an integer from 1 to {MAX_K}, got {k!r}")
    return int(k)


def top_items(ranked: Sequence[Ranked], k: int) -> np.ndarray:
    """The item indices of ``ranked`` as an ``n x k`` array padded with ``-1``."""
    out = np.full((len(ranked), k), -1, dtype=np.int64)
    for r, answer in enumerate(ranked):
        out[r, : len(answer.items)] = answer.items[:k]
    return out


def _best(
    cols: np.ndarray | None,
    values: np.ndarray,
    allowed: np.ndarray,
    depth: int | None,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Allowed items with a finite score, best first (ties: lower index), at most ``depth``.

    With ``weights`` (the objective's factor per item) the scores are reweighed first.
    """
    values = np.asarray(values, dtype=np.float64)
    if cols is None:
        cols = np.flatnonzero(allowed & np.isfinite(values))
        values = values[cols]
    else:
        keep = allowed[cols] & np.isfinite(values)
        cols, values = cols[keep], values[keep]
    if weights is not None:
        values = reweigh(values, weights[cols])
    if depth is not None and len(cols) > depth:
        # Only items at or above the depth-th best score can be ranked (ties included).
        kth = -np.partition(-values, depth - 1)[depth - 1]
        near = values >= kth
        cols, values = cols[near], values[near]
    order = np.lexsort((cols, -values))[:depth]
    return cols[order], values[order]


def _mixed(
    cols: np.ndarray | None,
    values: np.ndarray,
    allowed: np.ndarray,
    bought: np.ndarray,
    share: float,
    depth: int | None,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The best repeat and best new items, composed with ``share`` of the slots for new ones."""
    mine = np.zeros(len(allowed), dtype=bool)
    mine[bought[bought < len(allowed)]] = True
    repeat, repeat_values = _best(cols, values, allowed & mine, depth, weights)
    new, new_values = _best(cols, values, allowed & ~mine, depth, weights)
    length = len(repeat) + len(new) if depth is None else depth
    items, _ = compose(repeat.tolist(), new.tolist(), share, length)
    value_of = {
        **dict(zip(repeat.tolist(), repeat_values.tolist(), strict=True)),
        **dict(zip(new.tolist(), new_values.tolist(), strict=True)),
    }
    ranked = np.asarray(items, dtype=np.int64)
    return ranked, np.asarray([value_of[i] for i in items], dtype=np.float64)


def _fill(
    answer: Ranked,
    table: ItemTable,
    rules: BusinessRules,
    cart: np.ndarray,
    allowed: np.ndarray,
    k: int,
    trace: dict[str, list[int]] | None,
) -> None:
    """Append best sellers to ``answer`` (capped per category with the model's picks)."""
    picked = answer.items
    # With a per-category cap, ask for every candidate and cap the whole list.
    wanted = len(table) if rules.max_per_category else k - len(picked)
    items, same = fill_policy.fill(table, cart.tolist(), allowed, picked, wanted)
    if rules.max_per_category:
        capped = set(rules.cap_per_category(table, [*picked, *items], k, trace)[len(picked) :])
        same = [s for i, s in zip(items, same, strict=True) if i in capped]
        items = [i for i in items if i in capped]
    answer.items = [*picked, *items]
    answer.scores = [*answer.scores, *([0.0] * len(items))]
    answer.same_category = same
