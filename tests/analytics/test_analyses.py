"""Basket, sales, path, bundle and segment analyses against brute-force counts and hand fixtures."""

from __future__ import annotations

from collections import Counter
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import fisher_exact

from xsell.analytics import Unavailable, load_segments, rfm_segments, save_segments
from xsell.analytics.baskets import category_affinity, repurchase_intervals, top_pairs
from xsell.analytics.bundles import bundle_candidates
from xsell.analytics.paths import funnel, transitions
from xsell.analytics.segment_rules import segment_rule_contrasts
from xsell.data.ingest import ingest_lines
from xsell.data.shopdata import ShopData
from xsell.data.store import Store
from xsell.data.synthetic import make_shop


@pytest.fixture(scope="module")
def shop() -> ShopData:
    return make_shop(n_users=400, n_items=80, seed=1).to_shopdata()


def test_top_pairs_equal_brute_force_counts_lift_and_fisher(shop: ShopData) -> None:
    pairs = top_pairs(shop, k=15, min_count=10)
    baskets = [set(shop.basket_items(b).tolist()) for b in range(shop.n_baskets)]
    single = Counter(i for b in baskets for i in b)
    together = Counter(p for b in baskets for p in combinations(sorted(b), 2))
    n = len(baskets)
    expected = sorted(
        ((c * n / (single[a] * single[b]), c, a, b) for (a, b), c in together.items() if c >= 10),
        reverse=True,
    )[:15]
    assert [(a, b) for _, _, a, b in expected] == list(zip(pairs["a"], pairs["b"], strict=True))
    for row in pairs.itertuples():
        assert row.count == together[(row.a, row.b)]
        table = [
            [row.count, single[row.a] - row.count],
            [single[row.b] - row.count, n - single[row.a] - single[row.b] + row.count],
        ]
        assert row.p_value == pytest.approx(
            fisher_exact(table, alternative="greater")[1], rel=1e-6, abs=1e-300
        )
    assert pairs["name_a"].notna().all()


def test_bundles_recover_a_planted_triple() -> None:
    synthetic = make_shop(n_users=800, n_items=100, n_triples=3, seed=5)
    data = synthetic.to_shopdata()
    table = bundle_candidates(data, k=10, min_count=15)
    triples = {frozenset(t) for t in table.loc[table["size"] == 3, "items"]}
    planted = {frozenset(t.items) for t in synthetic.planted_triples}
    assert triples & planted
    assert (table["lift"] >= 2).all()
    # Cross-category by default when the catalog has categories.
    assert (table["categories"].str.count(",") >= 1).all()
    first = table.iloc[0]
    items = data.items.to_index(list(first["items"]))
    assert first["price"] == pytest.approx(data.item_prices()[items].sum())


def test_category_affinity_is_lift_of_category_pairs(shop: ShopData) -> None:
    lift = category_affinity(shop)
    cats = shop.item_categories()
    per_basket = [set(cats[shop.basket_items(b)]) for b in range(shop.n_baskets)]
    a, b = lift.index[0], lift.index[1]
    n_a = sum(a in s for s in per_basket)
    n_b = sum(b in s for s in per_basket)
    n_ab = sum(a in s and b in s for s in per_basket)
    assert lift.loc[a, b] == pytest.approx(n_ab * len(per_basket) / (n_a * n_b))
    assert np.isnan(lift.loc[a, a])


def test_repurchase_intervals_by_hand() -> None:
    rows = [
        # u1 buys x on days 0, 10, 30 (twice on day 10: counted once); u2 on days 0 and 4.
        ("b1", "u1", "x", "2024-01-01"),
        ("b2", "u1", "x", "2024-01-11"),
        ("b3", "u1", "x", "2024-01-11"),
        ("b4", "u1", "x", "2024-01-31"),
        ("b5", "u2", "x", "2024-01-01"),
        ("b6", "u2", "x", "2024-01-05"),
        ("b6", "u2", "y", "2024-01-05"),
    ]
    frame = pd.DataFrame(rows, columns=["basket_id", "user_id", "item_id", "time"])
    table = repurchase_intervals(ShopData.from_frame(frame), min_repeats=1, min_customers=1)
    assert table["item_id"].tolist() == ["x"]
    row = table.iloc[0]
    # Intervals 10, 20 (u1) and 4 (u2).
    assert (row["repeats"], row["customers"], row["median_days"]) == (3, 2, 10.0)


def test_funnel_and_transitions_by_hand() -> None:
    t = pd.Timestamp("2024-01-01 10:00")
    lines = pd.DataFrame(
        [
            # u1 views a, b, c; carts b; buys b.  u2 views a, b and (later) c; buys nothing.
            ("", "u1", "a", t, "view"),
            ("", "u1", "b", t + pd.Timedelta(minutes=1), "view"),
            ("", "u1", "b", t + pd.Timedelta(minutes=2), "cart"),
            ("", "u1", "c", t + pd.Timedelta(minutes=3), "view"),
            ("o1", "u1", "b", t + pd.Timedelta(minutes=4), "purchase"),
            ("", "u2", "a", t, "view"),
            ("", "u2", "b", t + pd.Timedelta(minutes=5), "view"),
            ("", "u2", "c", t + pd.Timedelta(hours=3), "view"),
        ],
        columns=["basket_id", "user_id", "item_id", "time", "event"],
    ).replace("", None)
    catalog = pd.DataFrame({"item_id": ["a", "b", "c"], "category": ["K", "K", "L"]})
    data = ShopData.from_frame(lines, catalog=catalog)
    table = funnel(data).set_index("category")
    assert table.loc["all", ["view", "cart", "purchase"]].tolist() == [6, 1, 1]
    assert table.loc["K", "view_to_cart"] == pytest.approx(1 / 4)
    assert table.loc["K", "cart_to_purchase"] == 1.0
    moves = transitions(data, min_customers=1)
    counted = dict(
        zip(zip(moves["from_id"], moves["to_id"], strict=True), moves["count"], strict=True)
    )
    # a->b twice (u1, u2); b->c once (u1); u2's c is three hours later: a new session.
    assert counted == {("a", "b"): 2, ("b", "c"): 1}
    # Only a->b was made by two customers.
    shared = transitions(data, min_customers=2)
    assert list(zip(shared["from_id"], shared["to_id"], shared["customers"], strict=True)) == [
        ("a", "b", 2)
    ]


def test_analyses_name_their_missing_input() -> None:
    data = ShopData.from_baskets([["a", "b"], ["a", "b", "c"]])
    with pytest.raises(Unavailable, match="needs item categories, and the catalog has none"):
        category_affinity(data)
    with pytest.raises(Unavailable, match="needs browsing events"):
        funnel(data)
    with pytest.raises(Unavailable, match="needs customer ids"):
        repurchase_intervals(data)


def test_segment_rules_contrast_lifts(shop: ShopData) -> None:
    segments = rfm_segments(shop)
    table = segment_rule_contrasts(shop, segments, k=5, min_baskets=50)
    lifts = table.drop(
        columns=["item_a", "name_a", "item_b", "name_b", "spread", "highest", "lowest"]
    )
    assert (lifts.notna().sum(axis=1) >= 2).all()
    assert table["spread"].to_numpy() == pytest.approx(
        (lifts.max(axis=1) / lifts.min(axis=1)).to_numpy()
    )
    assert table["spread"].is_monotonic_decreasing


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
