"""Turn a served model into API answers (plain dicts ready for JSON).

The common case (known items, no ``explain``, enough model evidence) runs on
dense indices without building a DataFrame: it is the same computation as
:meth:`Recommender.recommend_for_basket` (same business rules, same ranking and
tie-break, same reasons), about ten times faster per request. Everything else
(fallback fill, ``explain`` traces, unknown ids with ``fallback=true``,
customers) goes through the model's public table API.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from xsell.models import Recommender
from xsell.models.base import ItemTable, basket_rows, top_k
from xsell.models.business_rules import BusinessRules


class UnknownItemsError(LookupError):
    """Item ids the model does not know (answered 404)."""

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = list(ids)
        shown = ", ".join(repr(i) for i in self.ids[:10])
        more = f" and {len(self.ids) - 10} more" if len(self.ids) > 10 else ""
        word = "item" if len(self.ids) == 1 else "items"
        super().__init__(
            f"unknown {word} {shown}{more}; send fallback=true for best sellers instead"
        )


class UnknownCustomerError(LookupError):
    """A customer id the model does not know (answered 404)."""

    def __init__(self, customer: str) -> None:
        self.customer = customer
        super().__init__(
            f"unknown customer {customer!r}; send fallback=true for best sellers instead"
        )


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _reasons(reason: str) -> list[str]:
    return [part.strip() for part in str(reason).split("; ") if part.strip()]


def suggestion(
    table: ItemTable, index: int, score: float, reason: str, source: str
) -> dict[str, Any]:
    """One suggested item as the API shows it."""
    return {
        "item_id": str(table.ids.ids[index]),
        "name": _text(table.names[index]),
        "category": _text(table.categories[index]),
        "price": _number(table.prices[index]),
        "score": _number(score) or 0.0,
        "reasons": _reasons(reason),
        "source": source,
    }


def item_index(model: Recommender, items: Sequence[str]) -> tuple[list[int], list[str]]:
    """Dense indices of the known ``items`` and the unknown ids, in request order."""
    ids = model.require_fitted().ids
    known: list[int] = []
    unknown: list[str] = []
    for item in items:
        index = ids.index_of(item)
        if index >= 0:
            known.append(index)
        else:
            unknown.append(item)
    return known, unknown


def customer_index(model: Recommender, customer: str | None) -> int:
    if customer is None or model.users_ is None:
        return -1
    return model.users_.index_of(customer)


def basket_answer(
    model: Recommender,
    items: Sequence[str],
    k: int,
    rules: BusinessRules,
    customer: str | None = None,
    explain: bool = False,
    fallback: bool = False,
) -> dict[str, Any]:
    """Suggestions that complete the cart ``items`` (one item: the item page).

    Raises
    ------
    UnknownItemsError
        When an item is unknown and ``fallback`` is false.
    """
    table = model.require_fitted()
    known, unknown = item_index(model, items)
    if unknown and not fallback:
        raise UnknownItemsError(unknown)
    if not unknown and not explain:
        fast = _fast_answer(model, table, known, k, rules, customer)
        if fast is not None:
            return {"items": fast, "unknown_items": [], "trace": None}
    frame = model.recommend_for_basket(
        list(items), k=k, user=customer, rules=rules, explain=explain
    )
    return frame_answer(frame, table, unknown, explain)


def _fast_answer(
    model: Recommender,
    table: ItemTable,
    context: list[int],
    k: int,
    rules: BusinessRules,
    customer: str | None,
) -> list[dict[str, Any]] | None:
    """The model's own top ``k`` (``None`` when fewer than ``k``: the caller fills up)."""
    user = customer_index(model, customer)
    bought = model.history_items(user)
    allowed = rules.allowed(table, context, bought.tolist(), None)
    # The cap may skip any number of candidates: then rank every one with evidence.
    depth = None if rules.max_per_category else k
    evidence = model._cart_evidence(context, user)
    if evidence is not None:
        # Sparse evidence (co-occurrence, item-kNN): rank only the items it names,
        # not a dense row of every item (~10x less work per request).
        cols, values = evidence
        keep = allowed[cols] & np.isfinite(values)
        cols, values = cols[keep], values[keep]
        order = np.lexsort((cols, -values))[:depth]
        ranked, ranked_scores = cols[order].tolist(), values[order].tolist()
    else:
        rows = basket_rows([context], len(table))
        users = np.array([user]) if user >= 0 else None
        scores = np.asarray(model.score(rows, users)[0], dtype=np.float64)
        scores = np.where(allowed, scores, -np.inf)
        if depth is None:
            finite = np.flatnonzero(np.isfinite(scores))
            best = finite[np.lexsort((finite, -scores[finite]))]
        else:
            best = top_k(scores[None, :], min(len(table), depth))[0]
            best = best[best >= 0]
        ranked, ranked_scores = best.tolist(), scores[best].tolist()
    picked = rules.cap_per_category(table, ranked, k, None)
    if len(picked) < k:
        return None
    score_of = dict(zip(ranked, ranked_scores, strict=True))
    note = f"unknown customer {customer}; " if customer is not None and user < 0 else ""
    # Items added by ``update`` that the model has not learned say nothing about it.
    learned = [i for i in context if i < (model.n_items_known_ or len(table))]
    reasons = model.reasons(learned, user, picked)
    return [
        suggestion(table, i, score_of[i], note + r, "model")
        for i, r in zip(picked, reasons, strict=True)
    ]


def frame_answer(
    frame: pd.DataFrame, table: ItemTable, unknown: Sequence[str], explain: bool
) -> dict[str, Any]:
    """An answer from the model's tidy table (query, rank, item_id, ..., source[, trace])."""
    items = []
    for row in frame.itertuples(index=False):
        items.append(
            {
                "item_id": str(row.item_id),
                "name": _text(row.name),
                "category": _text(row.category),
                "price": _number(row.price),
                "score": _number(row.score) or 0.0,
                "reasons": _reasons(str(row.reason)),
                "source": str(row.source),
            }
        )
    trace = None
    if explain:
        trace = {}
        if len(frame):
            trace = {
                str(rule): [str(i) for i in ids] for rule, ids in frame["trace"].iloc[0].items()
            }
    return {"items": items, "unknown_items": list(unknown), "trace": trace}


def customer_answer(
    model: Recommender,
    customer: str,
    k: int,
    rules: BusinessRules,
    exclude_seen: bool = True,
    explain: bool = False,
    fallback: bool = False,
) -> dict[str, Any]:
    """Personal add-ons for a customer (their purchase history is the context)."""
    table = model.require_fitted()
    if customer_index(model, customer) < 0 and not fallback:
        raise UnknownCustomerError(customer)
    frame = model.recommend(
        [customer], k=k, exclude_seen=exclude_seen, rules=rules, explain=explain
    )
    return frame_answer(frame, table, [], explain)


def complement_scores(model: Recommender, item: int, k: int) -> list[tuple[int, float]]:
    """The model's ``k`` best complements of one item index, with scores (no rules, no fill)."""
    table = model.require_fitted()
    rows = basket_rows([[item]], len(table))
    scores = np.asarray(model.score(rows, None)[0], dtype=np.float64).copy()
    scores[item] = -np.inf
    best = top_k(scores[None, :], k)[0]
    return [(int(i), float(scores[i])) for i in best if i >= 0]
