"""What the deep-model tests share: a synthetic shop with planted sequences and small settings."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd

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


@functools.cache
def planted_shop() -> SyntheticShop:
    """The standard synthetic shop plus 8 planted "next basket" sequences (built once)."""
    return make_shop(n_users=600, n_items=150, n_pairs=12, n_triples=3, n_sequences=8, seed=7)


@functools.cache
def planted_data() -> ShopData:
    return planted_shop().to_shopdata()


_FITTED: dict[str, Recommender] = {}


def fitted_planted(name: str) -> Recommender:
    """``name`` with the fast settings fitted on the planted shop, once per session (shared:
    copy it before changing it)."""
    if name not in _FITTED:
        _FITTED[name] = build(name).fit(planted_data())
    return _FITTED[name]


def busiest_customers(data: ShopData, n: int = 4) -> list[str]:
    """The ``n`` customers with the most distinct items (ties: lower index)."""
    counts = np.diff(data.user_item.indptr)
    return [str(u) for u in data.users.to_external(np.argsort(-counts, kind="stable")[:n])]


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


def hand_shop() -> ShopData:
    """Two customers and a guest, five items with names, categories, brands and prices.

    u0: day 0 {a, b}, day 10 {b, c}, day 20 {d}; u1: day 5 {a}; guest: day 3 {a, c}.
    """
    rows = [
        ("1", "u0", "a", 0, 2.0, 1.0), ("1", "u0", "b", 0, 1.0, 3.0),
        ("2", "u0", "b", 10, 1.0, 3.0), ("2", "u0", "c", 10, 1.0, 5.0),
        ("3", "u0", "d", 20, 4.0, 0.5),
        ("4", "u1", "a", 5, 1.0, 1.0),
        ("5", None, "a", 3, 1.0, 1.0), ("5", None, "c", 3, 1.0, 5.0),
    ]  # fmt: skip
    frame = pd.DataFrame(
        rows, columns=["basket_id", "user_id", "item_id", "day", "quantity", "price"]
    )
    frame["time"] = pd.Timestamp("2025-01-01") + pd.to_timedelta(frame.pop("day"), unit="D")
    catalog = pd.DataFrame(
        {
            "item_id": list("abcde"),
            "name": ["Red mug", "Blue mug", "Red plate", "Lamp", None],
            "category": ["kitchen", "kitchen", "kitchen", "light", None],
            "brand": ["x", "y", "x", None, "y"],
            "price": [1.0, 3.0, 5.0, 0.5, None],
        }
    )
    return ShopData.from_frame(frame, catalog=catalog)
