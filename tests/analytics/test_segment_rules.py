"""Rules per segment: their lifts contrasted."""

from __future__ import annotations

import pytest

from xsell.analytics import rfm_segments
from xsell.analytics.segment_rules import segment_rule_contrasts
from xsell.data.shopdata import ShopData


def test_segment_rules_contrast_lifts(shop_data: ShopData) -> None:
    segments = rfm_segments(shop_data)
    table = segment_rule_contrasts(shop_data, segments, k=5, min_baskets=50)
    lifts = table.drop(
        columns=["item_a", "name_a", "item_b", "name_b", "spread", "highest", "lowest"]
    )
    assert (lifts.notna().sum(axis=1) >= 2).all()
    assert table["spread"].to_numpy() == pytest.approx(
        (lifts.max(axis=1) / lifts.min(axis=1)).to_numpy()
    )
    assert table["spread"].is_monotonic_decreasing
