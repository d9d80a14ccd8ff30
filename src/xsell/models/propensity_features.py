"""What a campaign knows about each customer on a date, and whether they bought the target after.

:func:`customer_features` looks only at orders and browsing events strictly before
``as_of``: recency, frequency and monetary value (RFM), tenure, the last 90 days,
basket statistics, the share and recency of each item group (catalog categories,
else families of product names), the customer's history with the target itself and
browsing counts. :func:`labels` says who bought a target item in
``[as_of, as_of + horizon)``. :func:`rfm_score` is the campaign baseline: the sum
of the three RFM quintile scores.

A target is ``category=NAME``, ``item=ID`` or ``family=WORD`` (items whose name
holds the word, for catalogs without categories); :func:`target_items` reads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError

#: Target kinds -> what they select.
TARGET_KINDS = {
    "category": "in the catalog category NAME",
    "item": "the item ID",
    "family": "named with the word WORD (case-insensitive)",
}
#: Item groups whose shares and recencies become features (the most bought ones).
MAX_GROUPS = 12
_RECENT_DAYS = 90


@dataclass(frozen=True)
class Features:
    """Customers (indices into ``data.users``) x named features, as of one date."""

    users: np.ndarray
    values: np.ndarray
    names: list[str]
    as_of: np.datetime64
    #: Days back to the first order looked at: a "days since" above it means never.
    oldest: float = 0.0

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.values, columns=self.names)


def parse_target(spec: str) -> tuple[str, str]:
    """``kind=value`` -> ``(kind, value)``; the kinds are :data:`TARGET_KINDS`."""
    kind, sep, value = spec.partition("=")
    if not sep or kind.strip() not in TARGET_KINDS or not value.strip():
        choices = ", ".join(f"{k}=..." for k in TARGET_KINDS)
        raise ValidationError(f"--target: expected one of {choices}, got {spec!r}")
    return kind.strip(), value.strip()


def name_has_word(names: np.ndarray, word: str) -> np.ndarray:
    """Whether each name holds ``word`` as a whole word (case-insensitive)."""
    pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(word)}(?![A-Za-z0-9])", re.IGNORECASE)
    return np.array([bool(pattern.search(str(n))) for n in names], dtype=bool)


def target_items(data: ShopData, spec: str) -> np.ndarray:
    """Boolean mask over items of the target ``spec`` (see :func:`parse_target`)."""
    kind, value = parse_target(spec)
    if kind == "item":
        mask = np.zeros(data.n_items, dtype=bool)
        index = data.items.index_of(value)
        if index >= 0:
            mask[index] = True
    elif kind == "category":
        mask = np.array([c == value for c in data.item_categories()], dtype=bool)
    else:
        mask = name_has_word(data.item_names(), value)
    if not mask.any():
        what = TARGET_KINDS[kind].replace("NAME", value).replace("ID", value).replace("WORD", value)
        raise ValidationError(f"--target {spec}: no item of the store is {what}")
    return mask


def item_groups(data: ShopData, counts: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Group index of every item (-1: none) and the group names, most bought first.

    Catalog categories where the catalog has them, else families of product names:
    the most frequent words of four letters or more (an item joins the first
    family its name holds). ``counts`` are the lines of each item that may be looked
    at (those before the date).
    """
    categories = data.item_categories()
    if any(c is not None for c in categories):
        labels = pd.Series(categories, dtype=object)
    else:
        words = pd.Series(data.item_names(), dtype=object).str.upper().str.findall(r"[A-Z]{4,}")
        weighted = words.explode().dropna()
        totals = pd.Series(counts[weighted.index.to_numpy()], index=weighted.to_numpy())
        top = totals.groupby(level=0).sum().nlargest(MAX_GROUPS).index.tolist()
        labels = words.map(lambda ws: next((w for w in top if w in ws), None))
    sizes = pd.Series(counts).groupby(labels.to_numpy()).sum().nlargest(MAX_GROUPS)
    names = [str(n) for n in sizes.index]
    lookup = {n: j for j, n in enumerate(names)}
    group = np.array([lookup.get(str(g), -1) if g is not None else -1 for g in labels])
    return group.astype(np.int64), names


def _before(data: ShopData, as_of: np.datetime64) -> pd.DataFrame:
    """Lines of known customers before ``as_of``, with basket times and line revenue."""
    lines = data.lines
    time = data.basket_time[lines["basket"].to_numpy()]
    keep = (lines["user"].to_numpy() >= 0) & (time < as_of)
    out = lines.loc[keep, ["basket", "user", "item", "quantity", "price"]].copy()
    out["time"] = time[keep]
    # The price paid, else the catalog's: order exports without prices still rank spenders.
    paid = out["price"].to_numpy(np.float64)
    price = np.where(np.isfinite(paid), paid, data.item_prices()[out["item"].to_numpy()])
    quantity = out["quantity"].to_numpy(np.float64)
    revenue = np.where(np.isfinite(quantity), quantity, 1.0) * price
    out["revenue"] = np.where(np.isfinite(revenue), revenue, 0.0)
    return out


def customer_features(
    data: ShopData, as_of: str | np.datetime64 | pd.Timestamp, target: np.ndarray
) -> Features:
    """Features of every customer with an order before ``as_of`` (see the module docstring).

    Parameters
    ----------
    data:
        Order lines with customers and times; browsing events are counted where present.
    as_of:
        Nothing at or after this time is looked at.
    target:
        Boolean mask over items: the campaign's target.
    """
    at = np.datetime64(pd.Timestamp(as_of), "ns")
    lines = _before(data, at)
    if lines.empty:
        raise ValidationError(f"as of {pd.Timestamp(as_of).date()}: no customer has an order yet")
    users = np.unique(lines["user"].to_numpy())
    row = np.searchsorted(users, lines["user"].to_numpy())
    n = len(users)
    oldest = float(_days(np.array([at - lines["time"].min()], dtype="timedelta64[ns]"))[0])
    columns: dict[str, np.ndarray] = {}

    baskets = lines.groupby("basket", sort=False).agg(
        user=("user", "first"),
        time=("time", "first"),
        size=("item", "size"),
        value=("revenue", "sum"),
    )
    brow = np.searchsorted(users, baskets["user"].to_numpy())
    last = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    first = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    per_user = baskets.groupby(brow)["time"].agg(["min", "max"])
    first[per_user.index.to_numpy()] = per_user["min"].to_numpy()
    last[per_user.index.to_numpy()] = per_user["max"].to_numpy()
    orders = np.bincount(brow, minlength=n).astype(np.float64)
    columns["recency_days"] = _days(at - last)
    columns["frequency"] = orders
    columns["monetary"] = np.bincount(row, lines["revenue"].to_numpy(), minlength=n)
    columns["tenure_days"] = _days(at - first)
    recent = _days(at - baskets["time"].to_numpy()) < _RECENT_DAYS
    columns["orders_90d"] = np.bincount(brow[recent], minlength=n).astype(np.float64)
    columns["basket_lines"] = np.bincount(brow, baskets["size"].to_numpy(), minlength=n) / orders
    columns["basket_value"] = columns["monetary"] / orders
    columns["distinct_items"] = (
        lines.groupby(row)["item"].nunique().reindex(range(n), fill_value=0).to_numpy(np.float64)
    )

    is_target = target[lines["item"].to_numpy()]
    n_lines = np.bincount(row, minlength=n).astype(np.float64)
    columns["target_share"] = np.bincount(row[is_target], minlength=n) / n_lines
    times = lines["time"].to_numpy()
    columns["target_days"] = _days_since(row[is_target], times[is_target], at, n, oldest)

    counts = np.bincount(lines["item"].to_numpy(), minlength=data.n_items)
    group, names = item_groups(data, counts)
    line_group = group[lines["item"].to_numpy()]
    for j, name in enumerate(names):
        mine = line_group == j
        columns[f"share {name}"] = np.bincount(row[mine], minlength=n) / n_lines
        columns[f"days since {name}"] = _days_since(row[mine], times[mine], at, n, oldest)

    events = data.events
    if len(events):
        seen = events[(events["user"].to_numpy() >= 0) & (events["time"].to_numpy() < at)]
        found = np.isin(seen["user"].to_numpy(), users)
        seen = seen[found]
        erow = np.searchsorted(users, seen["user"].to_numpy())
        for kind in sorted(set(seen["event"].astype(str))):
            mine = (seen["event"].astype(str) == kind).to_numpy()
            columns[f"{kind} events"] = np.bincount(erow[mine], minlength=n).astype(np.float64)
        on_target = target[seen["item"].to_numpy()]
        columns["target events"] = np.bincount(erow[on_target], minlength=n).astype(np.float64)

    values = np.column_stack([np.asarray(v, dtype=np.float64) for v in columns.values()])
    return Features(users.astype(np.int64), values, list(columns), at, oldest)


def _days(delta: Any) -> np.ndarray:
    """Time differences in (fractional) days."""
    seconds = np.asarray(delta).astype("timedelta64[ns]").astype(np.float64) / 1e9
    return np.asarray(seconds / 86400.0, dtype=np.float64)


def _days_since(
    rows: np.ndarray, times: np.ndarray, at: np.datetime64, n: int, never: float
) -> np.ndarray:
    """Days since each customer's latest time in ``times`` (``never`` + 1 when none)."""
    out = np.full(n, never + 1.0)
    if len(rows):
        latest = pd.Series(times).groupby(rows).max()
        out[latest.index.to_numpy()] = _days(at - latest.to_numpy())
    return out


def labels(
    data: ShopData, users: np.ndarray, as_of: np.datetime64, horizon_days: int, target: np.ndarray
) -> np.ndarray:
    """1 where the customer bought a target item in ``[as_of, as_of + horizon)``, else 0."""
    lines = data.lines
    time = data.basket_time[lines["basket"].to_numpy()]
    end = as_of + np.timedelta64(int(horizon_days), "D")
    bought = (time >= as_of) & (time < end) & target[lines["item"].to_numpy()]
    buyers = np.unique(lines["user"].to_numpy()[bought])
    return np.isin(users, buyers).astype(np.int64)


def rfm_score(features: Features) -> np.ndarray:
    """The RFM baseline: R + F + M quintile scores (3..15; recent, frequent, big spenders high)."""
    frame = features.frame()

    def quintile(values: np.ndarray) -> np.ndarray:
        below = rankdata(values, method="min") - 1
        return 1 + np.floor(5 * below / len(values))

    return (
        quintile(-frame["recency_days"].to_numpy())
        + quintile(frame["frequency"].to_numpy())
        + quintile(frame["monetary"].to_numpy())
    )


def feature_words(features: Features, row: int, name: str) -> str:
    """One feature of one customer in words (``last order 12 days ago``)."""
    value = float(features.values[row, features.names.index(name)])
    never = value > features.oldest
    if name == "recency_days":
        return f"last order {value:.0f} days ago"
    if name == "frequency":
        return f"{value:.0f} order{'s' if value != 1 else ''}"
    if name == "monetary":
        return f"spent {value:,.0f}"
    if name == "tenure_days":
        return f"a customer for {value:.0f} days"
    if name == "orders_90d":
        return f"{value:.0f} orders in the last 90 days"
    if name == "basket_lines":
        return f"{value:.1f} lines per order"
    if name == "basket_value":
        return f"{value:,.0f} per order"
    if name == "distinct_items":
        return f"{value:.0f} different items bought"
    if name == "target_share":
        return f"{value:.0%} of their lines in the target"
    if name == "target_days":
        return "never bought the target" if never else f"bought the target {value:.0f} days ago"
    if name.startswith("share "):
        return f"{value:.0%} of their lines in {name[6:]}"
    if name.startswith("days since "):
        group = name[11:]
        return f"never bought {group}" if never else f"bought {group} {value:.0f} days ago"
    if name.endswith(" events"):
        return f"{value:.0f} {name}"
    return f"{name} = {value:.3g}"
