"""A synthetic shop with known structure: the demo's data and an oracle for tests.

Its catalog gives every item a price, a unit cost (35-85 % of the price) and
units on hand (0 for the items out of stock).

Customers have favourite categories and staples they buy again; baskets follow a
weekly and yearly rhythm; and *planted* complements (pairs and triples of items in
different categories) are added to baskets with known probabilities. A good
cross-sell model must rank a planted partner high when its anchor is in the cart.
With ``n_sequences`` it also plants *next-category sequences*: a customer who buys
a trigger item buys its follower (in another category) in their next basket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from xsell.data import columns as C
from xsell.data.shopdata import ShopData

CATEGORY_NAMES = (
    "Kitchen",
    "Garden",
    "Toys",
    "Stationery",
    "Lighting",
    "Textiles",
    "Bathroom",
    "Party",
    "Storage",
    "Outdoor",
    "Pets",
    "Books",
    "Audio",
    "Sports",
    "Baby",
    "Crafts",
)
ADJECTIVES = ("Red", "Vintage", "Small", "Large", "Blue", "Classic", "Retro", "Eco", "Pink", "Mini")


@dataclass(frozen=True)
class PlantedPair:
    """When ``anchor`` is in a basket, ``partner`` is added with probability ``strength``."""

    anchor: str
    partner: str
    strength: float


@dataclass(frozen=True)
class PlantedTriple:
    """The three items are bought together in a share ``strength`` of baskets with the first."""

    items: tuple[str, str, str]
    strength: float


@dataclass(frozen=True)
class PlantedSequence:
    """When ``trigger`` is in a customer's basket, ``follower`` joins their next basket.

    It joins with probability ``strength``; the follower sits in another category.
    """

    trigger: str
    follower: str
    strength: float


@dataclass
class SyntheticShop:
    """Order lines, catalog, customers and browsing events of a synthetic shop."""

    lines: pd.DataFrame
    catalog: pd.DataFrame
    customers: pd.DataFrame
    events: pd.DataFrame
    planted_pairs: list[PlantedPair] = field(default_factory=list)
    planted_triples: list[PlantedTriple] = field(default_factory=list)
    seed: int = 0
    planted_sequences: list[PlantedSequence] = field(default_factory=list)

    def to_shopdata(self, with_events: bool = True) -> ShopData:
        """The shop as a ShopData (purchases and, optionally, browsing events)."""
        frames = [self.lines.assign(**{C.EVENT: C.PURCHASE})]
        if with_events and len(self.events):
            frames.append(self.events)
        return ShopData.from_frame(pd.concat(frames, ignore_index=True), catalog=self.catalog)

    def write(self, folder: str | Path) -> dict[str, Path]:
        """Write ``orders.csv``, ``catalog.csv``, ``customers.csv`` and ``events.csv``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {
            "orders": folder / "orders.csv",
            "catalog": folder / "catalog.csv",
            "customers": folder / "customers.csv",
            "events": folder / "events.csv",
        }
        lines = self.lines.copy()
        lines[C.TIME] = lines[C.TIME].dt.strftime("%Y-%m-%d %H:%M:%S")
        lines.to_csv(paths["orders"], index=False)
        self.catalog.to_csv(paths["catalog"], index=False)
        self.customers.to_csv(paths["customers"], index=False)
        events = self.events.copy()
        events[C.TIME] = events[C.TIME].dt.strftime("%Y-%m-%d %H:%M:%S")
        events.to_csv(paths["events"], index=False)
        return paths


def make_shop(
    n_users: int = 1000,
    n_items: int = 300,
    n_categories: int = 10,
    n_pairs: int = 20,
    n_triples: int = 5,
    baskets_per_user: float = 6.0,
    basket_size: float = 3.0,
    start: str = "2025-01-01",
    days: int = 365,
    seed: int = 0,
    n_sequences: int = 0,
) -> SyntheticShop:
    """Generate a shop.

    Parameters
    ----------
    n_users, n_items, n_categories:
        Size of the customer base and catalog (at most 16 categories).
    n_pairs, n_triples:
        How many complement pairs and triples to plant; their anchors are popular
        enough items to be seen often, their partners sit in other categories.
    baskets_per_user, basket_size:
        Means of the (Poisson) number of baskets per customer and of organic
        items per basket, before planted partners are added.
    start, days:
        Calendar span of the orders.
    seed:
        Everything is drawn from one ``numpy`` generator seeded with it.
    n_sequences:
        How many next-category sequences to plant (trigger -> follower in the
        customer's next basket). With the default 0 nothing else changes: the
        same seed gives the same shop as before sequences existed.
    """
    rng = np.random.default_rng(seed)
    n_categories = min(n_categories, len(CATEGORY_NAMES))
    categories = np.array(CATEGORY_NAMES[:n_categories], dtype=object)
    item_category = rng.integers(0, n_categories, n_items)
    item_ids = np.array([f"SKU{i:05d}" for i in range(n_items)], dtype=object)
    names = np.array(
        [
            f"{ADJECTIVES[rng.integers(len(ADJECTIVES))]} {categories[c].lower()} item {i}"
            for i, c in enumerate(item_category)
        ],
        dtype=object,
    )
    prices = np.round(np.exp(rng.normal(2.0, 0.7, n_items)), 2)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    popularity = popularity[rng.permutation(n_items)]
    seasonal = rng.random(n_items) < 0.1
    in_stock = rng.random(n_items) > 0.05

    pairs, triples = _plant(rng, n_pairs, n_triples, item_category, popularity)
    pair_of: dict[int, list[tuple[int, float]]] = {}
    for a, b, s in pairs:
        pair_of.setdefault(a, []).append((b, s))
    triple_of = {t[0]: (t[1], t[2], s) for t, s in triples}
    sequences = (
        _plant_sequences(rng, n_sequences, item_category, popularity, pairs, triples)
        if n_sequences
        else []
    )
    follower_of = {t: (f, s) for t, f, s in sequences}

    taste = rng.dirichlet(np.full(n_categories, 0.5), n_users)
    start_time = pd.Timestamp(start)
    rows: list[tuple[str, str, str, pd.Timestamp, int, float]] = []
    view_rows: list[tuple[str, str, pd.Timestamp, str]] = []
    basket_no = 0
    for user in range(n_users):
        user_id = f"U{user:05d}"
        weights = popularity * taste[user][item_category]
        weights /= weights.sum()
        staples = rng.choice(n_items, size=3, replace=False, p=weights)
        n_baskets = max(1, rng.poisson(baskets_per_user))
        days_of = np.sort(_seasonal_days(rng, n_baskets, days, start_time.weekday()))
        coming: set[int] = set()  # followers owed to this customer's next basket
        for day in days_of:
            basket_no += 1
            when = (
                start_time
                + pd.Timedelta(days=float(day))
                + pd.Timedelta(minutes=int(rng.integers(8 * 60, 20 * 60)))
            )
            month = when.month
            boost = np.where(seasonal & (month in (11, 12)), 4.0, 1.0)
            p = weights * boost
            p /= p.sum()
            size = 1 + rng.poisson(basket_size - 1)
            chosen = set(rng.choice(n_items, size=min(size, n_items), replace=False, p=p).tolist())
            chosen |= {int(s) for s in staples if rng.random() < 0.25}
            for anchor in list(chosen):
                for partner, strength in pair_of.get(anchor, []):
                    if rng.random() < strength:
                        chosen.add(partner)
                if anchor in triple_of:
                    b, c, strength = triple_of[anchor]
                    if rng.random() < strength:
                        chosen |= {b, c}
            if follower_of:
                owed = coming
                coming = set()
                for trigger in sorted(chosen):
                    if trigger in follower_of and rng.random() < follower_of[trigger][1]:
                        coming.add(follower_of[trigger][0])
                chosen |= owed
            basket_id = f"B{basket_no:07d}"
            for item in sorted(chosen):
                quantity = int(1 + rng.poisson(0.5))
                rows.append(
                    (basket_id, user_id, item_ids[item], when, quantity, float(prices[item]))
                )
                if rng.random() < 0.3:
                    view_rows.append(
                        (user_id, item_ids[item], when - pd.Timedelta(minutes=5), "view")
                    )
            for item in rng.choice(n_items, size=2, p=p):
                view_rows.append((user_id, item_ids[item], when - pd.Timedelta(minutes=9), "view"))
            if rng.random() < 0.2:
                extra = int(rng.choice(n_items, p=p))
                view_rows.append((user_id, item_ids[extra], when - pd.Timedelta(minutes=2), "cart"))

    # Costs and units on hand come from a generator of their own, so adding them left every
    # other draw (and every test built on them) as it was.
    own = np.random.default_rng([seed, 1])
    costs = np.round(prices * own.uniform(0.35, 0.85, n_items), 2)
    stock = np.where(in_stock, 1 + own.poisson(40 * popularity / popularity.max() + 5), 0)

    lines = pd.DataFrame(rows, columns=[C.BASKET, C.USER, C.ITEM, C.TIME, C.QUANTITY, C.PRICE])
    events = pd.DataFrame(view_rows, columns=[C.USER, C.ITEM, C.TIME, C.EVENT])
    catalog = pd.DataFrame(
        {
            C.ITEM: item_ids,
            C.NAME: names,
            C.CATEGORY: categories[item_category],
            C.BRAND: np.array([f"Brand {b}" for b in rng.integers(0, 20, n_items)], dtype=object),
            C.PRICE: prices,
            C.IN_STOCK: in_stock,
            C.COST: costs,
            C.STOCK: stock,
            "colour": np.array(ADJECTIVES, dtype=object)[rng.integers(0, len(ADJECTIVES), n_items)],
        }
    )
    customers = pd.DataFrame(
        {
            C.USER: [f"U{u:05d}" for u in range(n_users)],
            "country": np.array(["UK", "FR", "DE", "NL", "ES"], dtype=object)[
                rng.integers(0, 5, n_users)
            ],
            "signup_year": rng.integers(2015, 2025, n_users),
        }
    )
    return SyntheticShop(
        lines=lines,
        catalog=catalog,
        customers=customers,
        events=events,
        planted_pairs=[PlantedPair(item_ids[a], item_ids[b], s) for a, b, s in pairs],
        planted_triples=[
            PlantedTriple((item_ids[t[0]], item_ids[t[1]], item_ids[t[2]]), s) for t, s in triples
        ],
        seed=seed,
        planted_sequences=[PlantedSequence(item_ids[t], item_ids[f], s) for t, f, s in sequences],
    )


def _plant(
    rng: np.random.Generator,
    n_pairs: int,
    n_triples: int,
    item_category: np.ndarray,
    popularity: np.ndarray,
) -> tuple[list[tuple[int, int, float]], list[tuple[tuple[int, int, int], float]]]:
    """Pick anchors among the fairly popular items and partners in other categories."""
    order = np.argsort(-popularity)
    anchors_pool = list(order[: max(len(order) // 3, n_pairs + n_triples)])
    rng.shuffle(anchors_pool)
    used: set[int] = set()
    pairs: list[tuple[int, int, float]] = []
    triples: list[tuple[tuple[int, int, int], float]] = []

    def partner_for(anchor: int, avoid: set[int]) -> int | None:
        candidates = [
            int(i)
            for i in order[len(order) // 4 :]
            if item_category[i] != item_category[anchor] and int(i) not in avoid
        ]
        return int(rng.choice(candidates)) if candidates else None

    # A small catalog may not hold enough distinct items: plant as many as fit.
    for anchor in anchors_pool:
        anchor = int(anchor)
        if anchor in used:
            continue
        if len(pairs) < n_pairs:
            partner = partner_for(anchor, used | {anchor})
            if partner is None:
                continue
            used |= {anchor, partner}
            pairs.append((anchor, partner, float(np.round(rng.uniform(0.4, 0.8), 2))))
        elif len(triples) < n_triples:
            b = partner_for(anchor, used | {anchor})
            c = partner_for(anchor, used | {anchor, b}) if b is not None else None
            if b is None or c is None:
                continue
            used |= {anchor, b, c}
            triples.append(((anchor, b, c), float(np.round(rng.uniform(0.4, 0.7), 2))))
        else:
            break
    return pairs, triples


def _plant_sequences(
    rng: np.random.Generator,
    n: int,
    item_category: np.ndarray,
    popularity: np.ndarray,
    pairs: list[tuple[int, int, float]],
    triples: list[tuple[tuple[int, int, int], float]],
) -> list[tuple[int, int, float]]:
    """Triggers among the middling items, followers among the rarest, in other categories.

    Items already planted in pairs or triples are left out, so each planted
    structure can be told apart.
    """
    used = {a for a, b, _ in pairs} | {b for a, b, _ in pairs}
    used |= {i for t, _ in triples for i in t}
    order = [int(i) for i in np.argsort(-popularity) if int(i) not in used]
    # Middling triggers and rare followers: best sellers cannot stand in for the sequence.
    third = len(order) // 3
    triggers = order[third : max(2 * third, third + n)]
    rng.shuffle(triggers)
    out: list[tuple[int, int, float]] = []
    taken: set[int] = set()
    for trigger in triggers:
        if len(out) == n:
            break
        if trigger in taken:
            continue
        candidates = [
            i
            for i in order[2 * third :]
            if item_category[i] != item_category[trigger] and i not in taken and i != trigger
        ]
        if not candidates:
            continue
        follower = int(rng.choice(candidates))
        taken |= {trigger, follower}
        out.append((trigger, follower, float(np.round(rng.uniform(0.6, 0.9), 2))))
    return out


def _seasonal_days(rng: np.random.Generator, n: int, days: int, first_weekday: int) -> np.ndarray:
    """Days with more orders at weekends (Saturday, Sunday) and in November-December.

    ``first_weekday`` is the weekday of day 0 (Monday = 0).
    """
    grid = np.arange(days)
    weekend = (first_weekday + grid) % 7 >= 5
    weight = 1.0 + 0.4 * weekend + 0.8 * np.exp(-(((grid - 330) / 25.0) ** 2))
    return rng.choice(grid, size=n, p=weight / weight.sum()).astype(float)
