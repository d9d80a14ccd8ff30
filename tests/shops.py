"""The shops every test draws from: one synthetic shop, one tiny basket set, real baskets.

``standard``   the synthetic shop (600 customers, 150 items, 12 planted pairs);
               :func:`fitted` caches models fitted on it
``TINY``       four baskets whose counts are worked out by hand
``dated``      baskets placed on days after 2025-01-01 (optionally by customers,
               with a catalog)
``customers``  eight dated baskets of four customers with a catalog: the
               hand-checked fixture of splits, held-out queries and metrics
``groceries``  the first 1,500 baskets of arules' Groceries (real, ragged)
``retail``     the real Online Retail orders, ingested once per session
``NAMED``      three named customers' orders; :func:`pseudonymized_bundle`
               trains on them ingested with keyed pseudonyms
=============  ==============================================================
=======
=====================  ==============================================================
``standard``           the synthetic shop (600 customers, 150 items, 12 planted pairs);
                       :func:`fitted` caches models fitted on it
``TINY``               four baskets whose counts are worked out by hand
``dated``              baskets placed on days after 2025-01-01 (optionally by customers,
                       with a catalog)
``customers``          eight dated baskets of four customers with a catalog: the
                       hand-checked fixture of splits, held-out queries and metrics
``loyal_and_curious``  customers who only rebuy their staples and customers who
                       buy a new best seller every time (mixed lists' slot split)
``groceries``          the first 1,500 baskets of arules' Groceries (real, ragged)
``retail``             the real Online Retail orders, ingested once per session
``NAMED``              three named customers' orders; :func:`pseudonymized_bundle`
                       trains on them ingested with keyed pseudonyms
=====================  ==============================================================
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.conftest import IN_CI, need_module, shared_file
from xsell.data.shopdata import ShopData
from xsell.data.synthetic import SyntheticShop, make_shop
from xsell.models import REGISTRY, Recommender, make_model

#: a b c / a b / a c / b c d. Baskets holding each item: a 3, b 3, c 3, d 1 of N = 4;
#: pairs: ab 2, ac 2, bc 2, bd 1, cd 1 (a and d are never bought together).
TINY: list[list[str]] = [["a", "b", "c"], ["a", "b"], ["a", "c"], ["b", "c", "d"]]

#: Small but honest settings, so models fitted on the standard shop stay fast.
FAST_PARAMS: dict[str, dict[str, Any]] = {
    "als": {"factors": 16, "iterations": 8},
    "bpr": {"factors": 16},
    "cooccurrence": {"measure": "lift", "min_count": 2},
    "reranker": {"n_estimators": 60, "max_queries": 2000},
    "neural": {"dim": 32, "epochs": 8, "patience": 3, "threads": 1, "quiet": True},
    "sequence": {"dim": 32, "epochs": 8, "patience": 3, "threads": 1, "quiet": True},
}
#: Models that learn from co-purchases, so they must find the planted partners.
CO_PURCHASE = (
    "cooccurrence", "itemknn", "userknn", "neighbours", "rules", "als", "bpr", "hybrid", "reranker",
    "neural", "sequence",
)  # fmt: skip


@functools.cache
def standard() -> SyntheticShop:
    """The standard synthetic shop (built once)."""
    return make_shop(n_users=600, n_items=150, n_pairs=12, n_triples=3, seed=7)


@functools.cache
def standard_data() -> ShopData:
    return standard().to_shopdata()


def build(name: str, **params: Any) -> Recommender:
    """A new model with the fast settings; a model that cannot be built fails under CI."""
    module = REGISTRY[name].partition(":")[0]
    if module.startswith("deep."):
        need_module("torch")  # the deep models import it only when they fit
    try:
        return make_model(name, **{**FAST_PARAMS.get(name, {}), **params})
    except ImportError as exc:  # pragma: no cover - every extra is installed in CI
        if IN_CI:
            pytest.fail(f"CI needs the model {name!r} (xsell.models.{module}): {exc}")
        pytest.skip(f"model {name!r} cannot be built here: {exc}")
        raise


_FITTED: dict[tuple[str, str], Recommender] = {}


def fitted(name: str, **params: Any) -> Recommender:
    """``name`` (fast settings plus ``params``) fitted on the standard shop, once per session.

    Shared: tests must not change it (copy it first, e.g. with ``copy.deepcopy``).
    """
    key = (name, repr(sorted(params.items())))
    if key not in _FITTED:
        _FITTED[key] = build(name, **params).fit(standard_data())
    return _FITTED[key]


def dated(
    baskets: Sequence[Sequence[str]],
    days: Sequence[int],
    users: Sequence[str | None] | None = None,
    catalog: pd.DataFrame | None = None,
) -> ShopData:
    """ShopData of ``baskets`` placed ``days`` after 2025-01-01 (by ``users`` when given)."""
    rows = [
        {
            "basket_id": f"b{b}",
            "item_id": item,
            "user_id": users[b] if users else None,
            "time": pd.Timestamp("2025-01-01") + pd.Timedelta(days=day),
        }
        for b, (items, day) in enumerate(zip(baskets, days, strict=True))
        for item in items
    ]
    return ShopData.from_frame(
        pd.DataFrame(rows), user="user_id" if users else None, catalog=catalog
    )


def customers() -> ShopData:
    """Four customers over two months; a split at 2024-02-01 puts b5..b8 in test.

    ====== ======== ========= ==========
    basket customer items     day
    ====== ======== ========= ==========
    b1     u1       a b       2024-01-02
    b2     u1       a c       2024-01-10
    b3     u2       b c d     2024-01-11
    b4     u3       a b c     2024-01-15
    b5     u1       a d e     2024-02-03  test
    b6     u2       c f       2024-02-04  test
    b7     u4       b e f g   2024-02-05  test, a new customer
    b8     u3       g         2024-02-06  test, one item: no basket-completion query
    ====== ======== ========= ==========

    Items a..g cost 1..7 and belong to categories x x y y z (none) z.
    """
    rows = [
        ("b1", "u1", "ab", "2024-01-02"),
        ("b2", "u1", "ac", "2024-01-10"),
        ("b3", "u2", "bcd", "2024-01-11"),
        ("b4", "u3", "abc", "2024-01-15"),
        ("b5", "u1", "ade", "2024-02-03"),
        ("b6", "u2", "cf", "2024-02-04"),
        ("b7", "u4", "befg", "2024-02-05"),
        ("b8", "u3", "g", "2024-02-06"),
    ]
    frame = pd.DataFrame(
        [
            {"basket_id": b, "user_id": u, "item_id": i, "time": d, "price": 1.0 + ord(i) - 97}
            for b, u, items, d in rows
            for i in items
        ]
    )
    catalog = pd.DataFrame(
        {"item_id": list("abcdefg"), "category": ["x", "x", "y", "y", "z", None, "z"]}
    )
    return ShopData.from_frame(frame, catalog=catalog)


def loyal_and_curious(n: int = 40) -> ShopData:
    """Loyal customers buy their 3 staples every time; curious ones a new best seller each time.

    The best sellers are bought by the many one-basket shoppers, so popularity ranks them.
    """
    rows = []
    day = pd.Timestamp("2025-01-01")
    sellers = [f"top{i}" for i in range(12)]
    for u in range(n):
        for t in range(4):
            when = day + pd.Timedelta(days=7 * t, hours=u)
            if u % 2 == 0:
                items = [f"staple{u}-{s}" for s in range(3)]
            else:
                items = [sellers[(u + t) % len(sellers)]]
            rows += [(f"b{u}-{t}", f"u{u:03d}", item, when) for item in items]
    for g in range(300):
        rows += [(f"g{g}", None, sellers[g % len(sellers)], day)]
        if g % 3:
            rows += [(f"g{g}", None, sellers[(g // 2) % len(sellers)], day)]
    return ShopData.from_frame(
        pd.DataFrame(rows, columns=["basket_id", "user_id", "item_id", "time"])
    )


def items_of(data: ShopData, matrix: Any, row: int) -> set[str]:
    """External ids of the non-zero columns of one row of an items CSR."""
    idx = matrix.indices[matrix.indptr[row] : matrix.indptr[row + 1]]
    return set(data.items.to_external(idx).tolist())


@functools.cache
def grocery_baskets() -> list[list[str]]:
    """The first 1,500 baskets of arules' Groceries (real, ragged, 169 items)."""
    path = shared_file("groceries/groceries.csv")
    lines = path.read_text().splitlines()[:1500]
    return [[item.strip() for item in line.split(",") if item.strip()] for line in lines]


_RETAIL: dict[str, ShopData] = {}


def retail(folder: Path) -> ShopData:
    """The Online Retail orders (ingested into a store under ``folder`` the first time)."""
    if "data" not in _RETAIL:
        from xsell.data.ingest import ingest_lines
        from xsell.data.store import Store

        store = Store(folder / "retail.duckdb")
        ingest_lines(store, shared_file("online_retail/online_retail.csv"), preset="online-retail")
        _RETAIL["data"] = ShopData.from_store(store)
    return _RETAIL["data"]


#: The pseudonym key of :func:`pseudonymized_bundle` (also set as ``$XSELL_PSEUDONYM_KEY``).
PSEUDONYM_KEY = "a pseudonym key of more than 16 bytes"
#: Small orders of three named customers (ANNA-1, BEN-2, CY-3), as a generic CSV.
NAMED = "basket_id,user_id,item_id,time\n" + "".join(
    f"B{n},{who},{item},2024-01-{1 + n % 20:02d} 10:00:00\n"
    for n, (who, items) in enumerate(
        [
            ("ANNA-1", "a b"),
            ("ANNA-1", "a c"),
            ("BEN-2", "b c"),
            ("BEN-2", "a b d"),
            ("CY-3", "d e"),
        ]
        * 3
    )
    for item in items.split()
)


def hashed(raw: str) -> str:
    """The pseudonym of ``raw`` under :data:`PSEUDONYM_KEY`, computed here with hmac."""
    return hmac.new(PSEUDONYM_KEY.encode(), raw.encode(), hashlib.sha256).hexdigest()


def pseudonymized_bundle(folder: Path) -> Path:
    """A ``personal`` bundle trained on :data:`NAMED` ingested with pseudonyms."""
    from xsell.data.ingest import ingest_lines
    from xsell.data.privacy import PrivacyOptions
    from xsell.data.store import Store

    orders = folder / "orders.csv"
    orders.write_text(NAMED)
    store = Store(folder / "keyed.duckdb")
    ingest_lines(store, orders, privacy=PrivacyOptions(key=PSEUDONYM_KEY.encode()))
    data = ShopData.from_store(store)
    assert hashed("ANNA-1") in set(data.users.ids)
    return make_model("personal").fit(data).save(folder / "personal")


def ingested(shop: SyntheticShop, folder: Path) -> Path:
    """``shop``'s orders and catalog written to ``folder`` and ingested by ``xsell ingest``."""
    from tests.conftest import run_xsell

    shop.write(folder / "shop")
    done = run_xsell(
        "ingest", "shop/orders.csv", "--catalog", "shop/catalog.csv", "--store", "x.duckdb",
        "--quiet", cwd=folder,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return folder / "x.duckdb"


def evaluated(shop: SyntheticShop, folder: Path) -> Path:
    """:func:`ingested`, with a leaderboard saved in the store (pairs 0.3, popularity 0.1)."""
    from xsell.evaluation import Leaderboard

    store = ingested(shop, folder)
    rows = [{"model": "pairs", "recall@10": 0.3}, {"model": "popularity", "recall@10": 0.1}]
    board = Leaderboard.from_runs(rows, protocol="basket-completion", split="s", ks=[10])
    board.save_to_store(store)
    return store
