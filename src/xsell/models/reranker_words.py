"""The learned re-ranker's suggestions explained: SHAP values of its features, in a shop's words.

Only the items shown are explained: the candidate rows the query was just ranked
on (kept by :func:`remember`; rebuilt when another query came between) are passed
to LightGBM's ``pred_contrib`` (about a millisecond a row; explaining every
candidate would cost a hundred times more). A component's
relative score, rank and raw strength count as one contribution, worded by the
component's own reason for the item (``bought with 'Mug' in 31% of its orders``);
the item's sales, price, the cart's size and its category share are worded from
the catalog. Feature names this module does not know are shown as ``name = value``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from xsell.models.contributions import Explanation, explain_rows, tree_contributions
from xsell.models.items import ItemTable, basket_rows

if TYPE_CHECKING:
    from xsell.models.reranker import LearnedReranker

_COMPONENT = re.compile(r"^(\d+)_(.+)_(relative|rank|score)$")
#: Feature name -> the group it is worded in.
_GROUPS = {
    "log_orders": "sales",
    "log_share": "sales",
    "price": "price",
    "cart_size": "cart size",
    "cart_category_share": "category",
}


def feature_groups(model: LearnedReranker) -> list[str]:
    """The group of each re-ranker feature: its component's model name, or what it says.

    Components of one kind (three co-occurrence measures, two popularities) say
    one thing and are worded once: they form one group.
    """
    out = []
    for name in model.feature_names_:
        found = _COMPONENT.match(name)
        if found:
            out.append(model.components_[int(found.group(1))].name)
        else:
            out.append(_GROUPS.get(name, name))
    return out


def _key(model: LearnedReranker, context: np.ndarray, user: int) -> tuple[Any, ...]:
    # The components list is replaced by every live update: an older key never matches.
    return (id(model.components_), model.n_items, tuple(np.unique(context).tolist()), user)


def remember(
    model: LearnedReranker,
    baskets: sp.csr_matrix,
    users: np.ndarray | None,
    items: np.ndarray,
    features: np.ndarray,
) -> None:
    """Keep the candidate rows a one-query answer was ranked on, for its explanation."""
    user = -1 if users is None else int(np.asarray(users)[0])
    model.recent_ = (_key(model, baskets.indices, user), items, features)


def _candidates(
    model: LearnedReranker, context: Sequence[int], user: int
) -> tuple[np.ndarray, np.ndarray]:
    """The query's candidate items and feature rows: those it was just ranked on, else rebuilt."""
    known = user if 0 <= user < model.n_users_known_ else -1
    key = _key(model, np.asarray(context, dtype=np.int64), known)
    recent = model.recent_
    if recent is not None and recent[0] == key:
        return recent[1], recent[2]
    rows = basket_rows([list(context)], model.n_items)
    _, items, features = model.candidate_features(rows, np.array([known]) if known >= 0 else None)
    return items, features


def explain(
    model: LearnedReranker, context: Sequence[int], user: int, items: Sequence[int]
) -> list[Explanation | None]:
    """The explanation of each of ``items`` for one query (``None``: not a candidate)."""
    table = model.require_fitted()
    if not len(items):
        return []
    candidates, features = _candidates(model, context, user)
    position = {int(item): j for j, item in enumerate(candidates)}
    where = [position.get(int(i), -1) for i in items]
    chosen = [j for j in where if j >= 0]
    shown = np.asarray([int(candidates[j]) for j in chosen], dtype=np.int64)
    values, base = tree_contributions(model.ranker_, features[chosen])
    names = list(model.feature_names_)
    wording = _Wording(model, table, list(context), user, shown, features[chosen], names, values)
    explained = iter(explain_rows(values, base, feature_groups(model), wording))
    return [next(explained) if j >= 0 else None for j in where]


class _Wording:
    """Words for one group of one explained row; a component's reasons are asked once."""

    def __init__(
        self,
        model: LearnedReranker,
        table: ItemTable,
        context: list[int],
        user: int,
        items: np.ndarray,
        features: np.ndarray,
        names: list[str],
        values: np.ndarray,
    ) -> None:
        self.model, self.table, self.context, self.user = model, table, context, user
        self.items, self.features, self.names, self.values = items, features, names, values
        self.reasons: dict[int, list[str]] = {}
        # Feature columns of each component (index j of ``components_``).
        self.columns: dict[int, list[int]] = {}
        for column, name in enumerate(names):
            found = _COMPONENT.match(name)
            if found:
                self.columns.setdefault(int(found.group(1)), []).append(column)

    def value(self, row: int, name: str) -> float:
        return float(self.features[row, self.names.index(name)])

    def __call__(self, row: int, group: str) -> str:
        item = int(self.items[row])
        kinds = [j for j, c in enumerate(self.model.components_) if c.name == group]
        if kinds and group not in _GROUPS.values():
            # The component of this kind that moved the score most speaks for the group.
            moved = [abs(float(self.values[row, self.columns.get(j, [])].sum())) for j in kinds]
            return self.component(row, kinds[int(np.argmax(moved))])
        if group == "sales":
            return self.sales(item)
        if group == "price":
            return self.price(item)
        if group == "cart size":
            n = len(self.context)
            return f"a cart of {n} item{'s' if n != 1 else ''}"
        if group == "category":
            return self.category(row, item)
        return f"{group} = {self.value(row, group):.3g}"

    def component(self, row: int, j: int) -> str:
        component = self.model.components_[j]
        scores = self.features[row, self.columns.get(j, [])]
        if len(scores) and not np.isfinite(scores).any():
            return f"no {component.name} evidence"
        if j not in self.reasons:
            self.reasons[j] = component.reasons(self.context, self.user, self.items.tolist())
        return self.reasons[j][row]

    def sales(self, item: int) -> str:
        popularity = np.asarray(self.table.popularity, dtype=np.float64)
        orders = popularity[item]
        top = float((popularity >= orders).mean())
        return f"in {int(orders):,} past orders (top {max(top, 0.01):.0%} of items)"

    def price(self, item: int) -> str:
        prices = np.asarray(self.table.prices, dtype=np.float64)
        price = prices[item]
        if not np.isfinite(price):
            return "price unknown"
        cart = prices[self.context] if self.context else np.empty(0)
        cart = cart[np.isfinite(cart)]
        if not len(cart):
            return f"priced {price:.2f}"
        mean = float(cart.mean())
        than = (
            "pricier than"
            if price > 1.1 * mean
            else "cheaper than"
            if price < mean / 1.1
            else "priced like"
        )
        return f"{than} the cart ({price:.2f} vs {mean:.2f} on average)"

    def category(self, row: int, item: int) -> str:
        name = self.table.categories[item]
        share = self.value(row, "cart_category_share")
        if name is None or not np.isfinite(share):
            return "no category"
        return f"{share:.0%} of the cart in its category '{name}'"
