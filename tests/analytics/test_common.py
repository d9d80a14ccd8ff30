"""Analyses name the input they are missing instead of failing."""

from __future__ import annotations

import pytest

from xsell.analytics import Unavailable
from xsell.analytics.baskets import category_affinity, repurchase_intervals
from xsell.analytics.paths import funnel
from xsell.data.shopdata import ShopData


def test_analyses_name_their_missing_input() -> None:
    data = ShopData.from_baskets([["a", "b"], ["a", "b", "c"]])
    with pytest.raises(Unavailable, match="needs item categories, and the catalog has none"):
        category_affinity(data)
    with pytest.raises(Unavailable, match="needs browsing events"):
        funnel(data)
    with pytest.raises(Unavailable, match="needs customer ids"):
        repurchase_intervals(data)
