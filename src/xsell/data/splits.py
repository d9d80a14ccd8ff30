"""Train/test splits of a ShopData, all deterministic, chosen by name or date.

Both sides share the item and customer maps of the full data, so an item index
means the same product in train and test. :func:`validation_split` carves a
validation split out of the *training* side only, shaped like the test split, so
tuning never sees test baskets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from xsell.data.holdout import last_basket_mask
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError

#: Split names accepted besides an ISO date (a time split at that date).
SPLIT_KINDS = ("last-basket", "random")


@dataclass(frozen=True)
class Split:
    """Train and test baskets of one ShopData."""

    train: ShopData
    test: ShopData
    test_mask: np.ndarray

    def __repr__(self) -> str:
        return f"Split(train={self.train!r}, test={self.test!r})"


def split_by_mask(data: ShopData, test_mask: np.ndarray) -> Split:
    """The baskets of ``test_mask`` test, the others train."""
    return Split(data.subset_baskets(~test_mask), data.subset_baskets(test_mask), test_mask)


def time_split(data: ShopData, at: str | pd.Timestamp | np.datetime64) -> Split:
    """Baskets before ``at`` train, baskets at or after it test.

    Baskets without a time stay in train (they cannot be after anything).
    """
    cut = pd.Timestamp(at).to_datetime64().astype("datetime64[ns]")
    times = data.basket_time
    return split_by_mask(data, ~np.isnat(times) & (times >= cut))


def last_basket_split(data: ShopData, min_baskets: int = 2) -> Split:
    """Each customer's last basket (by time) tests, the rest trains.

    Only customers with at least ``min_baskets`` baskets give a test basket;
    anonymous baskets always train.
    """
    if min_baskets < 2:
        raise ValidationError("min_baskets must be at least 2 so a customer keeps a train basket")
    return split_by_mask(data, last_basket_mask(data, min_baskets))


def random_user_split(data: ShopData, test_share: float = 0.2, seed: int = 0) -> Split:
    """A random ``test_share`` of customers test with all their baskets; the rest train."""
    _check_share(test_share)
    rng = np.random.default_rng(seed)
    chosen = rng.random(data.n_users) < test_share
    users = data.basket_user
    if data.n_users == 0:
        return split_by_mask(data, np.zeros(data.n_baskets, dtype=bool))
    return split_by_mask(data, (users >= 0) & chosen[np.maximum(users, 0)])


def random_basket_split(data: ShopData, test_share: float = 0.2, seed: int = 0) -> Split:
    """A random ``test_share`` of baskets (orders) test; the rest train.

    For data without customers or times (Instacart's train lines), where a user
    or time split has nothing to split on.
    """
    _check_share(test_share)
    rng = np.random.default_rng(seed)
    return split_by_mask(data, rng.random(data.n_baskets) < test_share)


def make_split(data: ShopData, spec: str, seed: int = 0, test_share: float = 0.2) -> Split:
    """The split named by ``spec``: an ISO date (time split), ``last-basket`` or ``random``."""
    if spec == "last-basket":
        return last_basket_split(data)
    if spec == "random":
        return random_basket_split(data, test_share=test_share, seed=seed)
    try:
        at = pd.Timestamp(spec)
    except (ValueError, TypeError) as exc:
        raise ValidationError(
            f"--split must be a date like 2011-10-01 or one of {list(SPLIT_KINDS)}, got {spec!r}"
        ) from exc
    split = time_split(data, at)
    if not split.test_mask.any() or split.test_mask.all():
        times = data.basket_time[~np.isnat(data.basket_time)]
        span = (
            f"baskets run from {pd.Timestamp(times.min()).date()} "
            f"to {pd.Timestamp(times.max()).date()}"
            if len(times)
            else "the baskets have no times"
        )
        raise ValidationError(
            f"--split {spec}: a time split there leaves "
            f"{'no test' if not split.test_mask.any() else 'no training'} baskets; {span}"
        )
    return split


def validation_split(train: ShopData, spec: str, seed: int = 0, share: float = 0.2) -> Split:
    """A split of the *training* data only, shaped like the test split ``spec``.

    A time split takes the latest ``share`` of training baskets (by time) as
    validation, a last-basket split each customer's last training basket, a
    random split a random ``share`` of training baskets. The test split is never
    touched, so tuning cannot see it.
    """
    if spec == "last-basket":
        return last_basket_split(train)
    if spec == "random":
        return random_basket_split(train, test_share=share, seed=seed)
    times = train.basket_time
    known = ~np.isnat(times)
    if not known.any():
        return random_basket_split(train, test_share=share, seed=seed)
    cut = np.quantile(times[known].astype(np.int64), 1.0 - share)
    mask = known & (times.astype(np.int64) >= cut)
    if not mask.any() or mask.all():
        return random_basket_split(train, test_share=share, seed=seed)
    return split_by_mask(train, mask)


def _check_share(test_share: float) -> None:
    if not 0.0 < test_share < 1.0:
        raise ValidationError(f"test_share must be between 0 and 1, got {test_share}")
