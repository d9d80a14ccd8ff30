"""Train/test splits of a ShopData, all deterministic.

Both sides share the item and user maps of the full data, so an item index means
the same product in train and test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError


@dataclass(frozen=True)
class Split:
    """Train and test baskets of one ShopData."""

    train: ShopData
    test: ShopData
    test_mask: np.ndarray

    def __repr__(self) -> str:
        return f"Split(train={self.train!r}, test={self.test!r})"


def _split(data: ShopData, test_mask: np.ndarray) -> Split:
    return Split(data.subset_baskets(~test_mask), data.subset_baskets(test_mask), test_mask)


def time_split(data: ShopData, at: str | pd.Timestamp | np.datetime64) -> Split:
    """Baskets before ``at`` train, baskets at or after it test.

    Baskets without a time stay in train (they cannot be after anything).
    """
    cut = pd.Timestamp(at).to_datetime64().astype("datetime64[ns]")
    times = data.basket_time
    test = ~np.isnat(times) & (times >= cut)
    return _split(data, test)


def last_basket_split(data: ShopData, min_baskets: int = 2) -> Split:
    """Each customer's last basket (by time) tests, the rest trains.

    Only customers with at least ``min_baskets`` baskets give a test basket;
    anonymous baskets always train.
    """
    if min_baskets < 2:
        raise ValidationError("min_baskets must be at least 2 so a customer keeps a train basket")
    users = data.basket_user
    order = np.lexsort((np.arange(data.n_baskets), data.basket_time.astype(np.int64), users))
    ordered_users = users[order]
    is_last = np.r_[ordered_users[1:] != ordered_users[:-1], True]
    counts = np.bincount(users[users >= 0], minlength=max(data.n_users, 1))
    test = np.zeros(data.n_baskets, dtype=bool)
    chosen = order[is_last & (ordered_users >= 0)]
    chosen = chosen[counts[users[chosen]] >= min_baskets]
    test[chosen] = True
    return _split(data, test)


def random_user_split(data: ShopData, test_share: float = 0.2, seed: int = 0) -> Split:
    """A random ``test_share`` of customers test with all their baskets; the rest train."""
    if not 0.0 < test_share < 1.0:
        raise ValidationError(f"test_share must be between 0 and 1, got {test_share}")
    rng = np.random.default_rng(seed)
    chosen = rng.random(data.n_users) < test_share
    users = data.basket_user
    if data.n_users == 0:
        return _split(data, np.zeros(data.n_baskets, dtype=bool))
    test = (users >= 0) & chosen[np.maximum(users, 0)]
    return _split(data, test)
