"""Segments of customers: the methods, per-segment profiles, and their home in the store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from xsell.analytics.baskets import pair_min_count, top_pairs
from xsell.analytics.clusters import kmeans_segments
from xsell.analytics.common import Unavailable, line_revenue
from xsell.analytics.rfm import SEGMENT_ORDER, rfm_segments
from xsell.data.groups import MIN_CUSTOMERS, check_min_customers
from xsell.data.shopdata import ShopData
from xsell.data.store import Store
from xsell.errors import ValidationError

#: Segmentation methods by name.
SEGMENT_METHODS: Final[dict[str, Callable[[ShopData], pd.DataFrame]]] = {
    "rfm": rfm_segments,
    "kmeans": kmeans_segments,
}

SEGMENTS_TABLE: Final = """CREATE TABLE IF NOT EXISTS segments (
    user_id VARCHAR, method VARCHAR, segment VARCHAR, computed_at TIMESTAMP)"""


def compute_segments(data: ShopData, method: str = "rfm") -> pd.DataFrame:
    """Segment every customer with the named method (see :data:`SEGMENT_METHODS`)."""
    if method not in SEGMENT_METHODS:
        raise ValidationError(
            f"unknown segmentation method {method!r}; choose one of {sorted(SEGMENT_METHODS)}"
        )
    return SEGMENT_METHODS[method](data)


def segment_order(labels: pd.Series) -> list[str]:
    """Segments in display order: RFM's best-first order, else by name."""
    present = set(labels.unique())
    known = [s for s in SEGMENT_ORDER if s in present]
    return known + sorted(present - set(known))


def segment_profiles(
    data: ShopData, segments: pd.DataFrame, top: int = 3, min_customers: int = MIN_CUSTOMERS
) -> pd.DataFrame:
    """Size, revenue share, top categories, top items and strongest pairs of each segment.

    Parameters
    ----------
    segments:
        A table from :func:`compute_segments` (index: user index, column ``segment``).
    top:
        How many categories, items and pairs to name per segment.
    min_customers:
        A segment of fewer customers shows its size only (its revenue and what it
        buys would describe a few people); items, categories and pairs named for a
        segment are bought by at least this many of its customers.

    Pairs need :func:`~xsell.analytics.baskets.pair_min_count` of the segment's baskets.
    """
    floor = check_min_customers(min_customers)
    labels = segments["segment"]
    revenue = line_revenue(data)
    lines = data.lines
    line_user = lines["user"].to_numpy()
    line_segment = labels.reindex(line_user).to_numpy()
    has_money = bool(np.isfinite(revenue).any())
    total_revenue = float(np.nansum(revenue[line_user >= 0])) if has_money else np.nan
    basket_segment = labels.reindex(data.basket_user).to_numpy()
    names = data.item_names()
    categories = data.item_categories()
    rows = []
    for segment in segment_order(labels):
        mine = line_segment == segment
        size = int((labels == segment).sum())
        baskets = basket_segment == segment
        if size < floor:
            rows.append(
                {
                    "segment": segment,
                    "customers": size,
                    "customer_share": size / len(labels),
                    "orders": int(baskets.sum()),
                    "revenue": np.nan,
                    "revenue_share": np.nan,
                    "top_categories": f"(fewer than {floor} customers: not shown)",
                    "top_items": "",
                    "top_pairs": "",
                }
            )
            continue
        seg_revenue = float(np.nansum(revenue[mine])) if has_money else np.nan
        item_of_line = lines["item"].to_numpy()[mine]
        buyers = (
            pd.DataFrame({"item": item_of_line, "user": line_user[mine]})
            .groupby("item")["user"]
            .nunique()
        )
        per_item = (
            pd.Series(revenue[mine] if has_money else np.ones(int(mine.sum())))
            .groupby(item_of_line)
            .sum()
            .sort_values(ascending=False)
        )
        shown_items = per_item[buyers.reindex(per_item.index).to_numpy() >= floor]
        cat_of_line = categories[item_of_line]
        known = pd.notna(cat_of_line)
        cat_buyers = (
            pd.DataFrame({"category": cat_of_line[known], "user": line_user[mine][known]})
            .groupby("category")["user"]
            .nunique()
        )
        cats = pd.Series(per_item.to_numpy(), index=categories[per_item.index.to_numpy()])
        cats = cats[cats.index.notna()].groupby(level=0).sum().sort_values(ascending=False)
        cats = cats[cat_buyers.reindex(cats.index).fillna(0).to_numpy() >= floor]
        pairs_text = ""
        if baskets.sum() >= 2:
            pairs = top_pairs(
                data.subset_baskets(baskets),
                k=top,
                min_count=pair_min_count(int(baskets.sum())),
                min_customers=floor,
            )
            pairs_text = "; ".join(
                f"{a} + {b} (lift {lift:.1f})"
                for a, b, lift in zip(pairs["name_a"], pairs["name_b"], pairs["lift"], strict=True)
            )
        rows.append(
            {
                "segment": segment,
                "customers": size,
                "customer_share": size / len(labels),
                "orders": int(baskets.sum()),
                "revenue": seg_revenue,
                "revenue_share": seg_revenue / total_revenue if total_revenue else np.nan,
                "top_categories": ", ".join(map(str, cats.index[:top])),
                "top_items": ", ".join(map(str, names[shown_items.index[:top]])),
                "top_pairs": pairs_text,
            }
        )
    return pd.DataFrame(rows)


def save_segments(store: Store | str | Path, segments: pd.DataFrame, method: str) -> int:
    """Replace the stored labels of ``method`` with ``segments`` (one transaction); rows written."""
    store = store if isinstance(store, Store) else Store(store)
    frame = pd.DataFrame(
        {
            "user_id": segments["user_id"].astype(str).to_numpy(),
            "method": method,
            "segment": segments["segment"].astype(str).to_numpy(),
            "computed_at": pd.Timestamp(datetime.now()),
        }
    )
    with store.transaction() as con:
        con.execute(SEGMENTS_TABLE)
        con.execute("DELETE FROM segments WHERE method = ?", [method])
        con.register("new_segments", frame)
        con.execute(
            "INSERT INTO segments SELECT user_id, method, segment, computed_at FROM new_segments"
        )
        con.unregister("new_segments")
    return len(frame)


def load_segments(store: Store | str | Path, method: str = "rfm") -> pd.DataFrame:
    """The stored labels of ``method`` (``user_id``, ``segment``, ``computed_at``)."""
    store = store if isinstance(store, Store) else Store(store)
    with store.connect() as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if "segments" not in tables:
            raise Unavailable(
                f"{store.path}: no segments saved yet; run `xsell segments --method {method}`"
            )
        frame = con.execute(
            "SELECT user_id, segment, computed_at FROM segments WHERE method = ? ORDER BY user_id",
            [method],
        ).df()
    if frame.empty:
        raise Unavailable(
            f"{store.path}: no {method} segments saved yet; run `xsell segments --method {method}`"
        )
    return frame
