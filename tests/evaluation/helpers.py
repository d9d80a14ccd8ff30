"""Small shops and test doubles for the evaluation tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.models.base import Recommender


def tiny_shop() -> ShopData:
    """Four customers over two months; the split date 2024-02-01 puts 4 baskets in test."""
    rows = [
        # basket, user, items, day
        ("b1", "u1", ["a", "b"], "2024-01-02"),
        ("b2", "u1", ["a", "c"], "2024-01-10"),
        ("b3", "u2", ["b", "c", "d"], "2024-01-11"),
        ("b4", "u3", ["a", "b", "c"], "2024-01-15"),
        ("b5", "u1", ["a", "d", "e"], "2024-02-03"),  # test
        ("b6", "u2", ["c", "f"], "2024-02-04"),  # test
        ("b7", "u4", ["b", "e", "f", "g"], "2024-02-05"),  # test, new customer
        ("b8", "u3", ["g"], "2024-02-06"),  # test, single item: no basket-completion query
    ]
    frame = pd.DataFrame(
        [
            {"basket_id": b, "user_id": u, "item_id": i, "time": d, "price": 1.0 + ord(i) - 97}
            for b, u, items, d in rows
            for i in items
        ]
    )
    catalog = pd.DataFrame(
        {"item_id": list("abcdefg"), "category": ["x", "x", "y", "y", "z", None, "z"]}
    )
    return ShopData.from_frame(frame, catalog=catalog)


def items_of(data: ShopData, matrix: sp.csr_matrix, row: int) -> set[str]:
    idx = matrix.indices[matrix.indptr[row] : matrix.indptr[row + 1]]
    return set(data.items.to_external(idx).tolist())


@dataclass
class SpyCooccurrence(Recommender):
    """A tiny co-occurrence model (test double) that records what it is shown.

    Scores are ``context @ (XᵀX)`` over the training baskets, so it finds items
    bought together; ``seen_baskets`` and ``seen_contexts`` let tests prove that
    nothing from the test side reached it.
    """

    name = "spy"

    weight: float = 1.0
    seen_baskets: list[str] = field(default_factory=list, init=False, repr=False)
    seen_items: set[int] = field(default_factory=set, init=False, repr=False)
    cooc_: Any = field(default=None, init=False, repr=False)

    def _fit(self, data: ShopData) -> None:
        self.seen_baskets.extend(data.baskets.ids.tolist())
        x = data.basket_item
        self.cooc_ = (x.T @ x).tocsr()
        self.cooc_.setdiag(0)

    def score(self, baskets: sp.csr_matrix, users: np.ndarray | None = None) -> np.ndarray:
        self.require_fitted()
        self.seen_items.update(baskets.indices.tolist())
        pop = self.items_.popularity if self.items_ is not None else 0
        return np.asarray((baskets @ self.cooc_).todense()) * self.weight + 1e-6 * pop
