"""Turn a served model's answers into API answers (plain dicts ready for JSON).

Everything goes through the model's public :meth:`~xsell.models.Recommender.answer`
(the one ranking routine under business rules, with reasons and the best-seller
fill), so the API, the CLI and Python answer alike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from xsell.models import (
    Answer,
    Batch,
    BusinessRules,
    ItemTable,
    Query,
    Recommender,
    basket_rows,
    rank,
)


class UnknownItemsError(LookupError):
    """None of the item ids of a request is known to the model (answered 404)."""

    def __init__(self, ids: Sequence[str], n_items: int) -> None:
        self.ids = list(ids)
        shown = ", ".join(repr(i) for i in self.ids[:10])
        more = f" and {len(self.ids) - 10} more" if len(self.ids) > 10 else ""
        word = "item" if len(self.ids) == 1 else "items"
        super().__init__(
            f"unknown {word} {shown}{more}: the model knows none of the items asked about "
            f"(it knows {n_items:,} items); ask with fallback=true for best sellers instead"
        )


class UnknownCustomerError(LookupError):
    """A customer id the model does not know (answered 404)."""

    def __init__(self, customer: str) -> None:
        self.customer = customer
        super().__init__(
            f"unknown customer {customer!r}; ask with fallback=true for best sellers instead"
        )


def text(value: Any) -> str | None:
    """A name or category as JSON (``None`` when missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def number(value: Any) -> float | None:
    """A price or score as JSON (``None`` when missing or not finite)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def item_json(table: ItemTable, index: int) -> dict[str, Any]:
    """An item as the API shows it (id, name, category, price)."""
    return {
        "item_id": str(table.ids.ids[index]),
        "name": text(table.names[index]),
        "category": text(table.categories[index]),
        "price": number(table.prices[index]),
    }


def answer_json(found: Answer, table: ItemTable) -> dict[str, Any]:
    """The ``items``, ``unknown_items`` and ``trace`` of an API answer."""
    items = [
        {
            **item_json(table, i),
            "score": number(score) or 0.0,
            "reasons": [part.strip() for part in reason.split("; ") if part.strip()],
            "source": source,
            "contributions": None if explained is None else explained.to_dict(),
        }
        for i, score, reason, source, explained in zip(
            found.items,
            found.scores,
            found.reasons,
            found.sources,
            found.contributions or [None] * len(found.items),
            strict=True,
        )
    ]
    return {"items": items, "unknown_items": found.unknown_items, "trace": found.trace}


def basket_answer(
    model: Recommender,
    items: Sequence[str],
    k: int,
    rules: BusinessRules,
    customer: str | None = None,
    explain: bool = False,
    fallback: bool = False,
    mode: str = "mixed",
) -> dict[str, Any]:
    """Suggestions that complete the cart ``items`` (one item: the item page).

    Unknown items are listed in ``unknown_items`` and the known ones answer.

    Raises
    ------
    UnknownItemsError
        When no item is known and ``fallback`` is false.
    """
    table = model.require_fitted()
    if items and not fallback and all(table.ids.index_of(i) < 0 for i in items):
        raise UnknownItemsError(items, len(table))
    [found] = model.answer([Query(tuple(items), customer)], k, rules, explain, mode)
    return answer_json(found, table)


def customer_answer(
    model: Recommender,
    customer: str,
    k: int,
    rules: BusinessRules,
    explain: bool = False,
    fallback: bool = False,
    mode: str = "mixed",
) -> dict[str, Any]:
    """Personal add-ons for a customer (their purchase history is the context)."""
    table = model.require_fitted()
    if model.customer_index(customer) < 0 and not fallback:
        raise UnknownCustomerError(customer)
    [found] = model.answer([Query((), customer, history=True)], k, rules, explain, mode)
    return answer_json(found, table)


def complement_scores(model: Recommender, item: int, k: int) -> list[tuple[int, float]]:
    """The model's ``k`` best complements of one item index, with scores (no rules, no fill)."""
    [found] = rank(model, Batch(basket_rows([[item]], model.n_items)), k)
    return list(zip(found.items, found.scores, strict=True))
