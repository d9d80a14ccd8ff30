"""Business rules applied to every suggestion list: what a shop will and will not show.

Rules work on a boolean *allowed* mask over items (one vectorised pass) plus one
post-filter on the ranked list (at most N per category). With ``explain`` each
rule records which candidates it removed, so a merchandiser can see why an item
is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from xsell.errors import ValidationError

if TYPE_CHECKING:
    from xsell.models.base import ItemTable


@dataclass(frozen=True)
class BusinessRules:
    """What may be suggested.

    Parameters
    ----------
    exclude_bought:
        Leave out items the customer bought before.
    in_stock_only:
        Leave out items the catalog marks as out of stock.
    categories:
        Only items of these categories.
    exclude_categories:
        Never items of these categories.
    complements_only:
        Never items of the categories already in the basket (no second phone case
        for a phone case).
    min_price, max_price:
        Price band (inclusive); items without a price are left out when a band is set.
    max_per_category:
        At most this many suggestions of one category (items without a category
        belong to none, so the cap leaves them alone).
    allow:
        Only these item ids.
    deny:
        Never these item ids.
    """

    exclude_bought: bool = False
    in_stock_only: bool = False
    categories: tuple[str, ...] | None = None
    exclude_categories: tuple[str, ...] = ()
    complements_only: bool = False
    min_price: float | None = None
    max_price: float | None = None
    max_per_category: int | None = None
    allow: tuple[str, ...] | None = None
    deny: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (
            self.min_price is not None
            and self.max_price is not None
            and self.min_price > self.max_price
        ):
            raise ValidationError(f"min_price {self.min_price} is above max_price {self.max_price}")
        if self.max_per_category is not None and self.max_per_category < 1:
            raise ValidationError(
                f"max_per_category must be at least 1, got {self.max_per_category}"
            )

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> BusinessRules:
        """Build from plain values (API and CLI); lists become tuples, unknown keys are an error."""
        if not values:
            return cls()
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValidationError(
                f"unknown business rule {', '.join(map(repr, unknown))}; "
                f"known rules are {sorted(known)}"
            )
        clean: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list | set | frozenset) else v for k, v in values.items()
        }
        return cls(**clean)

    def allowed(
        self,
        table: ItemTable,
        context: Sequence[int],
        bought: Sequence[int] = (),
        trace: dict[str, list[int]] | None = None,
    ) -> np.ndarray:
        """Mask of the items these rules allow for ``context`` and a customer's ``bought`` items.

        When ``trace`` is given, each rule's name maps to the item indices it removed
        (that were still allowed by the rules before it).
        """
        n = len(table)
        mask = np.ones(n, dtype=bool)

        def drop(rule: str, removed: np.ndarray) -> None:
            newly = removed & mask
            if trace is not None and newly.any():
                trace[rule] = np.flatnonzero(newly).tolist()
            mask[newly] = False

        in_context = np.zeros(n, dtype=bool)
        in_context[list(context)] = True
        drop("in_basket", in_context)
        if self.exclude_bought and len(bought):
            seen = np.zeros(n, dtype=bool)
            seen[list(bought)] = True
            drop("exclude_bought", seen)
        if self.in_stock_only:
            drop("in_stock_only", ~table.in_stock.astype(bool))
        categories = table.categories
        if self.categories is not None:
            drop("categories", ~np.isin(categories, np.array(self.categories, dtype=object)))
        if self.exclude_categories:
            drop(
                "exclude_categories",
                np.isin(categories, np.array(self.exclude_categories, dtype=object)),
            )
        if self.complements_only and len(context):
            own = {categories[i] for i in context if categories[i] is not None}
            if own:
                drop("complements_only", np.isin(categories, np.array(sorted(own), dtype=object)))
        if self.min_price is not None or self.max_price is not None:
            prices = table.prices
            low = -np.inf if self.min_price is None else self.min_price
            high = np.inf if self.max_price is None else self.max_price
            with np.errstate(invalid="ignore"):
                outside = ~((prices >= low) & (prices <= high))
            drop("price_band", outside)
        if self.allow is not None:
            listed = np.zeros(n, dtype=bool)
            idx = table.ids.to_index(list(self.allow))
            listed[idx[idx >= 0]] = True
            drop("allow", ~listed)
        if self.deny:
            denied = np.zeros(n, dtype=bool)
            idx = table.ids.to_index(list(self.deny))
            denied[idx[idx >= 0]] = True
            drop("deny", denied)
        return mask

    def cap_per_category(
        self,
        table: ItemTable,
        ranked: Sequence[int],
        k: int,
        trace: dict[str, list[int]] | None = None,
    ) -> list[int]:
        """The first ``k`` of ``ranked`` keeping at most ``max_per_category`` per category.

        Items without a category are never capped: they share no category.
        """
        if self.max_per_category is None:
            return list(ranked[:k])
        taken: dict[Any, int] = {}
        kept: list[int] = []
        removed: list[int] = []
        for item in ranked:
            category = table.categories[item]
            if category is not None and taken.get(category, 0) >= self.max_per_category:
                removed.append(int(item))
                continue
            taken[category] = taken.get(category, 0) + 1
            kept.append(int(item))
            if len(kept) == k:
                break
        if trace is not None and removed:
            trace["max_per_category"] = removed
        return kept


@dataclass
class RuleTrace:
    """Which candidates each rule removed (item ids), for ``explain=True``."""

    removed: dict[str, list[str]] = field(default_factory=dict)
