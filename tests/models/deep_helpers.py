"""What the deep-model tests share: a synthetic shop with planted sequences and small settings."""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.conftest import need_module
from xsell.data.shopdata import ShopData
from xsell.data.synthetic import SyntheticShop, make_shop
from xsell.models import Recommender, make_model

#: Small networks, a few epochs, one thread: seconds per fit on the synthetic shop.
FAST: dict[str, dict[str, Any]] = {
    "neural": {
        "dim": 32,
        "epochs": 15,
        "patience": 4,
        "cart_share": 0.5,
        "threads": 1,
        "quiet": True,
    },
    "sequence": {
        "dim": 32,
        "epochs": 15,
        "patience": 4,
        "learning_rate": 0.005,
        "cart_share": 0.5,
        "dropout": 0.1,
        "threads": 1,
        "quiet": True,
    },
}


def planted_shop() -> SyntheticShop:
    return make_shop(n_users=600, n_items=150, n_pairs=12, n_triples=3, n_sequences=8, seed=7)


def build(name: str, **params: Any) -> Recommender:
    """A deep model with the fast settings; torch missing fails under CI (else skips)."""
    need_module("torch")
    return make_model(name, **{**FAST[name], **params})


def busy_pairs(shop: SyntheticShop, data: ShopData, minimum: int = 25) -> list[tuple[str, str]]:
    counts = dict(zip(data.items.ids, data.item_basket_count, strict=True))
    return [(p.anchor, p.partner) for p in shop.planted_pairs if counts.get(p.anchor, 0) >= minimum]


def next_item_cases(shop: SyntheticShop) -> list[tuple[str, str]]:
    """(customer, follower): the customer's last basket holds a trigger, and they never
    bought its follower."""
    lines = shop.lines.sort_values(["time", "basket_id"])
    last = lines.groupby("user_id")["basket_id"].last()
    cases = []
    for planted in shop.planted_sequences:
        holders = lines.loc[
            (lines["item_id"] == planted.trigger) & lines["basket_id"].isin(last.to_numpy()),
            "user_id",
        ].unique()
        had = set(lines.loc[lines["item_id"] == planted.follower, "user_id"])
        cases += [(str(u), planted.follower) for u in holders if u not in had]
    return cases


def planted_rates(model: Recommender, shop: SyntheticShop, data: ShopData) -> tuple[float, float]:
    """Share of planted partners in the top 5 and of planted next items in the top 10."""
    partners = [
        partner in set(model.complements(anchor, k=5)["item_id"])
        for anchor, partner in busy_pairs(shop, data)
    ]
    cases = next_item_cases(shop)
    answers = model.recommend([c for c, _ in cases], k=10, exclude_seen=False, mode="explore")
    by_customer = answers.groupby("query")["item_id"].apply(set)
    nexts = [follower in by_customer[c] for c, follower in cases]
    return float(np.mean(partners)), float(np.mean(nexts))


def tiny_shop(seed: int = 0) -> ShopData:
    """A small shop for fits that must run twice (determinism, refits)."""
    return make_shop(n_users=150, n_items=60, n_pairs=5, n_triples=1, seed=seed).to_shopdata()
