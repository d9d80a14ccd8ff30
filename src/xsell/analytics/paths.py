"""Shopping paths from browsing events: the view -> cart -> purchase funnel and item transitions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from xsell.analytics.common import Unavailable, item_frame
from xsell.data.groups import MIN_CUSTOMERS, check_min_customers
from xsell.data.shopdata import ShopData

STAGES = ("view", "cart", "purchase")


def _need_events(data: ShopData, what: str) -> pd.DataFrame:
    events = data.events
    if events.empty:
        raise Unavailable(
            f"{what} needs browsing events (views, cart adds), and the store has none"
        )
    return events


def funnel(data: ShopData) -> pd.DataFrame:
    """Distinct (customer, item) pairs viewed, carted and bought, per category and overall.

    Only signed-in customers count (a purchase must be matched to its viewer).
    ``view_to_cart`` is carted / viewed and ``cart_to_purchase`` bought / carted,
    both counted over pairs that reached the earlier stage, so rates are at most 1.

    Returns
    -------
    pandas.DataFrame
        ``category`` (``"all"`` first), ``view``, ``cart``, ``purchase``,
        ``view_to_cart``, ``cart_to_purchase``, ``view_to_purchase``.
    """
    events = _need_events(data, "the purchase funnel")
    stages = pd.concat(
        [
            events.loc[events["user"] >= 0, ["user", "item", "event"]],
            data.lines.loc[data.lines["user"] >= 0, ["user", "item"]].assign(event="purchase"),
        ],
        ignore_index=True,
    ).drop_duplicates()
    pairs = stages.assign(flag=1).pivot_table(
        index=["user", "item"], columns="event", values="flag", aggfunc="max", fill_value=0
    )
    for stage in STAGES:
        if stage not in pairs.columns:
            pairs[stage] = 0
    pairs = pairs.reset_index()
    categories = data.item_categories()[pairs["item"].to_numpy()]
    pairs["category"] = pd.Series(categories, dtype=object).fillna("(no category)").to_numpy()
    viewed = pairs["view"] == 1
    carted = viewed & (pairs["cart"] == 1)
    bought = carted & (pairs["purchase"] == 1)
    flags = pd.DataFrame(
        {
            "category": pairs["category"],
            "view": viewed.astype(int),
            "cart": carted.astype(int),
            "purchase": bought.astype(int),
            "view_purchase": (viewed & (pairs["purchase"] == 1)).astype(int),
        }
    )
    per = flags.groupby("category")[["view", "cart", "purchase", "view_purchase"]].sum()
    total = per.sum().to_frame("all").T
    table = pd.concat([total, per.sort_values("view", ascending=False)])
    table.index.name = "category"
    with np.errstate(divide="ignore", invalid="ignore"):
        table["view_to_cart"] = table["cart"] / table["view"].where(table["view"] > 0)
        table["cart_to_purchase"] = table["purchase"] / table["cart"].where(table["cart"] > 0)
        table["view_to_purchase"] = table["view_purchase"] / table["view"].where(table["view"] > 0)
    return table.drop(columns="view_purchase").reset_index()


def transitions(
    data: ShopData,
    k: int = 20,
    session_gap_minutes: float = 30.0,
    min_customers: int = MIN_CUSTOMERS,
) -> pd.DataFrame:
    """The most common moves from one item to the next within a browsing session.

    Events (views and cart adds) of one customer, in time order, form a session
    until a gap longer than ``session_gap_minutes``; each step to a different item
    is one transition. Moves made by fewer than ``min_customers`` distinct
    customers are left out.

    Returns
    -------
    pandas.DataFrame
        ``from_id``, ``from_name``, ``to_id``, ``to_name``, ``count``,
        ``share`` (of all transitions out of ``from``), ``customers``.
    """
    events = _need_events(data, "item transitions")
    events = events[(events["user"] >= 0) & events["time"].notna()]
    events = events.sort_values(["user", "time"], kind="stable")
    user = events["user"].to_numpy()
    item = events["item"].to_numpy()
    time = events["time"].to_numpy()
    gap = np.diff(time).astype("timedelta64[s]").astype(np.float64) / 60.0
    step = (user[1:] == user[:-1]) & (gap <= session_gap_minutes) & (item[1:] != item[:-1])
    moves = pd.DataFrame({"a": item[:-1][step], "b": item[1:][step], "user": user[1:][step]})
    if moves.empty:
        raise Unavailable("item transitions: no session holds two different items")
    grouped = moves.groupby(["a", "b"])
    counts = pd.DataFrame(
        {"count": grouped.size(), "customers": grouped["user"].nunique()}
    ).reset_index()
    out_of = moves["a"].value_counts()
    counts["share"] = counts["count"] / out_of.reindex(counts["a"]).to_numpy()
    counts = counts[counts["customers"] >= check_min_customers(min_customers)]
    counts = counts.sort_values(["count", "share"], ascending=False, kind="stable").head(k)
    a = item_frame(data, counts["a"].to_numpy())
    b = item_frame(data, counts["b"].to_numpy())
    return pd.DataFrame(
        {
            "from_id": a["item_id"],
            "from_name": a["name"],
            "to_id": b["item_id"],
            "to_name": b["name"],
            "count": counts["count"].to_numpy(),
            "share": counts["share"].to_numpy(),
            "customers": counts["customers"].to_numpy(),
        }
    )
