"""Evaluation protocols by name: how test baskets become queries with held-out answers.

The builders live in :mod:`xsell.data.holdout`, next to the held-out queries the
learned models make from their training data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from xsell.data.holdout import HIDE_MODES, Queries, basket_completion, item_to_item, next_basket
from xsell.data.splits import Split
from xsell.errors import ValidationError

__all__ = ["HIDE_MODES", "PROTOCOLS", "Queries", "make_queries"]

#: Protocol name -> builder ``(split, max_queries=..., seed=...) -> Queries``.
PROTOCOLS: Final[dict[str, Callable[..., Queries]]] = {
    "basket-completion": basket_completion,
    "next-basket": next_basket,
    "item-to-item": item_to_item,
}


def make_queries(
    protocol: str, split: Split, max_queries: int | None = None, seed: int = 0, hide: str = "one"
) -> Queries:
    """Queries of the protocol named ``protocol`` (see :data:`PROTOCOLS`)."""
    if protocol not in PROTOCOLS:
        raise ValidationError(f"unknown protocol {protocol!r}; choose one of {sorted(PROTOCOLS)}")
    if protocol == "basket-completion":
        queries = basket_completion(split, hide=hide, max_queries=max_queries, seed=seed)
    else:
        queries = PROTOCOLS[protocol](split, max_queries=max_queries, seed=seed)
    if len(queries) == 0:
        raise ValidationError(
            f"protocol {protocol!r} found no test queries in this split "
            f"({split.test.n_baskets} test baskets); "
            + (
                "next-basket needs customers with training baskets"
                if protocol == "next-basket"
                else "it needs test baskets with at least two items"
            )
        )
    return queries
