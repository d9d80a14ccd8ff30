"""Business rules applied to every suggestion list: what a shop will and will not show.

They also say what the order maximises (relevance, or expected margin with a
boost for overstock: :mod:`xsell.models.objective`).

Each rule is one *step* that removes items. Steps that depend only on the item
(stock, categories, price band, allow and deny lists) make one mask per request
batch; steps that depend on the query (the cart itself, what the customer bought,
the cart's own categories) are applied per query. ``max_per_category`` is the one
post-filter on the ranked list. With ``explain`` every step records the items it
removed, in step order, so a merchandiser can see why an item is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from xsell.errors import ValidationError
from xsell.models.items import ItemTable
from xsell.models.objective import check_objective, item_weights

#: How a personalized answer treats what the customer bought before.
MODES: Final = ("mixed", "explore", "repeat")
#: The order in which an ``explain`` trace attributes removed items to rules.
STEP_ORDER: Final = (
    "in_basket",
    "exclude_bought",
    "explore",
    "repeat",
    "in_stock_only",
    "categories",
    "exclude_categories",
    "complements_only",
    "price_band",
    "allow",
    "deny",
)


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
    objective:
        What the order maximises: ``"relevance"`` (the model's scores) or
        ``"margin"`` (expected margin, see :mod:`xsell.models.objective`).
    margin_sensitivity:
        With ``objective="margin"``: from 0 (relevance only) to 1 (expected margin).
    overstock_boost:
        Up to this much more score for overstocked items (0: none), whatever the objective.
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
    objective: str = "relevance"
    margin_sensitivity: float = 0.5
    overstock_boost: float = 0.0

    def __post_init__(self) -> None:
        check_objective(self.objective, self.margin_sensitivity, self.overstock_boost)
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

    @classmethod
    def of(cls, rules: BusinessRules | dict[str, Any] | None) -> BusinessRules:
        """``rules`` as a :class:`BusinessRules` (``None`` means none, a dict is parsed)."""
        return rules if isinstance(rules, BusinessRules) else cls.from_dict(rules)

    # ------------------------------------------------------------------ steps

    def item_steps(self, table: ItemTable) -> list[tuple[str, np.ndarray]]:
        """The steps that depend on the item only: (rule, items it removes)."""
        steps: list[tuple[str, np.ndarray]] = []
        categories = table.categories
        if self.in_stock_only:
            steps.append(("in_stock_only", ~table.in_stock.astype(bool)))
        if self.categories is not None:
            chosen = np.array(self.categories, dtype=object)
            steps.append(("categories", ~np.isin(categories, chosen)))
        if self.exclude_categories:
            banned = np.array(self.exclude_categories, dtype=object)
            steps.append(("exclude_categories", np.isin(categories, banned)))
        if self.min_price is not None or self.max_price is not None:
            low = -np.inf if self.min_price is None else self.min_price
            high = np.inf if self.max_price is None else self.max_price
            with np.errstate(invalid="ignore"):
                steps.append(("price_band", ~((table.prices >= low) & (table.prices <= high))))
        if self.allow is not None:
            steps.append(("allow", ~_listed(table, self.allow)))
        if self.deny:
            steps.append(("deny", _listed(table, self.deny)))
        return steps

    def query_steps(
        self,
        table: ItemTable,
        cart: Sequence[int],
        bought: Sequence[int] = (),
        mode: str = "mixed",
        exclude_cart: bool = True,
    ) -> list[tuple[str, np.ndarray]]:
        """The steps that depend on the query: (rule, item indices it removes)."""
        steps: list[tuple[str, np.ndarray]] = []
        if exclude_cart and len(cart):
            steps.append(("in_basket", np.asarray(cart, dtype=np.int64)))
        mine = np.asarray(bought, dtype=np.int64)
        if (self.exclude_bought or mode == "explore") and len(mine):
            steps.append(("exclude_bought" if self.exclude_bought else "explore", mine))
        if mode == "repeat":
            others = np.ones(len(table), dtype=bool)
            others[mine] = False
            steps.append(("repeat", np.flatnonzero(others)))
        if self.complements_only and len(cart):
            own = {table.categories[i] for i in cart if table.categories[i] is not None}
            if own:
                same = np.isin(table.categories, np.array(sorted(own), dtype=object))
                steps.append(("complements_only", np.flatnonzero(same)))
        return steps

    def item_weights(self, table: ItemTable) -> np.ndarray | None:
        """Each item's factor on its relevance under the objective (``None``: the model's order)."""
        return item_weights(table, self.objective, self.margin_sensitivity, self.overstock_boost)

    def item_mask(self, table: ItemTable) -> np.ndarray:
        """Items every query may get (the item steps combined)."""
        mask = np.ones(len(table), dtype=bool)
        for _, removed in self.item_steps(table):
            mask &= ~removed
        return mask

    def allowed(
        self,
        table: ItemTable,
        cart: Sequence[int],
        bought: Sequence[int] = (),
        trace: dict[str, list[int]] | None = None,
        *,
        mode: str = "mixed",
        exclude_cart: bool = True,
        item_mask: np.ndarray | None = None,
    ) -> np.ndarray:
        """Mask of the items these rules allow for one query.

        ``item_mask`` is :meth:`item_mask` made once for a batch. When ``trace`` is
        given, each rule's name maps to the item indices it removed that the rules
        before it (in :data:`STEP_ORDER`) still allowed.
        """
        query = self.query_steps(table, cart, bought, mode, exclude_cart)
        if trace is None:
            mask = self.item_mask(table) if item_mask is None else item_mask.copy()
            for _, removed in query:
                mask[removed] = False
            return mask
        mask = np.ones(len(table), dtype=bool)
        steps = self.item_steps(table)
        for name, removed in query:
            as_mask = np.zeros(len(table), dtype=bool)
            as_mask[removed] = True
            steps.append((name, as_mask))
        for name, removed in sorted(steps, key=lambda step: STEP_ORDER.index(step[0])):
            newly = removed & mask
            if newly.any():
                trace[name] = np.flatnonzero(newly).tolist()
            mask &= ~removed
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
            return [int(i) for i in ranked[:k]]
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


def check_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`MODES`."""
    if mode not in MODES:
        raise ValidationError(f"mode must be one of {list(MODES)}, got {mode!r}")
    return mode


def _listed(table: ItemTable, ids: Sequence[str]) -> np.ndarray:
    listed = np.zeros(len(table), dtype=bool)
    idx = table.ids.to_index(list(ids))
    listed[idx[idx >= 0]] = True
    return listed
