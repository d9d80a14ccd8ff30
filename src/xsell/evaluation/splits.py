"""Choosing a train/test split by name, and carving a validation split out of training data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from xsell.data.shopdata import ShopData
from xsell.data.split import Split, last_basket_split, time_split
from xsell.errors import ValidationError

#: Split names accepted besides an ISO date (a time split at that date).
SPLIT_KINDS = ("last-basket", "random")


def random_basket_split(data: ShopData, test_share: float = 0.2, seed: int = 0) -> Split:
    """A random ``test_share`` of baskets (orders) test; the rest train.

    For data without customers or times (Instacart's train lines), where a user
    or time split has nothing to split on.
    """
    if not 0.0 < test_share < 1.0:
        raise ValidationError(f"test_share must be between 0 and 1, got {test_share}")
    rng = np.random.default_rng(seed)
    test = rng.random(data.n_baskets) < test_share
    return Split(data.subset_baskets(~test), data.subset_baskets(test), test)


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
    return Split(train.subset_baskets(~mask), train.subset_baskets(mask), mask)
