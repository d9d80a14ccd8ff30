"""Basket analysis: sizes, top items and pairs, category affinity, time patterns, repurchase."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import scipy.sparse as sp

from xsell.analytics.common import (
    Unavailable,
    category_codes,
    item_frame,
    line_revenue,
    need_categories,
    need_customers,
    need_times,
)
from xsell.data.groups import (
    MIN_CUSTOMERS,
    check_min_customers,
    customers_per_item,
    first_with_customers,
)
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.mining import frequent_itemsets
from xsell.mining.significance import benjamini_hochberg, fisher_p_values

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _need_baskets(data: ShopData, what: str) -> None:
    if data.n_baskets == 0:
        raise Unavailable(f"{what} needs orders, and the store holds none")


def basket_sizes(data: ShopData) -> pd.DataFrame:
    """How many baskets hold 1, 2, 3, ... distinct items (``size``, ``baskets``, ``share``)."""
    _need_baskets(data, "basket sizes")
    sizes = np.diff(data.basket_item.indptr)
    counts = np.bincount(sizes)
    frame = pd.DataFrame({"size": np.arange(len(counts)), "baskets": counts})
    frame = frame[frame["baskets"] > 0].reset_index(drop=True)
    frame["share"] = frame["baskets"] / data.n_baskets
    return frame


def top_items(data: ShopData, k: int = 20, min_customers: int = MIN_CUSTOMERS) -> pd.DataFrame:
    """The ``k`` items in most baskets, with quantity and revenue.

    Only items bought by at least ``min_customers`` distinct customers are listed
    (see :mod:`xsell.data.groups`).
    """
    _need_baskets(data, "top items")
    count = data.item_basket_count
    buyers = customers_per_item(data)
    order = np.argsort(-count, kind="stable")
    order = order[(count[order] > 0) & (buyers[order] >= check_min_customers(min_customers))][:k]
    frame = item_frame(data, order)
    frame["baskets"] = count[order]
    frame["customers"] = buyers[order]
    frame["basket_share"] = count[order] / data.n_baskets
    lines = data.lines
    quantity = lines.groupby("item")["quantity"].sum()
    revenue = pd.Series(line_revenue(data)).groupby(lines["item"].to_numpy()).sum(min_count=1)
    frame["quantity"] = quantity.reindex(order).to_numpy()
    frame["revenue"] = revenue.reindex(order).to_numpy()
    return frame


def pair_min_count(n_baskets: int) -> int:
    """Default floor of baskets a pair needs: 0.5 % of the baskets, at least 10.

    Lower floors let pairs of two rare items (seen together 5 times, lift 1,500)
    crowd out the pairs a shop can act on.
    """
    return max(10, math.ceil(0.005 * n_baskets))


def top_pairs(
    data: ShopData,
    k: int = 20,
    min_count: int | None = None,
    sort_by: str = "lift",
    min_customers: int = MIN_CUSTOMERS,
) -> pd.DataFrame:
    """The ``k`` item pairs bought together most above chance, with their significance.

    Pairs come from :func:`xsell.mining.frequent_itemsets` (``max_len=2``); lift is
    ``n(AB) * N / (n(A) n(B))``; ``p_value`` is the one-sided Fisher exact test of
    "bought together more than chance" and ``q_value`` its Benjamini-Hochberg
    adjustment over every frequent pair (the family tested).

    Parameters
    ----------
    min_count:
        Baskets a pair must appear in (default :func:`pair_min_count`).
    sort_by:
        ``"lift"`` or ``"count"``.
    min_customers:
        Pairs bought together by fewer distinct customers are left out (their
        ``customers`` column says how many did).
    """
    _need_baskets(data, "item pairs")
    floor = min_count if min_count is not None else pair_min_count(data.n_baskets)
    sets = frequent_itemsets(data.basket_item, floor, max_len=2)
    pairs = sets[sets["length"] == 2]
    columns = ["a", "b", "count", "count_a", "count_b", "lift", "p_value", "q_value", "customers"]
    if pairs.empty:
        return _named_pairs(data, pd.DataFrame(columns=columns))
    items = np.array(pairs["items"].tolist(), dtype=np.int64)
    single = data.item_basket_count
    n = data.n_baskets
    count = pairs["count"].to_numpy(np.int64)
    frame = pd.DataFrame(
        {
            "a": items[:, 0],
            "b": items[:, 1],
            "count": count,
            "count_a": single[items[:, 0]],
            "count_b": single[items[:, 1]],
        }
    )
    frame["lift"] = count * n / (frame["count_a"] * frame["count_b"]).to_numpy(np.float64)
    p = fisher_p_values(count, frame["count_a"].to_numpy(), frame["count_b"].to_numpy(), n)
    frame["p_value"] = p
    frame["q_value"] = benjamini_hochberg(p)
    frame = frame.sort_values([sort_by, "count"], ascending=False, kind="stable")
    keep, customers = first_with_customers(
        data, frame[["a", "b"]].to_numpy().tolist(), min_customers, k
    )
    frame = frame.iloc[keep].assign(customers=customers)
    return _named_pairs(data, frame.reset_index(drop=True))


def bought_with(data: ShopData, item: str) -> pd.DataFrame:
    """How every item is bought together with ``item`` (an external id), against chance.

    One row per other item (``item_id``): ``count`` baskets holding both, ``lift``
    ``n(AB) * N / (n(A) n(B))`` and ``p_value``, the one-sided Fisher exact test of
    "bought together more often than chance". ``above_chance`` is ``lift > 1``
    with ``p_value < 0.05``: what may honestly be called "goes with".
    """
    _need_baskets(data, "items bought together")
    anchor = data.items.index_of(item)
    if anchor < 0:
        raise ValidationError(f"unknown item {item!r}")
    holding = (data.basket_item > 0).astype(np.int64).tocsr()
    rows = holding[:, anchor].nonzero()[0]
    count = np.asarray(holding[rows].sum(axis=0)).ravel().astype(np.int64)
    single = data.item_basket_count.astype(np.int64)
    n = data.n_baskets
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = np.where(single > 0, count * n / (single[anchor] * single.astype(np.float64)), 0.0)
    p = fisher_p_values(count, np.full_like(single, single[anchor]), single, n)
    frame = pd.DataFrame(
        {
            "item_id": data.items.to_external(np.arange(data.n_items)),
            "count": count,
            "lift": lift,
            "p_value": p,
        }
    )
    frame["above_chance"] = (frame["lift"] > 1) & (frame["p_value"] < 0.05)
    return frame.drop(index=anchor).reset_index(drop=True)


def _named_pairs(data: ShopData, frame: pd.DataFrame) -> pd.DataFrame:
    a = item_frame(data, frame["a"].to_numpy(np.int64))
    b = item_frame(data, frame["b"].to_numpy(np.int64))
    frame = frame.copy()
    frame.insert(2, "item_a", a["item_id"].to_numpy())
    frame.insert(3, "name_a", a["name"].to_numpy())
    frame.insert(4, "item_b", b["item_id"].to_numpy())
    frame.insert(5, "name_b", b["name"].to_numpy())
    frame["confidence_ab"] = frame["count"] / frame["count_a"].where(frame["count_a"] > 0)
    frame["confidence_ba"] = frame["count"] / frame["count_b"].where(frame["count_b"] > 0)
    return frame


def basket_categories(data: ShopData) -> tuple[sp.csr_matrix, np.ndarray]:
    """Baskets x categories (1 where the basket holds an item of the category) and the names."""
    codes, names = category_codes(need_categories(data, "category analysis"))
    known = codes >= 0
    onehot = sp.csr_matrix(
        (np.ones(int(known.sum()), dtype=np.float32), (np.flatnonzero(known), codes[known])),
        shape=(data.n_items, len(names)),
    )
    matrix = sp.csr_matrix(data.basket_item @ onehot)
    matrix.data[:] = 1.0
    return matrix, names


def category_affinity(data: ShopData) -> pd.DataFrame:
    """Category x category lift: how much more often two categories share a basket than by chance.

    The diagonal is NaN (a category with itself says nothing).
    """
    _need_baskets(data, "category affinity")
    matrix, names = basket_categories(data)
    together = (matrix.T @ matrix).toarray().astype(np.float64)
    single = np.diag(together).copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = together * data.n_baskets / np.outer(single, single)
    np.fill_diagonal(lift, np.nan)
    return pd.DataFrame(lift, index=names, columns=names)


def attach_rates(data: ShopData) -> pd.DataFrame:
    """Cross-category attach rate: of the baskets holding category A, the share also holding B.

    Rows are A (the anchor), columns B; the diagonal is NaN.
    """
    _need_baskets(data, "attach rates")
    matrix, names = basket_categories(data)
    together = (matrix.T @ matrix).toarray().astype(np.float64)
    single = np.diag(together).copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = together / single[:, None]
    np.fill_diagonal(rate, np.nan)
    return pd.DataFrame(rate, index=names, columns=names)


def time_patterns(data: ShopData) -> dict[str, pd.DataFrame]:
    """Orders and revenue by hour of day, weekday and month (keys hour, weekday, month)."""
    _need_baskets(data, "time patterns")
    times = pd.DatetimeIndex(need_times(data, "time patterns"))
    revenue = (
        pd.Series(line_revenue(data)).groupby(data.lines["basket"].to_numpy()).sum(min_count=1)
    )
    basket_revenue = revenue.reindex(range(data.n_baskets)).to_numpy()
    known = ~np.asarray(times.isna())
    out: dict[str, pd.DataFrame] = {}
    for key, values, labels in (
        ("hour", times.hour, [f"{h:02d}" for h in range(24)]),
        ("weekday", times.day_of_week, list(WEEKDAYS)),
        ("month", times.month - 1, list(MONTHS)),
    ):
        slots = np.asarray(values[known], dtype=np.int64)
        orders = np.bincount(slots, minlength=len(labels))
        money = np.bincount(
            slots, weights=np.nan_to_num(basket_revenue[known]), minlength=len(labels)
        )
        out[key] = pd.DataFrame({key: labels, "orders": orders, "revenue": money})
    return out


def repurchase_intervals(
    data: ShopData, min_repeats: int = 5, k: int = 30, min_customers: int = MIN_CUSTOMERS
) -> pd.DataFrame:
    """Days until the same customer buys the same item again, per item.

    Each pair of consecutive orders of one item by one customer gives one interval
    (orders on the same day count as one). Items with fewer than ``min_repeats``
    intervals, or bought again by fewer than ``min_customers`` customers, are left
    out; the rest are sorted by how many repeats they have.

    Returns
    -------
    pandas.DataFrame
        ``item_id``, ``name``, ``category``, ``repeats`` (intervals), ``customers``
        (who bought it again), ``median_days``, ``p25_days``, ``p75_days``.
    """
    _need_baskets(data, "repurchase intervals")
    need_customers(data, "repurchase intervals")
    need_times(data, "repurchase intervals")
    lines = data.lines
    keep = (lines["user"].to_numpy() >= 0) & lines["time"].notna().to_numpy()
    days = lines["time"][keep].to_numpy().astype("datetime64[D]").astype(np.int64)
    frame = pd.DataFrame(
        {
            "user": lines["user"].to_numpy()[keep],
            "item": lines["item"].to_numpy()[keep],
            "day": days,
        }
    ).drop_duplicates()
    frame = frame.sort_values(["user", "item", "day"], kind="stable")
    same = (frame["user"].diff() == 0) & (frame["item"].diff() == 0)
    gaps = frame["day"].diff()[same]
    repeats = pd.DataFrame({"item": frame["item"][same], "user": frame["user"][same], "gap": gaps})
    if repeats.empty:
        raise Unavailable("repurchase intervals: no customer bought the same item twice")
    grouped = repeats.groupby("item")
    table = pd.DataFrame(
        {
            "repeats": grouped.size(),
            "customers": grouped["user"].nunique(),
            "median_days": grouped["gap"].median(),
            "p25_days": grouped["gap"].quantile(0.25),
            "p75_days": grouped["gap"].quantile(0.75),
        }
    )
    table = table[
        (table["repeats"] >= min_repeats)
        & (table["customers"] >= check_min_customers(min_customers))
    ]
    table = table.sort_values(["repeats", "median_days"], ascending=[False, True]).head(k)
    named = item_frame(data, table.index.to_numpy())
    return pd.concat([named, table.reset_index(drop=True)], axis=1)
