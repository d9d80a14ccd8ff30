"""Segment profiles of the tiny shop (tests/analytics/conftest.py) against hand counts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from xsell.analytics import Unavailable, load_segments, rfm_segments, save_segments
from xsell.analytics.segments import segment_profiles
from xsell.data.ingest import ingest_lines
from xsell.data.shopdata import ShopData
from xsell.data.store import Store
from xsell.data.synthetic import make_shop


def test_segment_profiles_by_hand(tiny: ShopData) -> None:
    users = tiny.users.to_index(["u1", "u2", "u3"])
    segments = pd.DataFrame(
        {"user_id": ["u1", "u2", "u3"], "segment": ["at risk", "champions", "champions"]},
        index=pd.Index(users, name="user"),
    )
    table = segment_profiles(tiny, segments, min_customers=1).set_index("segment")
    # RFM's best-first order, not the alphabet.
    assert table.index.tolist() == ["champions", "at risk"]
    champions, at_risk = table.loc["champions"], table.loc["at risk"]
    assert (champions["customers"], at_risk["customers"]) == (2, 1)
    assert champions["customer_share"] == pytest.approx(2 / 3)
    # u2's o3 and u3's o5; u1's o1 and o2. The anonymous o4 (10.5) is in no segment.
    assert (champions["orders"], at_risk["orders"]) == (2, 2)
    assert (champions["revenue"], at_risk["revenue"]) == (19.0, 18.5)
    assert champions["revenue_share"] == pytest.approx(19.0 / 37.5)
    assert at_risk["revenue_share"] == pytest.approx(18.5 / 37.5)
    # Champions: Dish 15.0 (Table), Candle 4.0 (Lighting).
    assert champions["top_items"] == "Dish, Candle"
    assert champions["top_categories"] == "Table, Lighting"
    # At risk: Candle 12.0, Apple 4.5, Bread 2.0; Lighting 12.0, Kitchen 6.5.
    assert at_risk["top_items"] == "Candle, Apple, Bread"
    assert at_risk["top_categories"] == "Lighting, Kitchen"
    # Two orders are far below the 10 a pair needs.
    assert (champions["top_pairs"], at_risk["top_pairs"]) == ("", "")
    assert table["customers"].sum() == 3


def test_segment_profiles_top_limits_the_names(tiny: ShopData) -> None:
    users = tiny.users.to_index(["u1", "u2", "u3"])
    segments = pd.DataFrame(
        {"user_id": ["u1", "u2", "u3"], "segment": ["loyal"] * 3}, index=pd.Index(users)
    )
    row = segment_profiles(tiny, segments, top=2, min_customers=1).iloc[0]
    # Candle 20.0 - 4.0 (anonymous o4) = 16.0, Dish 15.0, Apple 4.5, Bread 2.0.
    assert row["top_items"] == "Candle, Dish"
    assert row["top_categories"] == "Lighting, Table"
    assert (row["customers"], row["orders"], row["revenue"]) == (3, 4, 37.5)
    assert row["revenue_share"] == 1.0


def test_segments_round_trip_through_the_store(tmp_path: Path) -> None:
    synthetic = make_shop(n_users=50, n_items=60, n_pairs=5, n_triples=1, seed=2)
    paths = synthetic.write(tmp_path / "shop")
    store = Store(tmp_path / "s.duckdb")
    ingest_lines(store, paths["orders"])
    data = ShopData.from_store(store)
    with pytest.raises(Unavailable, match="no segments saved yet"):
        load_segments(store, "rfm")
    table = rfm_segments(data)
    assert save_segments(store, table, "rfm") == len(table)
    assert save_segments(store, table, "rfm") == len(table)  # replaces, not appends
    loaded = load_segments(store, "rfm").set_index("user_id")["segment"]
    assert (
        loaded.sort_index().to_dict()
        == table.set_index("user_id")["segment"].sort_index().to_dict()
    )
