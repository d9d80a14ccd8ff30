"""Bundle candidates: planted triples found, with their prices."""

from __future__ import annotations

import pytest

from xsell.analytics.bundles import bundle_candidates
from xsell.data.synthetic import make_shop


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
