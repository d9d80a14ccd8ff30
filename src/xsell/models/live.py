"""What every model learns from live orders before its own ``_update``: new ids, histories.

Nothing here changes an array in place: the grown item table, customer map and
purchase histories are new objects, so a model being read is never seen half-updated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from xsell.data.idmap import IdMap
from xsell.errors import ValidationError
from xsell.models.items import ItemTable, basket_rows, grow_history


@dataclass(frozen=True)
class Orders:
    """New orders over the grown tables: baskets as a binary CSR, customers by index."""

    table: ItemTable
    users: IdMap
    history: sp.csr_matrix
    baskets: sp.csr_matrix
    customers: np.ndarray
    new_items: int


def absorb(
    table: ItemTable,
    users: IdMap,
    history: sp.csr_matrix | None,
    baskets: Sequence[Sequence[str]],
    customers: Sequence[str | None] | None,
    names: dict[str, str] | None,
) -> Orders:
    """Grow ``table``, ``users`` and ``history`` by new orders (external ids).

    Unseen items join the table (their order count as popularity, no category or
    price, in stock, named by ``names`` when given), unseen customers the map.
    """
    owners = [None] * len(baskets) if customers is None else list(customers)
    if len(owners) != len(baskets):
        raise ValidationError(
            f"update needs one user per basket: got {len(baskets)} baskets and {len(owners)} users"
        )
    clean = [list(dict.fromkeys(str(i) for i in basket)) for basket in baskets]
    new_items = [i for i in dict.fromkeys(i for b in clean for i in b) if i not in table.ids]
    if new_items:
        table = table.grown(new_items, names or {})
    fresh = [u for u in dict.fromkeys(str(u) for u in owners if u is not None) if u not in users]
    if fresh:
        users = IdMap([*users.ids, *fresh])
    rows = basket_rows([table.ids.to_index(b).tolist() for b in clean], len(table))
    who = np.array([users.index_of(str(u)) if u is not None else -1 for u in owners], np.int64)
    table = replace(table, popularity=table.popularity + np.asarray(rows.sum(axis=0)).ravel())
    return Orders(
        table, users, grow_history(history, who, rows, len(users)), rows, who, len(new_items)
    )
